"""A weather-model run's fields as daily catchment forcings, in the layout of
:data:`shared.assets.landing_zone.CATCHMENT_FORECAST_FORCINGS` (the observed forcings' names and units).

Why daily, and whole days. The LSTM steps one UTC day at a time on daily forcings, so a forecast must
hand it whole days: the run's 3-hourly fields are summed (precipitation) or averaged (temperature) over
each UTC day. Lead day 1 is the run's own day; the last lead day is the last one the horizon covers to
its end (a 72 h run: three lead days whatever its start hour). Only the 00 UTC run covers its own day
from midnight: a run starting at 06, 12 or 18 UTC holds nothing about the hours of its day before its
start, which have passed but are not observed yet (the observed forcings come days later), so they
come from earlier runs.

Slots. A day is ``24 / step`` slots of one step (3 h) each: slot ``[t, t + step)`` holds the temperature
at ``t`` and the precipitation amount of the interval ``(t, t + step]`` (the fields' band ending at
``t + step``). So the day's precipitation is the sum of the step amounts whose interval lies in
``(D 00:00, D+1 00:00]`` and its temperatures are the values at ``D 00:00, 03:00 ... 21:00``. A run
covers the slots from its start to its horizon. A slot of day 1 before the run's start is taken from the
newest earlier stored run that holds it (6, 12, 18 h ... before, each read through its fields manifest,
:mod:`..forecasts.fields_manifest`, so only whole published runs are used); the hours so taken are
``earlier_run_hours``. Slots no stored run holds are ``scaled_hours``: the day is then made of the slots
it has, precipitation as their rate times 24 h, temperature over the samples there are.

Daily values per cell, then catchment means. At each analysis cell the day's precipitation is the sum
of its slots, its temperature the mean of its samples, and its maximum and minimum the extremes of its
samples (the observed grids' maximum and minimum are daily extremes per place as well); a cell missing
any slot's value is invalid that day. The daily grids are then averaged over each catchment with the
observed forcings' coverage weights (:mod:`.zonal`: exactextract, valid fractions), and PET is Oudin's
from the catchment-mean temperature, as for the observed forcings. Sums and means commute with the
catchment mean, so precipitation and mean temperature equal the day's aggregate of the catchment's
3-hourly means.

rasterio is imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from landing_zone.defs.features.forcings import (
    PET,
    TEMPERATURE,
    Catchments,
    WeightsCache,
    forcings_frame,
    ordered,
)
from landing_zone.defs.features.zonal import (
    GridSpec,
    centroid_latitudes,
    extraterrestrial_radiation,
    oudin_pet,
    zonal_means,
)
from landing_zone.defs.forecasts.fields_manifest import manifest_key, read_manifest
from landing_zone.defs.forecasts.grib_fields import PRECIPITATION
from landing_zone.defs.forecasts.grib_fields import TEMPERATURE as TEMPERATURE_FIELD
from landing_zone.defs.forecasts.raw_runs import RUN_INTERVAL, partition_key
from shared.storage import Storage

PRECIPITATION_MM = PRECIPITATION.name
TEMPERATURE_MAX = "air_temperature_max_c"
TEMPERATURE_MIN = "air_temperature_min_c"
DAY = dt.timedelta(days=1)
KEY_COLUMNS = ("catchment_id", "catchment_kind", "date", "lead_day", "run_time", "area_km2", "outlet_id")
HOUR_COLUMNS = ("earlier_run_hours", "scaled_hours")
"""The contract's columns before and after the values."""


class ForecastFieldsError(ValueError):
    """Stored fields that cannot make a run's daily forcings; the message names the manifest."""


@dataclass(frozen=True)
class RunFields:
    """One published run's fields read whole, by slot start (UTC): the temperature at the slot's start and
    the precipitation of the step after it, ``(rows, columns)`` each, NaN where nodata."""

    run_time: dt.datetime
    source: str
    """The run's manifest (URI), for messages."""
    grid: GridSpec
    crs: str
    step: dt.timedelta
    temperature: dict[dt.datetime, np.ndarray]
    precipitation: dict[dt.datetime, np.ndarray]

    @property
    def slots(self) -> set[dt.datetime]:
        """The slot starts the run holds both variables of."""
        return set(self.temperature) & set(self.precipitation)

    @property
    def horizon_end(self) -> dt.datetime:
        """The end of the run's last whole slot."""
        return max(self.slots) + self.step


