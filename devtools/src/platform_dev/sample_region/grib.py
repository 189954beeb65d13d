"""GRIB2 forecast runs over the sample region, consistent with the weather generator's truth.

A forecast is the generator's hourly truth on a coarse regular lat/lon grid (as NWP models publish),
evaluated over a smooth model orography, plus an error that grows with lead time: forecasts are useful
but not perfect, so that the platform can score them against the observations. Both parameters use WMO
codes, so that cfgrib and GDAL both find them by name: 2 m temperature (ecCodes ``2t``, GDAL ``TMP``) and
total precipitation accumulated from the run start (ecCodes ``tp``, GDAL ``APCP``).

The source (:func:`write_forecasts`) holds the four daily runs of the record's last :data:`RUN_DAYS`
days, so forecasts can be verified against observed discharge, and publishes three of them broken, as
a provider does now and then (:class:`PlantedFaults`, recorded in the truth manifest):

- a truncated file: a transfer that stopped inside a message;
- a run missing one lead time: both parameters of one step absent;
- a late run: a run is published :data:`PUBLICATION_DELAY_H` hours after it starts, this one
  :data:`LATE_DELAY_H` hours after, past the next run's publication. Its file is in the folder like the
  others (a source folder only ever shows the present); the manifest gives when it appeared, so a test
  hides it from the source until then. Every file's modification time is its publication time, so a
  listing of the folder tells the same story.

What the source published for a run, before any fault, is :func:`forecast_truth`: the reference the
platform's decoded and de-accumulated fields are scored against.

ecCodes is imported inside the functions: code-location servers import this module and must stay light.
pyproj, on the contrary, is imported here on purpose: the ecCodes wheels preload their own PROJ into
the global symbol scope, and a pyproj loaded after that cannot find its database.
"""

from __future__ import annotations

import datetime as dt
import os
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
RUN_DAYS = 60
"""Two months of runs: enough forecasts per lead day to score them against observed discharge."""
CLEAN_DAYS = 3
"""The record's last days carry no fault: the newest cycles (the demo's) are valid runs, and their files
are the ones the source published before it planted faults."""
PUBLICATION_DELAY_H = 4
"""Hours from a run's start to its file's publication, as for a global model (GFS: 3.5 to 5 h)."""
LATE_DELAY_H = 13
"""The late run appears after the next run (6 + 4 h) and before the one after it (12 + 4 h)."""
FOLDER = "forecasts"
BITS_PER_VALUE = 24
DECIMAL_SCALE = 2
"""Values are rounded to 0.01 K and 0.01 mm. Packed in 24 bits they decode to within 1e-5 of that, so an
accumulation that did not grow may decode a few 1e-9 mm lower at the next step: packing noise, not a
negative amount."""
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


@dataclass(frozen=True)
class PlantedFaults:
    """The runs the source publishes broken (see the module docstring)."""

    truncated_run: dt.datetime
    complete_messages: int
    """Messages the truncated file keeps whole; it stops halfway through the next one."""
    gap_run: dt.datetime
    missing_step_h: int
    late_run: dt.datetime

    def published_at(self, run: dt.datetime) -> dt.datetime:
        delay = LATE_DELAY_H if run == self.late_run else PUBLICATION_DELAY_H
        return run + dt.timedelta(hours=delay)


@dataclass(frozen=True)
class ForecastTruth:
    """What the source published for a run before any fault, on the forecast grid: ``(steps, rows,
    cols)`` arrays of the values the messages pack (they decode to within 1e-5, see
    :data:`DECIMAL_SCALE`)."""

    grid: LatLonGrid
    valid_times: np.ndarray
    """Each step's valid time, ``datetime64[h]`` (UTC)."""
    temperature_k: np.ndarray
    precipitation_mm: np.ndarray
    """The amount that fell since the previous step (zero at step 0): the de-accumulated field."""


