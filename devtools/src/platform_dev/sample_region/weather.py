"""A deterministic stochastic weather generator for the sample region.

Daily region-wide drivers (a wet/dry Markov chain with gamma amounts, AR(1) anomalies of temperature and
pressure around a seasonal cycle, a diurnal temperature range) are modulated in space by smooth fields
and elevation, so any point can be evaluated on its own and always gets the same value: stations,
catchment averages, GRIB grids and the truth manifest all see one consistent climate.

The daily minimum and maximum temperature lie half the day's diurnal range below and above the daily
mean, so they share its lapse with elevation and ``min <= mean <= max`` holds at every point. The range
comes from its own random stream: adding it left every earlier variable's values unchanged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from platform_dev.sample_region.spec import RegionSpec

VARIABLES = (
    "precipitation_mm",
    "air_temperature_c",
    "relative_humidity_pct",
    "air_pressure_hpa",
    "air_temperature_max_c",
    "air_temperature_min_c",
)
LAPSE_RATE_C_PER_M = -0.0065
SEA_LEVEL_PRESSURE_HPA = 1013.25
CLEAR_SKY_RANGE_C = (5.5, 12.0)
"""Diurnal temperature range of a dry day in mid-winter and mid-summer, as in central Poland."""
WET_DAY_RANGE_FACTOR = 0.6
"""Clouds on a wet day damp both the day's warming and the night's cooling."""
DIURNAL_RANGE_LIMITS_C = (2.0, 16.0)
"""An overcast day still warms a little; even a dry summer day in the lowlands rarely spans more."""


@dataclass(frozen=True)
class DailyDrivers:
    """Region-wide daily series (one value per day) that the spatial fields modulate."""

    wet: np.ndarray
    precipitation_mm: np.ndarray
    temperature_anomaly_c: np.ndarray
    pressure_anomaly_hpa: np.ndarray
    pattern_phase: np.ndarray
    diurnal_range_c: np.ndarray


class WeatherGenerator:
    """Daily weather at any point of the region, and hourly values for forecast grids."""

    def __init__(self, spec: RegionSpec) -> None:
        self.spec = spec

    @cached_property
    def dates(self) -> np.ndarray:
        """Days of the record as ``datetime64[D]``."""
        start = np.datetime64(self.spec.start, "D")
        return start + np.arange(self.spec.days)

    @cached_property
    def drivers(self) -> DailyDrivers:
        rng = np.random.default_rng([self.spec.seed, 1])
        day_of_year = (self.dates - self.dates.astype("datetime64[Y]")).astype(int)
        season = np.cos(2 * np.pi * (day_of_year - 196) / 365.25)  # 1 in mid-July
        wet = _markov_wet_days(
            rng, p_wet_after_dry=0.28 + 0.06 * season, p_wet_after_wet=0.62 + 0.05 * season
        )
        amounts = rng.gamma(shape=0.75, scale=5.0 + 2.5 * season)
        return DailyDrivers(
            wet=wet,
            precipitation_mm=np.where(wet, amounts, 0.0),
            temperature_anomaly_c=_ar1(rng, len(wet), phi=0.75, sigma=2.2),
            pressure_anomaly_hpa=_ar1(rng, len(wet), phi=0.8, sigma=4.0) - 4.0 * wet,
            pattern_phase=rng.uniform(0, 2 * np.pi, size=(len(wet), 2)),
            diurnal_range_c=_diurnal_range_c(np.random.default_rng([self.spec.seed, 4]), wet, season),
        )

    def seasonal_temperature_c(self) -> np.ndarray:
        """Climatological temperature at 200 m for each day: 8 C mean, +-10 C over the year."""
        day_of_year = (self.dates - self.dates.astype("datetime64[Y]")).astype(int)
        return 8.0 + 10.0 * np.cos(2 * np.pi * (day_of_year - 196) / 365.25)

    def precipitation_factor(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Static spatial multiplier of precipitation (wetter to the south-west): shape (points,)."""
        u, v = self._unit(x, y)
        return 1.0 + 0.12 * np.cos(np.pi * u) * np.cos(0.7 * np.pi * v) - 0.08 * (u - 0.5)

    def daily(self, x: np.ndarray, y: np.ndarray, elevation_m: np.ndarray) -> dict[str, np.ndarray]:
        """True daily values at points: ``{variable: array (days, points)}``."""
        x, y, elevation_m = (np.atleast_1d(np.asarray(a, dtype=float)) for a in (x, y, elevation_m))
        drivers = self.drivers
        u, v = self._unit(x, y)
        phase = drivers.pattern_phase
        moving = 1.0 + 0.2 * np.sin(2 * np.pi * u[None, :] + phase[:, :1]) * np.cos(
            2 * np.pi * v[None, :] + phase[:, 1:]
        )
        precipitation = drivers.precipitation_mm[:, None] * moving * self.precipitation_factor(x, y)[None, :]
        temperature = (
            self.seasonal_temperature_c()[:, None]
            + drivers.temperature_anomaly_c[:, None]
            + LAPSE_RATE_C_PER_M * (elevation_m[None, :] - 200.0)
            - 1.5 * drivers.wet[:, None]
        )
        humidity = np.clip(
            78.0
            - 1.2 * drivers.temperature_anomaly_c[:, None]
            + 12.0 * drivers.wet[:, None]
            - 0.4 * (temperature - 8.0),
            25.0,
            100.0,
        )
        pressure = (SEA_LEVEL_PRESSURE_HPA + drivers.pressure_anomaly_hpa[:, None]) * np.exp(
            -elevation_m[None, :] / 8434.0
        )
        half_range = 0.5 * drivers.diurnal_range_c[:, None]
        return {
            "precipitation_mm": precipitation,
            "air_temperature_c": temperature,
            "relative_humidity_pct": humidity,
            "air_pressure_hpa": pressure,
            "air_temperature_max_c": temperature + half_range,
            "air_temperature_min_c": temperature - half_range,
        }

    def hourly(
        self, x: np.ndarray, y: np.ndarray, elevation_m: np.ndarray, times: np.ndarray
    ) -> dict[str, np.ndarray]:
        """True hourly 2 m temperature (K) and precipitation (mm in the hour ending at each time).

        The diurnal cycle peaks at 14 UTC with a fixed 4 °C amplitude (not half of the daily range that
        :meth:`daily`'s extremes use: the forecast files predate the extremes and stay as they were); a
        day's precipitation falls in a deterministic storm window, so that hourly amounts sum to the
        daily total.
        """
        days = times.astype("datetime64[D]")
        index = ((days - self.dates[0]).astype(int)).clip(0, self.spec.days - 1)
        daily = self.daily(x, y, elevation_m)
        hour = (times - days).astype("timedelta64[h]").astype(int)
        diurnal = 4.0 * np.cos(2 * np.pi * (hour - 14) / 24.0)
        temperature_k = daily["air_temperature_c"][index] + diurnal[:, None] + 273.15
        storm_start = (np.asarray(self.drivers.pattern_phase[index, 0]) / (2 * np.pi) * 18).astype(int)
        in_storm = (hour >= storm_start) & (hour < storm_start + 6)
        precipitation = daily["precipitation_mm"][index] * (in_storm / 6.0)[:, None]
        return {"t2m_k": temperature_k, "precipitation_mm": precipitation}

    def _unit(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates scaled to 0..1 over a 40 km window, so small and bench share the same climate."""
        return (np.asarray(x) - self.spec.west) / 40_000.0, (np.asarray(y) - self.spec.south) / 40_000.0


def date_index(spec: RegionSpec, day: dt.date) -> int:
    """Position of a day in the record."""
    return (day - spec.start).days


def _markov_wet_days(
    rng: np.random.Generator, p_wet_after_dry: np.ndarray, p_wet_after_wet: np.ndarray
) -> np.ndarray:
    draws = rng.uniform(size=len(p_wet_after_dry))
    wet = np.zeros(len(draws), dtype=bool)
    for day in range(1, len(draws)):
        probability = p_wet_after_wet[day] if wet[day - 1] else p_wet_after_dry[day]
        wet[day] = draws[day] < probability
    return wet


def _diurnal_range_c(rng: np.random.Generator, wet: np.ndarray, season: np.ndarray) -> np.ndarray:
    """Daily maximum minus minimum (°C): wide on dry summer days, narrow on wet or winter days, with a
    persistent cloudiness anomaly (AR(1) in the logarithm) so neighbouring days resemble each other."""
    winter, summer = CLEAR_SKY_RANGE_C
    clear_sky = 0.5 * (summer + winter) + 0.5 * (summer - winter) * season
    cloudiness = np.exp(_ar1(rng, len(wet), phi=0.5, sigma=0.15))
    return np.clip(clear_sky * np.where(wet, WET_DAY_RANGE_FACTOR, 1.0) * cloudiness, *DIURNAL_RANGE_LIMITS_C)


def _ar1(rng: np.random.Generator, length: int, phi: float, sigma: float) -> np.ndarray:
    noise = rng.normal(0.0, sigma * np.sqrt(1 - phi**2), size=length)
    series = np.zeros(length)
    for day in range(1, length):
        series[day] = phi * series[day - 1] + noise[day]
    return series