@dataclass(frozen=True)
class DaySlots:
    """A lead day's slots as assembled: each slot start's source run (None: no stored run holds it)."""

    date: dt.date
    lead_day: int
    sources: dict[dt.datetime, RunFields | None]

    def hours(self, step: dt.timedelta, run_time: dt.datetime) -> tuple[float, float]:
        """Hours taken from earlier runs, hours scaled (no run held them)."""
        earlier = sum(1 for s in self.sources.values() if s is not None and s.run_time != run_time)
        missing = sum(1 for s in self.sources.values() if s is None)
        return earlier * step / dt.timedelta(hours=1), missing * step / dt.timedelta(hours=1)


@dataclass(frozen=True)
class ForecastForcings:
    """The run's table and what the metadata says about it."""

    table: pl.DataFrame
    source: str
    """The run's fields manifest (URI)."""
    days: list[DaySlots]
    earlier_runs: dict[str, float]
    """Hours of lead day 1 each earlier run supplied, by its partition key."""
    weights: WeightsCache


# --- reading a run through its manifest -------------------------------------------------------------


def read_run_fields(manifest: pl.DataFrame, cogs: dict[str, Path], source: str) -> RunFields:
    """A run's fields from its manifest and its COGs staged locally (``{variable: path}``); the COGs must
    have the bands the manifest lists, on one grid."""
    import rasterio

    run_times = manifest["run_time"].unique().to_list()
    if len(run_times) != 1:
        raise ForecastFieldsError(f"{source}: rows of {len(run_times)} runs; a manifest is one run's")
    stacks: dict[str, np.ndarray] = {}
    grids: set[tuple[GridSpec, str]] = set()
    for variable in (TEMPERATURE_FIELD.name, PRECIPITATION_MM):
        if variable not in cogs:
            raise ForecastFieldsError(f"{source}: no {variable} COG listed")
        rows = manifest.filter(pl.col("variable") == variable)
        with rasterio.open(cogs[variable]) as dataset:
            if dataset.count != rows.height or rows["band"].to_list() != list(range(1, rows.height + 1)):
                raise ForecastFieldsError(
                    f"{source}: {variable} lists bands {rows['band'].to_list()}, its COG "
                    f"{rows['cog_key'][0]} has {dataset.count}"
                )
            stack = dataset.read().astype(np.float64)
            if dataset.nodata is not None:
                stack[stack == dataset.nodata] = np.nan
            grids.add(
                (grid_of(dataset.transform, dataset.height, dataset.width, source), crs_of(dataset.crs))
            )
        stacks[variable] = stack
    if len(grids) != 1:
        raise ForecastFieldsError(f"{source}: the variables' COGs lie on {len(grids)} different grids")
    (grid, crs), step = grids.pop(), temperature_step(manifest, source)
    return RunFields(
        run_times[0],
        source,
        grid,
        crs,
        step,
        temperature=by_slot(manifest, stacks, TEMPERATURE_FIELD.name, "valid_time"),
        precipitation=precipitation_slots(manifest, stacks, step, source),
    )


def grid_of(transform: object, height: int, width: int, source: str) -> GridSpec:
    """The COG's grid, which must be north-up with square cells (the analysis grid)."""
    a, b, c, d, e, f = (getattr(transform, name) for name in "abcdef")
    if abs(a + e) > 1e-9 or b or d:
        raise ForecastFieldsError(f"{source}: the fields must be north-up with square cells")
    return GridSpec(c, f, a, height, width)


def crs_of(crs: object) -> str:
    epsg = crs.to_epsg()  # type: ignore[attr-defined]
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()  # type: ignore[attr-defined]


def temperature_step(manifest: pl.DataFrame, source: str) -> dt.timedelta:
    """The run's step: the one spacing of its temperature valid times, dividing a day."""
    times = manifest.filter(pl.col("variable") == TEMPERATURE_FIELD.name)["valid_time"].sort().to_list()
    steps = {later - earlier for earlier, later in itertools.pairwise(times)}
    if len(steps) != 1 or DAY % next(iter(steps)):
        raise ForecastFieldsError(f"{source}: temperature every {sorted(steps)}, not one step dividing a day")
    return steps.pop()


