"""GRIB2 forecast runs over the sample region, consistent with the weather generator's truth.

A forecast is the generator's hourly truth on a coarse regular lat/lon grid (as NWP models publish),
evaluated over a smooth model orography, plus an error that grows with lead time: forecasts are useful
but not perfect, so that the platform can score them against the observations. Both parameters use WMO
codes, so that cfgrib and GDAL both find them by name: 2 m temperature (ecCodes ``2t``, GDAL ``TMP``) and
total precipitation accumulated from the run start (ecCodes ``tp``, GDAL ``APCP``).

ecCodes is imported inside the functions: code-location servers import this module and must stay light.
pyproj, on the contrary, is imported here on purpose: the ecCodes wheels preload their own PROJ into
the global symbol scope, and a pyproj loaded after that cannot find its database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.weather import WeatherGenerator

RUN_HOURS = (0, 6, 12, 18)
STEPS_H = tuple(range(0, 73, 3))
GRID_STEP_DEG = 0.025
MARGIN_DEG = 0.05
MODEL_OROGRAPHY_M = 200.0
RUN_DAYS = 3
BITS_PER_VALUE = 24
DECIMAL_SCALE = 2  # values are rounded to 0.01 K and 0.01 mm, so decoding is exact and tp stays monotone
T2M_ERROR_SD_K = 0.5
T2M_ERROR_GROWTH_K_PER_H = 0.04
TP_LOG_SD = 0.1  # spread of the lognormal factor on hourly precipitation, growing with lead time
TP_LOG_SD_GROWTH_PER_H = 0.012
ERROR_WAVELENGTH_DEG = 0.5
ERROR_CLIP_SD = 3.0
# ecCodes names the WMO total precipitation (0/1/8, accumulated) ``tp`` only under NCEP's local concepts
# (ECMWF's own ``tp`` is 0/1/193 in metres): the messages say NCEP, as GFS-style products do.
NCEP_CENTRE = 7


@dataclass(frozen=True)
class LatLonGrid:
    """A regular grid, rows from north to south as the messages scan it."""

    lats: np.ndarray
    lons: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.lats), len(self.lons)


def default_run_times(spec: RegionSpec) -> list[dt.datetime]:
    """The four daily runs of the record's last three days (UTC)."""
    first = spec.end - dt.timedelta(days=RUN_DAYS - 1)
    days = [first + dt.timedelta(days=offset) for offset in range(RUN_DAYS)]
    return [
        dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC) for day in days for hour in RUN_HOURS
    ]


def write_forecast_runs(spec: RegionSpec, out_dir: Path, run_times: Sequence[dt.datetime]) -> list[Path]:
    """One GRIB2 file per run, ``{out_dir}/{YYYYMMDD}/{HH}/forecast_{YYYYMMDDHH}.grib2``."""
    grid = forecast_grid(spec)
    weather = WeatherGenerator(spec)
    return [_write_run(spec, weather, grid, _as_utc(run), out_dir) for run in run_times]


def forecast_grid(spec: RegionSpec) -> LatLonGrid:
    """Grid points on multiples of the spacing that cover the region plus a margin."""
    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    west, south, east, north = to_wgs84.transform_bounds(
        spec.west, spec.south, spec.east, spec.north, densify_pts=21
    )
    rows = np.arange(
        _grid_index(north + MARGIN_DEG, np.ceil), _grid_index(south - MARGIN_DEG, np.floor) - 1, -1
    )
    cols = np.arange(_grid_index(west - MARGIN_DEG, np.floor), _grid_index(east + MARGIN_DEG, np.ceil) + 1)
    return LatLonGrid(lats=np.round(rows * GRID_STEP_DEG, 6), lons=np.round(cols * GRID_STEP_DEG, 6))


def _grid_index(degrees: float, rounding: Callable[[float], float]) -> int:
    """Position on the global grid of multiples of the spacing, rounded outwards; the inner rounding keeps
    a bound that lies on a grid line (to float noise) from gaining a row."""
    return int(rounding(round(degrees / GRID_STEP_DEG, 6)))


def forecast_path(out_dir: Path, run: dt.datetime) -> Path:
    return out_dir / f"{run:%Y%m%d}" / f"{run:%H}" / f"forecast_{run:%Y%m%d%H}.grib2"


def _as_utc(run: dt.datetime) -> dt.datetime:
    """Runs are UTC; a naive datetime is taken as UTC, and only the synoptic run hours exist."""
    run = run.replace(tzinfo=dt.UTC) if run.tzinfo is None else run.astimezone(dt.UTC)
    if run.hour not in RUN_HOURS or (run.minute, run.second, run.microsecond) != (0, 0, 0):
        raise ValueError(f"forecast runs start at {RUN_HOURS} UTC on the hour, got {run.isoformat()}")
    return run


def _write_run(
    spec: RegionSpec, weather: WeatherGenerator, grid: LatLonGrid, run: dt.datetime, out_dir: Path
) -> Path:
    temperature_k, precipitation_mm = _forecast_fields(spec, weather, grid, run)
    path = forecast_path(out_dir, run)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as sink:
        for index, step in enumerate(STEPS_H):
            sink.write(_encode(grid, run, step, _temperature_keys(step), temperature_k[index]))
            sink.write(_encode(grid, run, step, _precipitation_keys(step), precipitation_mm[index]))
    return path


