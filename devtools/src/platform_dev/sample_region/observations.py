"""Turn clean daily series into what a station network really delivers, remembering every artefact.

Measurement noise and rounding, gaps (whole days missing), spikes, flatlines (a stuck sensor repeating
its last value), slow drift, negative discharge from a rating glitch. Each planted artefact is recorded
so tests can score the polishing against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOISE = {
    "air_temperature_c": 0.2,
    "relative_humidity_pct": 1.5,
    "air_pressure_hpa": 0.3,
    "water_level_cm": 1.0,
}
SPIKE_SIZE = {
    "air_temperature_c": (12.0, 20.0),
    "relative_humidity_pct": (35.0, 50.0),
    "air_pressure_hpa": (25.0, 40.0),
    "precipitation_mm": (90.0, 200.0),
    "water_level_cm": (150.0, 300.0),
    "discharge_m3s": (4.0, 8.0),
}
DECIMALS = {
    "air_temperature_c": 1,
    "relative_humidity_pct": 0,
    "air_pressure_hpa": 1,
    "precipitation_mm": 1,
    "water_level_cm": 0,
    "discharge_m3s": 3,
}
SPIKE_FRACTION = 0.004


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
    return ObservedSeries(np.round(values, DECIMALS[variable]), artefacts)


def gap_days(days: int, rng: np.random.Generator, runs: int = 8) -> np.ndarray:
    """Days on which a station delivered nothing: runs of 1-20 days."""
    missing = np.zeros(days, dtype=bool)
    for start in rng.integers(30, days - 30, size=runs):
        missing[start : start + int(rng.integers(1, 21))] = True
    return missing


def _noisy(clean: np.ndarray, variable: str, rng: np.random.Generator) -> np.ndarray:
    if variable in ("precipitation_mm", "discharge_m3s"):
        factor = 0.05 if variable == "precipitation_mm" else 0.03
        return np.clip(clean * (1.0 + rng.normal(0.0, factor, size=clean.shape)), 0.0, None)
    noisy = clean + rng.normal(0.0, NOISE[variable], size=clean.shape)
    return np.clip(noisy, 0.0, 100.0) if variable == "relative_humidity_pct" else noisy


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
    """A sensor drifting by up to 2.5 units over 240 days, then recalibrated."""
    start = int(rng.integers(100, len(values) - 300))
    ramp = np.linspace(0.0, 2.5, 240)
    values[start : start + 240] += ramp
    return [Artefact(start + offset, "drift") for offset in range(240) if ramp[offset] > 0.5]


def _negative_glitches(values: np.ndarray, rng: np.random.Generator, taken: set[int]) -> list[Artefact]:
    days = [day for day in rng.permutation(np.arange(5, len(values) - 5)) if day not in taken][:3]
    for day in days:
        values[day] = -rng.uniform(0.1, 1.0)
    return [Artefact(int(day), "negative") for day in days]