def by_slot(
    manifest: pl.DataFrame, stacks: dict[str, np.ndarray], variable: str, column: str
) -> dict[dt.datetime, np.ndarray]:
    """``{time in column: band}`` of one variable."""
    rows = manifest.filter(pl.col("variable") == variable)
    return {time: stacks[variable][band - 1] for time, band in zip(rows[column], rows["band"], strict=True)}


def precipitation_slots(
    manifest: pl.DataFrame, stacks: dict[str, np.ndarray], step: dt.timedelta, source: str
) -> dict[dt.datetime, np.ndarray]:
    """The precipitation bands by the start of their interval, each one step long."""
    rows = manifest.filter(pl.col("variable") == PRECIPITATION_MM)
    lengths = {end - start for start, end in zip(rows["interval_start"], rows["valid_time"], strict=True)}
    if lengths != {step}:
        raise ForecastFieldsError(f"{source}: precipitation intervals of {sorted(lengths)}, not of {step}")
    return by_slot(manifest, stacks, PRECIPITATION_MM, "interval_start")


class StoredRuns:
    """Published runs of one region read from storage through their manifests (in the folder of the
    fields asset's key path), each once."""

    def __init__(self, store: Storage, fields_path: Sequence[str], region: str, workdir: Path) -> None:
        self.store, self.fields_path, self.region, self.workdir = store, tuple(fields_path), region, workdir
        self.loaded: dict[dt.datetime, RunFields | None] = {}

    def get(self, run_time: dt.datetime) -> RunFields | None:
        """The run's fields, None where no manifest is published for it."""
        if run_time not in self.loaded:
            self.loaded[run_time] = self._read(run_time)
        return self.loaded[run_time]

    def _read(self, run_time: dt.datetime) -> RunFields | None:
        key = partition_key(run_time)
        manifest = read_manifest(self.store, self.fields_path, key)
        if manifest is None:
            return None
        source = self.store.uri(manifest_key(self.fields_path, key))
        regions = manifest["region"].unique().to_list()
        if regions != [self.region]:
            raise ForecastFieldsError(f"{source}: fields of region(s) {regions}, expected {self.region!r}")
        pairs = dict(manifest.select("variable", "cog_key").unique().iter_rows())
        folder = self.workdir / key.replace(":", "")
        folder.mkdir(parents=True, exist_ok=True)
        paths = self.store.stage_files(list(pairs.values()), folder)
        return read_run_fields(manifest, dict(zip(pairs, paths, strict=True)), source)