def default_run_times(spec: RegionSpec, days: int = RUN_DAYS) -> list[dt.datetime]:
    """The four daily runs of the record's last ``days`` days (UTC)."""
    if days < 1:
        raise ValueError(f"forecast runs need at least one day, got {days}")
    first = spec.end - dt.timedelta(days=days - 1)
    dates = [first + dt.timedelta(days=offset) for offset in range(days)]
    return [
        dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC) for day in dates for hour in RUN_HOURS
    ]


def write_forecasts(spec: RegionSpec, out: Path, days: int = RUN_DAYS) -> dict[str, Any]:
    """The provider's folder ``{out}/forecasts``: the runs of the record's last ``days`` days, the planted
    faults among them. Returns the manifest entry, paths relative to ``out``."""
    runs = default_run_times(spec, days)
    faults = plant_faults(spec, runs)
    paths = write_forecast_runs(spec, out / FOLDER, runs, faults)
    for run, path in zip(runs, paths, strict=True):
        published = faults.published_at(run).timestamp()
        os.utime(path, (published, published))

    def entry(run: dt.datetime, **details: Any) -> dict[str, Any]:
        return {"run": run.isoformat(), "file": forecast_path(Path(FOLDER), run).as_posix(), **details}

    truncated = forecast_path(out / FOLDER, faults.truncated_run)
    return {
        "files": [path.relative_to(out).as_posix() for path in paths],
        "run_hours": list(RUN_HOURS),
        "steps_h": list(STEPS_H),
        "publication_delay_h": PUBLICATION_DELAY_H,
        "truncated_runs": [
            entry(
                faults.truncated_run,
                complete_messages=faults.complete_messages,
                size_bytes=truncated.stat().st_size,
            )
        ],
        "missing_steps": [entry(faults.gap_run, step_h=faults.missing_step_h)],
        "late_runs": [
            entry(
                faults.late_run,
                due_at=(faults.late_run + dt.timedelta(hours=PUBLICATION_DELAY_H)).isoformat(),
                published_at=faults.published_at(faults.late_run).isoformat(),
            )
        ],
        "truth": f"{__name__}.{forecast_truth.__name__}",
    }


def plant_faults(spec: RegionSpec, run_times: Sequence[dt.datetime]) -> PlantedFaults:
    """Three distinct runs before the record's last :data:`CLEAN_DAYS` days, drawn from a stream of
    their own so that no other draw of the region moves."""
    last_faulty_day = spec.end - dt.timedelta(days=CLEAN_DAYS)
    candidates = sorted({run for run in map(_as_utc, run_times) if run.date() <= last_faulty_day})
    if len(candidates) < 3:
        raise ValueError(
            f"three faulty forecast runs need three runs on or before {last_faulty_day}, "
            f"got {len(candidates)}: ask for more than {CLEAN_DAYS} days of runs"
        )
    rng = np.random.default_rng([spec.seed, 9])
    truncated, gap, late = (candidates[int(i)] for i in rng.choice(len(candidates), size=3, replace=False))
    return PlantedFaults(
        truncated_run=truncated,
        complete_messages=int(rng.integers(1, 2 * len(STEPS_H))),
        gap_run=gap,
        missing_step_h=int(rng.choice(STEPS_H[1:-1])),
        late_run=late,
    )


def write_forecast_runs(
    spec: RegionSpec, out_dir: Path, run_times: Sequence[dt.datetime], faults: PlantedFaults | None = None
) -> list[Path]:
    """One GRIB2 file per run, ``{out_dir}/{YYYYMMDD}/{HH}/forecast_{YYYYMMDDHH}.grib2``: broken where
    ``faults`` says so, every run whole without them."""
    runs = [_as_utc(run) for run in run_times]
    if not runs:
        return []
    truth = _GridTruth(spec, forecast_grid(spec), runs)
    with _Encoder(truth.grid) as encoder:
        return [_write_run(spec, truth, encoder, run, forecast_path(out_dir, run), faults) for run in runs]