def _forecast_fields(
    spec: RegionSpec, weather: WeatherGenerator, grid: LatLonGrid, run: dt.datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Temperature (K) and precipitation accumulated since the run (mm), ``(steps, lats, lons)``.

    Errors are added to the hourly truth before accumulating (a positive factor per hour), so the
    accumulation never decreases; values are rounded to what the packing stores exactly.
    """
    lon, lat = np.meshgrid(grid.lons, grid.lats)
    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(lon.ravel(), lat.ravel())
    hours = np.arange(STEPS_H[-1] + 1)
    times = np.datetime64(run.replace(tzinfo=None), "h") + hours.astype("timedelta64[h]")
    truth = weather.hourly(x, y, np.full(x.shape, MODEL_OROGRAPHY_M), times)
    rng = np.random.default_rng([spec.seed, 8, int(f"{run:%Y%m%d%H}")])
    u, v = (
        (lon.ravel() - grid.lons[0]) / ERROR_WAVELENGTH_DEG,
        (lat.ravel() - grid.lats[-1]) / ERROR_WAVELENGTH_DEG,
    )
    steps = np.asarray(STEPS_H)
    temperature_sd = T2M_ERROR_SD_K + T2M_ERROR_GROWTH_K_PER_H * steps
    temperature = truth["t2m_k"][steps] + temperature_sd[:, None] * _error_field(rng, steps, u, v)
    spread = (TP_LOG_SD + TP_LOG_SD_GROWTH_PER_H * hours[1:])[:, None]
    factor = np.exp(spread * _error_field(rng, hours[1:], u, v) - spread**2 / 2)
    hourly = np.concatenate([np.zeros((1, x.size)), truth["precipitation_mm"][1:] * factor])
    shape = (len(steps), *grid.shape)
    return (
        np.round(temperature, DECIMAL_SCALE).reshape(shape),
        np.round(np.cumsum(hourly, axis=0)[steps], DECIMAL_SCALE).reshape(shape),
    )


def _error_field(rng: np.random.Generator, leads_h: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Standardised forecast error ``(leads, points)``: a region-wide part that drifts with lead time
    (AR(1)) and a smooth travelling wave, each as wide as a weather system, clipped at 3 sd."""
    rho = 0.97 ** np.diff(leads_h, prepend=leads_h[0])
    common = np.empty(len(leads_h))
    draws = rng.standard_normal(len(leads_h))
    common[0] = draws[0]
    for index in range(1, len(leads_h)):
        common[index] = rho[index] * common[index - 1] + np.sqrt(1 - rho[index] ** 2) * draws[index]
    angle, phase = rng.uniform(0, 2 * np.pi, size=2)
    along = u * np.cos(angle) + v * np.sin(angle)
    wave = np.sqrt(2) * np.sin(2 * np.pi * along[None, :] + phase + 0.05 * leads_h[:, None])
    field = np.sqrt(0.7) * common[:, None] + np.sqrt(0.3) * wave
    return np.clip(field, -ERROR_CLIP_SD, ERROR_CLIP_SD)


def _temperature_keys(step: int) -> dict[str, Any]:
    """2 m temperature: an instantaneous value 2 m above ground (Product Definition Template 4.0)."""
    return {
        "productDefinitionTemplateNumber": 0,
        "parameterCategory": 0,
        "parameterNumber": 0,
        "typeOfFirstFixedSurface": 103,
        "scaleFactorOfFirstFixedSurface": 0,
        "scaledValueOfFirstFixedSurface": 2,
        "typeOfSecondFixedSurface": 255,
        "forecastTime": step,
    }


def _precipitation_keys(step: int) -> dict[str, Any]:
    """Total precipitation accumulated from the run start to the step (Product Definition Template 4.8)."""
    return {
        "productDefinitionTemplateNumber": 8,
        "parameterCategory": 1,
        "parameterNumber": 8,
        "typeOfFirstFixedSurface": 1,
        "typeOfSecondFixedSurface": 255,
        "typeOfStatisticalProcessing": 1,
        "stepRange": f"0-{step}",
    }


def _encode(
    grid: LatLonGrid, run: dt.datetime, step: int, product: dict[str, Any], values: np.ndarray
) -> bytes:
    import eccodes

    handle = eccodes.codes_grib_new_from_samples("GRIB2")
    try:
        for key, value in _message_keys(grid, run, product):
            eccodes.codes_set(handle, key, value)
        eccodes.codes_set_values(handle, values.ravel())
        return bytes(eccodes.codes_get_message(handle))
    finally:
        eccodes.codes_release(handle)


def _message_keys(grid: LatLonGrid, run: dt.datetime, product: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Keys in the order ecCodes needs them: the template number before the keys it brings in, the
    packing before the values."""
    yield from {
        "centre": NCEP_CENTRE,
        "discipline": 0,
        "dataDate": int(f"{run:%Y%m%d}"),
        "dataTime": int(f"{run:%H%M}"),
        "significanceOfReferenceTime": 1,
        "typeOfProcessedData": 1,
        "typeOfGeneratingProcess": 2,
        "shapeOfTheEarth": 6,
        "Ni": len(grid.lons),
        "Nj": len(grid.lats),
        "latitudeOfFirstGridPointInDegrees": float(grid.lats[0]),
        "longitudeOfFirstGridPointInDegrees": float(grid.lons[0]),
        "latitudeOfLastGridPointInDegrees": float(grid.lats[-1]),
        "longitudeOfLastGridPointInDegrees": float(grid.lons[-1]),
        "iDirectionIncrementInDegrees": GRID_STEP_DEG,
        "jDirectionIncrementInDegrees": GRID_STEP_DEG,
        "iScansNegatively": 0,
        "jScansPositively": 0,
        "stepUnits": 1,
    }.items()
    yield from product.items()
    yield from {
        "packingType": "grid_simple",
        "bitsPerValue": BITS_PER_VALUE,
        "decimalScaleFactor": DECIMAL_SCALE,
    }.items()