@contextmanager
def stored_runs(
    store: Storage, fields_path: Sequence[str], region: str, scratch: Path | None = None
) -> Iterator[StoredRuns]:
    """A :class:`StoredRuns` staging into a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="forecast-forcings-", dir=scratch) as folder:
        yield StoredRuns(store, fields_path, region, Path(folder))


# --- assembling the lead days -----------------------------------------------------------------------


def lead_days(run: RunFields, earlier: Callable[[dt.datetime], RunFields | None]) -> list[DaySlots]:
    """The run's whole UTC days with each slot's source (module docstring): the run's own slots, then
    for the hours of day 1 before its start the newest earlier run that holds each, searched back
    :data:`RUN_INTERVAL` at a time while a run could still reach them."""
    first = dt.datetime.combine(run.run_time.date(), dt.time(), dt.UTC)
    if (run.run_time - first) % run.step:
        raise ForecastFieldsError(f"{run.source}: the run starts off its {run.step} slots")
    slots_per_day = DAY // run.step
    count = (run.horizon_end - first) // DAY
    if count < 1:
        raise ForecastFieldsError(f"{run.source}: the horizon ends at {run.horizon_end}, before day 1 ends")
    own = run.slots
    sources: dict[dt.datetime, RunFields | None] = {
        start: run if start in own else None
        for start in (first + index * run.step for index in range(count * slots_per_day))
    }
    missing = [start for start, source in sources.items() if source is None and start >= run.run_time]
    if missing:
        raise ForecastFieldsError(
            f"{run.source}: no fields for the slots at {[t.isoformat() for t in missing]}"
        )
    fill_from_earlier(sources, run, earlier)
    days = [first + index * DAY for index in range(count)]
    return [
        DaySlots(
            start.date(),
            index + 1,
            {slot: sources[slot] for slot in sorted(sources) if start <= slot < start + DAY},
        )
        for index, start in enumerate(days)
    ]


def fill_from_earlier(
    sources: dict[dt.datetime, RunFields | None],
    run: RunFields,
    earlier: Callable[[dt.datetime], RunFields | None],
) -> None:
    """Give each slot before the run's start the newest earlier run that holds it. An earlier run on
    another grid (the fields' grid configuration changed between the runs) is passed over: days are
    made cell by cell, so its slots would not fit, and the day is scaled rather than the run failed."""
    previous = run.run_time - RUN_INTERVAL
    reach = run.horizon_end - run.run_time
    while (gaps := sorted(t for t, s in sources.items() if s is None)) and previous + reach > gaps[0]:
        candidate = earlier(previous)
        if candidate is not None and (candidate.grid, candidate.crs) == (run.grid, run.crs):
            for start in candidate.slots & set(gaps):
                sources[start] = candidate
        previous -= RUN_INTERVAL


# --- daily grids and catchment means ----------------------------------------------------------------


def daily_cells(day: DaySlots, step: dt.timedelta) -> dict[str, np.ndarray]:
    """The day's value at each cell of each variable (module docstring); NaN where a slot's value is."""
    held = [(start, source) for start, source in day.sources.items() if source is not None]
    temperatures = np.stack([source.temperature[start] for start, source in held])
    amounts = np.stack([source.precipitation[start] for start, source in held])
    covered_h = len(held) * step / dt.timedelta(hours=1)
    return {
        PRECIPITATION_MM: amounts.sum(axis=0) * (24.0 / covered_h),
        TEMPERATURE: temperatures.mean(axis=0),
        TEMPERATURE_MAX: temperatures.max(axis=0),
        TEMPERATURE_MIN: temperatures.min(axis=0),
    }


def forecast_forcings(
    catchments: Catchments, run: RunFields, earlier: Callable[[dt.datetime], RunFields | None]
) -> ForecastForcings:
    """The run's daily forcings of every catchment on every lead day, sorted by kind, catchment, date."""
    if run.crs != catchments.crs:
        raise ForecastFieldsError(f"{run.source}: fields in {run.crs}, catchments in {catchments.crs}")
    days = lead_days(run, earlier)
    cache = WeightsCache(catchments)
    weights = cache.weights(run.grid)
    grids = [daily_cells(day, run.step) for day in days]
    columns: dict[str, np.ndarray] = {}
    for variable in grids[0]:
        means = zonal_means(weights, np.stack([grid[variable] for grid in grids]), None)
        columns[variable] = means.mean
        columns[f"{variable}_valid_fraction"] = means.valid_fraction
    dates = [day.date for day in days]
    radiation = extraterrestrial_radiation(centroid_latitudes(catchments.geometries, catchments.crs), dates)
    columns[PET] = oudin_pet(columns[TEMPERATURE], radiation)
    table = with_run_columns(forcings_frame(catchments, dates, columns), days, run)
    return ForecastForcings(table, run.source, days, earlier_run_hours(days, run), cache)


def with_run_columns(frame: pl.DataFrame, days: list[DaySlots], run: RunFields) -> pl.DataFrame:
    """The observed layout's frame (catchment-major) with the run's columns, in the contract's order."""
    repeat = frame.height // len(days)
    hours = [day.hours(run.step, run.run_time) for day in days]
    values = ordered([c for c in frame.columns if c not in KEY_COLUMNS])
    return (
        frame.with_columns(
            lead_day=pl.Series([day.lead_day for day in days] * repeat, dtype=pl.Int32),
            run_time=pl.lit(run.run_time, dtype=pl.Datetime("us", "UTC")),
            earlier_run_hours=pl.Series([h[0] for h in hours] * repeat, dtype=pl.Float64),
            scaled_hours=pl.Series([h[1] for h in hours] * repeat, dtype=pl.Float64),
        )
        .select(*KEY_COLUMNS, *values, *HOUR_COLUMNS)
        .sort("catchment_kind", "catchment_id", "date")
    )


def earlier_run_hours(days: list[DaySlots], run: RunFields) -> dict[str, float]:
    """Hours of day 1 each earlier run supplied, by partition key."""
    hours: dict[str, float] = {}
    for source in days[0].sources.values():
        if source is not None and source.run_time != run.run_time:
            key = partition_key(source.run_time)
            hours[key] = hours.get(key, 0.0) + run.step / dt.timedelta(hours=1)
    return hours