def forecast_truth(spec: RegionSpec, run: dt.datetime) -> ForecastTruth:
    """The fields a run holds before any fault, with precipitation per step: what the platform's decoded,
    de-accumulated and reprojected fields must match to within interpolation error."""
    run = _as_utc(run)
    truth = _GridTruth(spec, forecast_grid(spec), [run])
    temperature_k, accumulated_mm = _forecast_fields(spec, truth, run)
    return ForecastTruth(
        grid=truth.grid,
        valid_times=_hours(run)[list(STEPS_H)],
        temperature_k=temperature_k,
        precipitation_mm=np.diff(accumulated_mm, axis=0, prepend=0.0),
    )


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


def _hours(run: dt.datetime) -> np.ndarray:
    """Every hour of a run's horizon, ``datetime64[h]`` from the run's start."""
    return np.datetime64(run.replace(tzinfo=None), "h") + np.arange(STEPS_H[-1] + 1).astype("timedelta64[h]")


class _GridTruth:
    """The generator's hourly truth at the grid points for every hour the runs cover, in one evaluation:
    the generator computes its whole record on each call, so one call per run would cost more than
    encoding the run."""

    def __init__(self, spec: RegionSpec, grid: LatLonGrid, runs: Sequence[dt.datetime]) -> None:
        lon, lat = np.meshgrid(grid.lons, grid.lats)
        self.grid, self.lon, self.lat = grid, lon.ravel(), lat.ravel()
        x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(self.lon, self.lat)
        self.times = np.unique(np.concatenate([_hours(run) for run in runs]))
        self.values = WeatherGenerator(spec).hourly(x, y, np.full(x.shape, MODEL_OROGRAPHY_M), self.times)

    def window(self, run: dt.datetime) -> dict[str, np.ndarray]:
        """Each variable over the run's horizon, ``(hours, points)``."""
        index = np.searchsorted(self.times, _hours(run))
        return {name: values[index] for name, values in self.values.items()}


def _write_run(
    spec: RegionSpec,
    truth: _GridTruth,
    encoder: _Encoder,
    run: dt.datetime,
    path: Path,
    faults: PlantedFaults | None,
) -> Path:
    temperature_k, precipitation_mm = _forecast_fields(spec, truth, run)
    messages = [
        (step, encoder.encode(run, step, name, values[index]))
        for index, step in enumerate(STEPS_H)
        for name, values in (("2t", temperature_k), ("tp", precipitation_mm))
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_published(run, messages, faults))
    return path


