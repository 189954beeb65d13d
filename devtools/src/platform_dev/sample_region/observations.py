"""Turn clean daily series into what a station network really delivers, remembering every artefact.

Measurement noise and rounding, gaps (whole days missing), spikes, flatlines (a stuck sensor repeating
its last value), slow drift, negative discharge from a rating glitch. Each planted artefact is recorded
so tests can score the polishing against the truth, and so are the natural plateaus a polisher must
leave alone: discharge carries a slowly varying rating-curve error rather than day-to-day jitter, so at
the provider's resolution (three decimals) a low-flow recession reports the same value for days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE = {
    "air_temperature_c": 0.2,
    "air_temperature_max_c": 0.2,
    "air_temperature_min_c": 0.2,
    "relative_humidity_pct": 1.5,
    "air_pressure_hpa": 0.3,
    "water_level_cm": 1.0,
}
SPIKE_SIZE = {
    "air_temperature_c": (12.0, 20.0),
    "air_temperature_max_c": (12.0, 20.0),
    "air_temperature_min_c": (12.0, 20.0),
    "relative_humidity_pct": (35.0, 50.0),
    "air_pressure_hpa": (25.0, 40.0),
    "precipitation_mm": (90.0, 200.0),
    "water_level_cm": (150.0, 300.0),
    "discharge_m3s": (4.0, 8.0),
}
DECIMALS = {
    "air_temperature_c": 1,
    "air_temperature_max_c": 1,
    "air_temperature_min_c": 1,
    "relative_humidity_pct": 0,
    "air_pressure_hpa": 1,
    "precipitation_mm": 1,
    "water_level_cm": 0,
    "discharge_m3s": 3,
}
SPIKE_FRACTION = 0.004
DRIFT_C_PER_YEAR = 1.0
DRIFT_DAYS = 365
DRIFT_VISIBLE_C = 0.5
"""A drift counts as planted once it exceeds this (2.5 times the temperature noise): below, it is noise."""
RATING_ERROR = 0.03
RATING_PERSISTENCE = 0.98
PLATEAU_DAYS = 5
"""A natural run of this many identical discharge values (the polisher's flatline length) is recorded."""


@dataclass(frozen=True)
class Artefact:
    """One planted artefact at a day of a station's variable."""

    day: int
    kind: str


@dataclass(frozen=True)
class ObservedSeries:
    """Observed values (NaN where the day is missing) and the artefacts planted in them."""

    values: np.ndarray
    artefacts: list[Artefact]


def observe(
    clean: np.ndarray, variable: str, rng: np.random.Generator, drifting: bool = False
) -> ObservedSeries:
    """Noise, spikes, flatlines, drift and glitches on one clean daily series (gaps are per station)."""
    values = _noisy(clean, variable, rng)
    artefacts: list[Artefact] = []
    if drifting:
        artefacts += _drift(values, rng)
    if variable != "precipitation_mm":
        artefacts += _flatlines(values, rng)
    artefacts += _spikes(values, variable, rng, taken={a.day for a in artefacts})
    if variable == "discharge_m3s":
        artefacts += _negative_glitches(values, rng, taken={a.day for a in artefacts})
    reported = np.round(values, DECIMALS[variable])
    if variable == "discharge_m3s":
        artefacts += _plateaus(reported, taken={a.day for a in artefacts})
    return ObservedSeries(reported, artefacts)


def gap_days(days: int, rng: np.random.Generator, runs: int = 8) -> np.ndarray:
    """Days on which a station delivered nothing: runs of 1-20 days."""
    missing = np.zeros(days, dtype=bool)
    for start in rng.integers(30, days - 30, size=runs):
        missing[start : start + int(rng.integers(1, 21))] = True
    return missing


def _noisy(clean: np.ndarray, variable: str, rng: np.random.Generator) -> np.ndarray:
    if variable == "precipitation_mm":
        return np.clip(clean * (1.0 + rng.normal(0.0, 0.05, size=clean.shape)), 0.0, None)
    if variable == "discharge_m3s":
        return clean * (1.0 + _rating_error(len(clean), rng))
    noisy = clean + rng.normal(0.0, NOISE[variable], size=clean.shape)
    return np.clip(noisy, 0.0, 100.0) if variable == "relative_humidity_pct" else noisy


def _rating_error(days: int, rng: np.random.Generator) -> np.ndarray:
    """Relative discharge error of a rating curve between gaugings: about 3 %, changing over weeks
    (AR(1)), not from one day to the next, so a steady river reports a steady value."""
    innovations = rng.normal(0.0, RATING_ERROR * np.sqrt(1 - RATING_PERSISTENCE**2), size=days)
    error = np.zeros(days)
    error[0] = rng.normal(0.0, RATING_ERROR)
    for day in range(1, days):
        error[day] = RATING_PERSISTENCE * error[day - 1] + innovations[day]
    return error


def _spikes(values: np.ndarray, variable: str, rng: np.random.Generator, taken: set[int]) -> list[Artefact]:
    count = max(3, int(SPIKE_FRACTION * len(values)))
    low, high = SPIKE_SIZE[variable]
    candidates = [
        day for day in rng.permutation(np.arange(2, len(values) - 2)) if not taken & {day - 1, day, day + 1}
    ]
    artefacts = []
    for day in candidates[:count]:
        size = rng.uniform(low, high)
        if variable == "discharge_m3s":
            values[day] = values[day] * size + 1.0
        elif variable == "precipitation_mm":
            values[day] = size
        elif variable == "relative_humidity_pct":
            values[day] = max(0.0, values[day] - size)
        else:
            values[day] += size * rng.choice([-1.0, 1.0])
        artefacts.append(Artefact(int(day), "spike"))
    return artefacts


def _flatlines(values: np.ndarray, rng: np.random.Generator) -> list[Artefact]:
    artefacts = []
    for start in rng.integers(60, len(values) - 60, size=2):
        length = int(rng.integers(6, 13))
        values[start + 1 : start + length] = values[start]
        artefacts += [Artefact(int(day), "flatline") for day in range(start + 1, start + length)]
    return artefacts


def _drift(values: np.ndarray, rng: np.random.Generator) -> list[Artefact]:
    """A sensor drifting linearly by 1 °C a year for a year, then recalibrated; recorded from the day
    the drift exceeds the noise."""
    start = int(rng.integers(100, len(values) - DRIFT_DAYS - 100))
    ramp = DRIFT_C_PER_YEAR * np.arange(DRIFT_DAYS) / 365.25
    values[start : start + DRIFT_DAYS] += ramp
    return [Artefact(start + int(offset), "drift") for offset in np.flatnonzero(ramp > DRIFT_VISIBLE_C)]


def _negative_glitches(values: np.ndarray, rng: np.random.Generator, taken: set[int]) -> list[Artefact]:
    days = [day for day in rng.permutation(np.arange(5, len(values) - 5)) if day not in taken][:3]
    for day in days:
        values[day] = -rng.uniform(0.1, 1.0)
    return [Artefact(int(day), "negative") for day in days]


def _plateaus(reported: np.ndarray, taken: set[int]) -> list[Artefact]:
    """Natural runs of at least ``PLATEAU_DAYS`` identical reported values (members after the first)
    away from planted artefacts: a low-flow recession slower than the reporting resolution."""
    starts = np.flatnonzero(np.r_[True, reported[1:] != reported[:-1]])
    ends = np.r_[starts[1:], len(reported)]
    return [
        Artefact(int(day), "plateau")
        for start, end in zip(starts, ends, strict=True)
        if end - start >= PLATEAU_DAYS and not taken & set(range(start - 1, end + 1))
        for day in range(start + 1, end)
    ]