def _published(run: dt.datetime, messages: list[tuple[int, bytes]], faults: PlantedFaults | None) -> bytes:
    """The file's bytes: the messages in order, less what a planted fault takes away."""
    if faults is not None and run == faults.gap_run:
        messages = [(step, message) for step, message in messages if step != faults.missing_step_h]
    if faults is not None and run == faults.truncated_run:
        whole, (_, cut) = messages[: faults.complete_messages], messages[faults.complete_messages]
        return b"".join(message for _, message in whole) + cut[: len(cut) // 2]
    return b"".join(message for _, message in messages)


def _forecast_fields(spec: RegionSpec, truth: _GridTruth, run: dt.datetime) -> tuple[np.ndarray, np.ndarray]:
    """Temperature (K) and precipitation accumulated since the run (mm), ``(steps, lats, lons)``.

    Errors are added to the hourly truth before accumulating (a positive factor per hour), so the
    accumulation never decreases; values are rounded to what the packing stores exactly.
    """
    grid, window = truth.grid, truth.window(run)
    hours = np.arange(STEPS_H[-1] + 1)
    rng = np.random.default_rng([spec.seed, 8, int(f"{run:%Y%m%d%H}")])
    u, v = (
        (truth.lon - grid.lons[0]) / ERROR_WAVELENGTH_DEG,
        (truth.lat - grid.lats[-1]) / ERROR_WAVELENGTH_DEG,
    )
    steps = np.asarray(STEPS_H)
    temperature_sd = T2M_ERROR_SD_K + T2M_ERROR_GROWTH_K_PER_H * steps
    temperature = window["t2m_k"][steps] + temperature_sd[:, None] * _error_field(rng, steps, u, v)
    spread = (TP_LOG_SD + TP_LOG_SD_GROWTH_PER_H * hours[1:])[:, None]
    factor = np.exp(spread * _error_field(rng, hours[1:], u, v) - spread**2 / 2)
    hourly = np.concatenate([np.zeros((1, u.size)), window["precipitation_mm"][1:] * factor])
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


PRODUCTS: dict[str, Callable[[int], dict[str, Any]]] = {"2t": _temperature_keys, "tp": _precipitation_keys}


class _Encoder:
    """GRIB2 messages from one prepared message per parameter and step, reused from run to run: setting a
    message's grid and product keys costs several times what encoding its values does, and between runs
    only the run's date and time change.

    ecCodes packs a constant field with no bits on the decimal scale, a varying one with all its bits,
    and a reused message keeps the packing it last chose; so constant and varying fields each reuse
    their own copy, and every field is packed as a fresh message would pack it.
    """

    def __init__(self, grid: LatLonGrid) -> None:
        self.grid = grid
        self._prepared: dict[tuple[str, int], Any] = {}
        self._in_use: dict[tuple[str, int, bool], Any] = {}

    def __enter__(self) -> _Encoder:
        return self

    def __exit__(self, *_: object) -> None:
        import eccodes

        for handle in [*self._prepared.values(), *self._in_use.values()]:
            eccodes.codes_release(handle)
        self._prepared.clear()
        self._in_use.clear()

    def encode(self, run: dt.datetime, step: int, short_name: str, values: np.ndarray) -> bytes:
        import eccodes

        handle = self._handle(short_name, step, constant=bool(values.min() == values.max()))
        for key, value in _run_keys(run, step, PRODUCTS[short_name](step)):
            eccodes.codes_set(handle, key, value)
        eccodes.codes_set_values(handle, values.ravel())
        return bytes(eccodes.codes_get_message(handle))

    def _handle(self, short_name: str, step: int, constant: bool) -> Any:
        import eccodes

        if (short_name, step) not in self._prepared:
            prepared = eccodes.codes_grib_new_from_samples("GRIB2")
            for key, value in _message_keys(self.grid, PRODUCTS[short_name](step)):
                eccodes.codes_set(prepared, key, value)
            self._prepared[short_name, step] = prepared
        if (short_name, step, constant) not in self._in_use:
            self._in_use[short_name, step, constant] = eccodes.codes_clone(self._prepared[short_name, step])
        return self._in_use[short_name, step, constant]


def _run_keys(run: dt.datetime, step: int, product: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The run's date and time, and for an accumulation the end of its period: ecCodes derives that from
    the date only when the step range is set, and setting the end itself is several times faster."""
    yield from {"dataDate": int(f"{run:%Y%m%d}"), "dataTime": int(f"{run:%H%M}")}.items()
    if product["productDefinitionTemplateNumber"] == 8:
        end = run + dt.timedelta(hours=step)
        yield from {
            "yearOfEndOfOverallTimeInterval": end.year,
            "monthOfEndOfOverallTimeInterval": end.month,
            "dayOfEndOfOverallTimeInterval": end.day,
            "hourOfEndOfOverallTimeInterval": end.hour,
            "minuteOfEndOfOverallTimeInterval": 0,
            "secondOfEndOfOverallTimeInterval": 0,
        }.items()


def _message_keys(grid: LatLonGrid, product: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Keys in the order ecCodes needs them: the template number before the keys it brings in, the
    packing before the values (a run's own keys are set on each clone, see :func:`_run_keys`)."""
    yield from {
        "centre": NCEP_CENTRE,
        "discipline": 0,
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
