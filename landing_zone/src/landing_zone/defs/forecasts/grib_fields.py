"""One weather-model run's GRIB2 file as analysis-grid fields: decode, de-accumulate, reproject, write COGs,
and the pure checks that stop a broken run.

Decoding (ecCodes). Messages are identified by ``shortName`` and step, never by their position in the file:
``2t`` (2 m temperature, K, instantaneous) and ``tp`` (total precipitation, kg m-2 = mm, accumulated from
the run start). Other parameters are ignored. Every message must be on the same regular lat/lon grid and
belong to the same run; a file that is not GRIB, holds neither parameter, or ends inside a message
(truncated upload) is refused with a :class:`GribFileError` naming the file.

Variables, named and in the units of the observed forcings (:mod:`..features.gridding`):

- ``air_temperature_c``: ``2t`` - 273.15, one band per lead time in the file (lead 0 included);
- ``precipitation_mm``: per-step amounts ``tp(step) - tp(previous step)``, the first counted from zero at
  the run start, one band per lead time after the start (an amount belongs to the interval ending at its
  lead time; lead 0 has no interval). A negative step (an accumulation that decreased: a corrupt or
  re-based message) is clipped to 0 and counted; a decrease within the message's packing precision is
  rounding noise, set to 0 and not counted. The sum-back check tells a clipped step from noise.

Reprojection onto the analysis grid (the features domain's :class:`..features.gridding.AnalysisGrid`,
region CRS, EPSG:2180 by default) by GDAL's warper, one 512 x 512 block of the grid at a time for every
lead time together, so memory is a block times the lead times whatever the grid, with positions exact to
1 % of an analysis cell (:func:`warp_tolerance_px`, not gdalwarp's eighth of a model step):

- temperature: bilinear between the four surrounding grid points (a smooth field; error of second order
  in the grid spacing);
- precipitation: GDAL's ``average``, the area-weighted mean of the model cells an analysis cell overlaps
  (first-order conservative remapping, as ESMF/CDO ``remapcon``). A model's precipitation is a flux over
  its grid box, not a point value: ``average`` keeps each box's amount exactly (any union of whole model
  boxes gets the same volume out as in), never goes below 0 or above the wettest box, and invents no
  structure finer than the model has. Bilinear would move rain between neighbouring boxes (a single wet box
  spills half its rain onto dry ones) and conserves only over areas much larger than a box.

The lat/lon grid is taken as WGS84 (EPSG:4326) whatever earth shape the messages declare, as NWP users
do: latitudes and longitudes are used as they are, with no datum shift (PROJ would do none either
between a sphere and WGS84: it knows no transformation between them).

Layout of a COG (one per variable): float32, nodata :data:`NODATA`, band ``n`` = ``n``-th lead time, its
description the valid time (ISO 8601, UTC), band tags ``VALID_TIME``, ``LEAD_HOURS`` (and for
precipitation ``INTERVAL_START``, ``ACCUMULATION_HOURS``, ``CLIPPED_NEGATIVE``: grid points clipped in
that step); dataset tags ``RUN_TIME``, ``VARIABLE``, ``UNITS``, ``SOURCE_FILE``, ``RESAMPLING`` (and
``CLIPPED_NEGATIVE`` for the run). The platform's COG profile (:mod:`shared.rasters.cog`).

ecCodes and rasterio are imported inside the functions: the code location imports this module.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from landing_zone.defs.features.gridding import AnalysisGrid
from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog, tiled_gtiff_profile
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_env

NODATA = -9999.0
SOURCE_CRS = "EPSG:4326"
"""How the messages' lat/lon grid is georeferenced (module docstring)."""
KELVIN_AT_0C = 273.15

MAX_PRECIPITATION_MM_PER_H = 305.0
"""The world's greatest 1-hour rainfall (Holt, Missouri, 1947; WMO archive): no step may exceed it times
its length."""
TEMPERATURE_BOUNDS_C = (-90.0, 60.0)
"""Below the lowest (-89.2 °C, Vostok) and above the highest (56.7 °C, Death Valley) surface air
temperatures measured: a decoded value outside is a decoding or unit error, not weather."""

EXPECTED_STEP_H = 3
EXPECTED_HORIZON_H = 72
"""The product's lead times by default: every 3 h from the run start to 72 h (the sample region's and a
GFS-like regional product's); configurable per check call."""


class GribFileError(ValueError):
    """A run file that cannot be decoded into fields; the message names the file."""


@dataclass(frozen=True)
class FieldVariable:
    """How one GRIB parameter becomes a platform variable."""

    name: str
    short_name: str
    units: str
    accumulated: bool
    resampling: str


TEMPERATURE = FieldVariable("air_temperature_c", "2t", "degC", accumulated=False, resampling="bilinear")
PRECIPITATION = FieldVariable("precipitation_mm", "tp", "mm", accumulated=True, resampling="average")
VARIABLES = {variable.short_name: variable for variable in (TEMPERATURE, PRECIPITATION)}
"""The decoded parameters by ecCodes ``shortName``: a name ecCodes' parameter tables give only to the WMO
parameter in its WMO units (``2t`` K, ``tp`` kg m-2), so the name fixes the units; reading ``units`` too
would cost as much as the rest of a message's decoding."""


@dataclass(frozen=True)
class LatLonGrid:
    """A regular lat/lon grid of points, rows north to south, columns west to east (degrees)."""

    north: float
    west: float
    dlat: float
    dlon: float
    rows: int
    columns: int

    @property
    def south(self) -> float:
        return self.north - (self.rows - 1) * self.dlat

    @property
    def east(self) -> float:
        return self.west + (self.columns - 1) * self.dlon

    def transform(self) -> Any:
        """GDAL's geotransform: pixels centred on the grid points."""
        from affine import Affine

        return Affine(self.dlon, 0.0, self.west - self.dlon / 2, 0.0, -self.dlat, self.north + self.dlat / 2)


@dataclass(frozen=True)
class DecodedParameter:
    """One parameter's messages, ordered by step: values ``(steps, rows, columns)`` in GRIB units (NaN
    where the bitmap says missing) and each message's packing precision (its quantisation step)."""

    variable: FieldVariable
    steps_h: tuple[int, ...]
    values: np.ndarray
    precision: np.ndarray


@dataclass(frozen=True)
class DecodedRun:
    """A run file decoded: the run's start (UTC), its grid and the parameters it holds."""

    source: str
    run_time: dt.datetime
    grid: LatLonGrid
    parameters: dict[str, DecodedParameter]


@dataclass(frozen=True)
class LeadFields:
    """One variable's bands on the model grid, in platform units: ``values (leads, rows, columns)``;
    precipitation also the interval each band covers and the grid points clipped per band."""

    variable: FieldVariable
    leads_h: tuple[int, ...]
    values: np.ndarray
    interval_start_h: tuple[int, ...] | None = None
    clipped: np.ndarray | None = None

    @property
    def clipped_total(self) -> int:
        return 0 if self.clipped is None else int(self.clipped.sum())


@dataclass(frozen=True)
class Finding:
    """One offending item of a check: what is wrong, where (variable, step; None for the whole run)."""

    check: str
    variable: str | None
    step_h: int | None
    message: str


@dataclass(frozen=True)
class BandStatistics:
    """Per band of a written COG: share of cells with a value (%), minimum, maximum and mean."""

    valid_percent: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray


@dataclass(frozen=True)
class FieldCog:
    """A written COG of one variable, with its bands' lead and valid times and statistics."""

    variable: FieldVariable
    path: Path
    leads_h: tuple[int, ...]
    valid_times: tuple[dt.datetime, ...]
    statistics: BandStatistics
    clipped: int


# --- decoding ---------------------------------------------------------------------------------------


def decode_run(path: Path, source: str | None = None) -> DecodedRun:
    """Decode the ``2t`` and ``tp`` messages of a GRIB2 run file (module docstring); ``source`` names it
    in errors and findings (the stored object's URI; the path by default)."""
    name = source or str(path)
    messages: dict[tuple[str, int], tuple[np.ndarray, float]] = {}
    grids: set[LatLonGrid] = set()
    run_times: set[dt.datetime] = set()
    try:
        with path.open("rb") as stream:
            for variable, step, grid, run_time, values, precision in _messages(stream, name):
                if (variable.short_name, step) in messages:
                    raise GribFileError(f"{name}: {variable.short_name} at step {step} h appears twice")
                messages[variable.short_name, step] = (values, precision)
                grids.add(grid)
                run_times.add(run_time)
    except OSError as error:
        raise GribFileError(f"{name}: cannot read the run file ({error})") from None
    if not messages:
        raise GribFileError(
            f"{name}: no 2 m temperature (2t) or total precipitation (tp) message: not a GRIB2 run file?"
        )
    if len(grids) > 1 or len(run_times) > 1:
        raise GribFileError(
            f"{name}: messages on {len(grids)} grids and of {len(run_times)} runs; a run file holds one run "
            "on one grid"
        )
    return DecodedRun(name, run_times.pop(), grids.pop(), _parameters(messages))


_Message = tuple[FieldVariable, int, LatLonGrid, dt.datetime, np.ndarray, float]


def _messages(stream: BinaryIO, name: str) -> Iterator[_Message]:
    """Each message of a decoded parameter, others skipped; ecCodes' errors
    (a truncated last message among them) become :class:`GribFileError` naming the file and message."""
    # pyproj and GDAL (rasterio, pyogrio) first: ecCodes' wheel loads a PROJ into the global symbol
    # scope, and a pyproj loaded after it cannot find its database, a GDAL loaded after it crashes
    # (measured: pyogrio's /vsis3/ read segfaults); the rest of the step warps and writes with them
    import pyogrio  # noqa: F401
    import pyproj  # noqa: F401
    import rasterio  # noqa: F401

    # isort: split
    import eccodes

    number, grids = 0, dict[str, _Scan]()
    while True:
        number += 1
        try:
            handle = eccodes.codes_grib_new_from_file(stream)
        except eccodes.GribInternalError as error:
            raise GribFileError(
                f"{name}: message {number} cannot be read ({error}): the file is truncated or corrupt"
            ) from None
        if handle is None:
            return
        try:
            message = _decode_message(handle, name, number, grids)
        except eccodes.GribInternalError as error:
            raise GribFileError(f"{name}: message {number} cannot be decoded ({error})") from None
        finally:
            eccodes.codes_release(handle)
        if message is not None:
            yield message


def _decode_message(handle: Any, name: str, number: int, grids: dict[str, _Scan]) -> _Message | None:
    """One message of a decoded parameter; None for any other parameter. ``grids`` caches each grid
    section met (by its MD5) so that a file's messages, all on one grid, read its keys once."""
    import eccodes

    variable = VARIABLES.get(eccodes.codes_get(handle, "shortName"))
    if variable is None:
        return None
    eccodes.codes_set(handle, "stepUnits", "h")
    step = int(eccodes.codes_get(handle, "endStep", int))
    if variable.accumulated and int(eccodes.codes_get(handle, "startStep", int)) != 0:
        raise GribFileError(
            f"{name}: message {number} ({variable.short_name}) accumulates over "
            f"{eccodes.codes_get(handle, 'stepRange')} h, not from the run start"
        )
    section = eccodes.codes_get(handle, "md5GridSection")
    if section not in grids:
        grids[section] = _scan(handle, name, number)
    grid, flip_rows, flip_columns = grids[section]
    values = eccodes.codes_get_values(handle).astype(np.float64)
    if eccodes.codes_get(handle, "bitmapPresent"):
        values[values == eccodes.codes_get(handle, "missingValue", float)] = np.nan
    field = values.reshape(grid.rows, grid.columns)[:: -1 if flip_rows else 1, :: -1 if flip_columns else 1]
    return variable, step, grid, _run_time(handle), np.ascontiguousarray(field), _precision(handle)


_Scan = tuple[LatLonGrid, bool, bool]
"""A grid and whether its rows run south to north and its columns east to west (then flipped)."""


def _scan(handle: Any, name: str, number: int) -> _Scan:
    """The message's grid; only regular lat/lon grids scanned row by row are decoded."""
    import eccodes

    def get(key: str) -> Any:
        return eccodes.codes_get(handle, key)

    if get("gridType") != "regular_ll" or get("jPointsAreConsecutive") or get("alternativeRowScanning"):
        raise GribFileError(
            f"{name}: message {number} is on a {get('gridType')} grid; only regular lat/lon grids scanned "
            "row by row are decoded"
        )
    first_lat, last_lat = get("latitudeOfFirstGridPointInDegrees"), get("latitudeOfLastGridPointInDegrees")
    first_lon, last_lon = get("longitudeOfFirstGridPointInDegrees"), get("longitudeOfLastGridPointInDegrees")
    columns, rows = int(get("Ni")), int(get("Nj"))
    west = min(first_lon, last_lon)
    west = west - 360.0 if west > 180.0 else west
    grid = LatLonGrid(
        north=round(max(first_lat, last_lat), 9),
        west=round(west, 9),
        dlat=round(abs(last_lat - first_lat) / max(rows - 1, 1), 9),
        dlon=round(abs(last_lon - first_lon) / max(columns - 1, 1), 9),
        rows=rows,
        columns=columns,
    )
    return grid, bool(get("jScansPositively")), bool(get("iScansNegatively"))


def _run_time(handle: Any) -> dt.datetime:
    import eccodes

    date, time = int(eccodes.codes_get(handle, "dataDate")), int(eccodes.codes_get(handle, "dataTime"))
    return dt.datetime.strptime(f"{date:08d}{time:04d}", "%Y%m%d%H%M").replace(tzinfo=dt.UTC)


def _precision(handle: Any) -> float:
    """The quantisation step of the packed values (2^E 10^-D); 0 for unquantised (IEEE) packing."""
    import eccodes

    if str(eccodes.codes_get(handle, "packingType")).startswith("grid_ieee"):
        return 0.0
    binary, decimal = (
        int(eccodes.codes_get(handle, key)) for key in ("binaryScaleFactor", "decimalScaleFactor")
    )
    return math.ldexp(1.0, binary) * 10.0**-decimal


def _parameters(messages: dict[tuple[str, int], tuple[np.ndarray, float]]) -> dict[str, DecodedParameter]:
    parameters = {}
    for short_name, variable in VARIABLES.items():
        steps = sorted(step for name, step in messages if name == short_name)
        if steps:
            parameters[variable.name] = DecodedParameter(
                variable,
                tuple(steps),
                np.stack([messages[short_name, step][0] for step in steps]),
                np.asarray([messages[short_name, step][1] for step in steps]),
            )
    return parameters


# --- platform variables -----------------------------------------------------------------------------


def lead_fields(run: DecodedRun) -> dict[str, LeadFields]:
    """Each decoded parameter in platform units: temperature in °C, precipitation de-accumulated."""
    fields = {}
    for name, parameter in run.parameters.items():
        if parameter.variable.accumulated:
            fields[name] = deaccumulated(parameter)
        else:
            fields[name] = LeadFields(parameter.variable, parameter.steps_h, parameter.values - KELVIN_AT_0C)
    return fields


def step_differences(accumulated: np.ndarray) -> np.ndarray:
    """``(steps, ...)`` accumulations as unclipped per-step differences, the first counted from zero."""
    return np.diff(accumulated, axis=0, prepend=np.zeros_like(accumulated[:1]))


def deaccumulate(accumulated: np.ndarray, precision: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-step amounts of ``(steps, ...)`` accumulations (:func:`step_differences`) with negative ones
    set to 0, and per step the count of points clipped. NaN stays NaN.

    Each message is rounded to its own packing ``precision`` (one per step), so an unchanged accumulation
    can come back a step lower: a difference down to minus that precision is packing noise, set to 0
    without being counted; only a step that decreases by more is a real negative step, clipped and counted
    (the ones :func:`check_accumulation` names).
    """
    amounts = step_differences(accumulated)
    allowance = np.asarray(precision, dtype=np.float64).reshape((len(amounts),) + (1,) * (amounts.ndim - 1))
    negative = amounts < -allowance
    return np.where(amounts < 0, 0.0, amounts), negative.reshape(len(amounts), -1).sum(axis=1)


def deaccumulated(parameter: DecodedParameter) -> LeadFields:
    """Precipitation per step, one band per lead time after the run start (module docstring)."""
    amounts, clipped = deaccumulate(parameter.values, parameter.precision)
    steps = np.asarray(parameter.steps_h)
    keep = steps > 0
    starts = np.concatenate([[0], steps[:-1]])
    return LeadFields(
        parameter.variable,
        tuple(int(step) for step in steps[keep]),
        amounts[keep],
        tuple(int(start) for start in starts[keep]),
        clipped[keep],
    )


# --- checks -----------------------------------------------------------------------------------------


def expected_steps(step_h: int = EXPECTED_STEP_H, horizon_h: int = EXPECTED_HORIZON_H) -> tuple[int, ...]:
    """The lead times a run must hold: every ``step_h`` from the start to ``horizon_h``."""
    if step_h <= 0 or horizon_h % step_h:
        raise ValueError(f"the horizon ({horizon_h} h) must be a whole number of steps ({step_h} h)")
    return tuple(range(0, horizon_h + 1, step_h))


def check_lead_times(run: DecodedRun, steps_h: Sequence[int], variables: Iterable[str]) -> list[Finding]:
    """Every expected lead time of every required variable present (and none unexpected)."""
    findings = []
    for name in variables:
        parameter = run.parameters.get(name)
        present = set(parameter.steps_h) if parameter else set()
        if parameter is None:
            findings.append(Finding("lead_times", name, None, f"{run.source}: no {name} message at all"))
            continue
        findings += [
            Finding("lead_times", name, step, f"{run.source}: {name} has no message at lead time {step} h")
            for step in sorted(set(steps_h) - present)
        ]
        findings += [
            Finding("lead_times", name, step, f"{run.source}: {name} has an unexpected lead time {step} h")
            for step in sorted(present - set(steps_h))
        ]
    return findings


def check_coverage(run: DecodedRun, bounds: tuple[float, float, float, float], crs: str) -> list[Finding]:
    """The model grid's points surround the region (``bounds`` in ``crs``, edges densified), so every
    analysis cell is interpolated between points rather than extrapolated."""
    from rasterio.warp import transform_bounds

    west, south, east, north = transform_bounds(crs, SOURCE_CRS, *bounds, densify_pts=21)
    grid = run.grid
    short = {
        "west": grid.west - west,
        "south": grid.south - south,
        "east": east - grid.east,
        "north": north - grid.north,
    }
    return [
        Finding(
            "coverage",
            None,
            None,
            f"{run.source}: the grid's points end {gap:.4f}° short of the region on its {side} side "
            f"(grid {grid.west:.4f}..{grid.east:.4f} E, {grid.south:.4f}..{grid.north:.4f} N; region "
            f"{west:.4f}..{east:.4f} E, {south:.4f}..{north:.4f} N)",
        )
        for side, gap in short.items()
        if gap > 1e-9
    ]


def check_physical_bounds(run: DecodedRun, fields: dict[str, LeadFields]) -> list[Finding]:
    """Every value present and physically possible (:data:`TEMPERATURE_BOUNDS_C`, 0 to
    :data:`MAX_PRECIPITATION_MM_PER_H` times the step's hours); one finding per variable and step."""
    findings = []
    for name, field in fields.items():
        for index, lead in enumerate(field.leads_h):
            low, high = _bounds(field, index)
            values = field.values[index]
            missing, outside = np.isnan(values), (values < low) | (values > high)
            if missing.any() or outside.any():
                present = values[~missing]
                extremes = f"{present.min():.2f}..{present.max():.2f}" if present.size else "none"
                findings.append(
                    Finding(
                        "physical_bounds",
                        name,
                        lead,
                        f"{run.source}: {name} at lead time {lead} h has {int(outside.sum())} values outside "
                        f"{low:g}..{high:g} {field.variable.units} and {int(missing.sum())} missing "
                        f"(values {extremes})",
                    )
                )
    return findings


def _bounds(field: LeadFields, index: int) -> tuple[float, float]:
    if field.interval_start_h is None:
        return TEMPERATURE_BOUNDS_C
    hours = field.leads_h[index] - field.interval_start_h[index]
    return 0.0, MAX_PRECIPITATION_MM_PER_H * hours


def check_accumulation(run: DecodedRun, fields: dict[str, LeadFields]) -> list[Finding]:
    """The de-accumulated precipitation sums back to the run total (the last accumulation) at every grid
    point, within the summed packing precision of the messages (each is rounded to its own).

    Differences telescope, so only a clipped negative step or an accumulation other than zero at lead 0
    can break the sum: a failure names each step that decreases by more than its message's precision (or
    is not zero at lead 0), else the largest difference found.
    """
    parameter, field = run.parameters.get(PRECIPITATION.name), fields.get(PRECIPITATION.name)
    if parameter is None or field is None:
        return []
    tolerance = float(parameter.precision.sum())
    excess = float(np.nanmax(np.abs(np.nansum(field.values, axis=0) - parameter.values[-1]), initial=0.0))
    if excess <= tolerance:
        return []
    summary = (
        f"the per-step amounts differ from the run total by up to {excess:.2f} mm (tolerance {tolerance:.2f})"
    )
    findings = []
    for step, difference, precision in zip(
        parameter.steps_h, step_differences(parameter.values), parameter.precision, strict=True
    ):
        wrong = np.abs(difference) > precision if step == 0 else difference < -precision
        if wrong.any():
            what = "is not zero at the run start" if step == 0 else "decreases"
            findings.append(
                Finding(
                    "accumulation",
                    PRECIPITATION.name,
                    step,
                    f"{run.source}: {PRECIPITATION.name} accumulation {what} at lead time {step} h at "
                    f"{int(wrong.sum())} grid points (by up to {np.abs(difference[wrong]).max():.2f} mm); "
                    f"{summary}",
                )
            )
    return findings or [
        Finding("accumulation", PRECIPITATION.name, parameter.steps_h[-1], f"{run.source}: {summary}")
    ]


# --- reprojection and COGs --------------------------------------------------------------------------


def write_field_cog(
    field: LeadFields,
    run: DecodedRun,
    grid: AnalysisGrid,
    crs: str,
    destination: Path,
    cache_mb: int = DEFAULT_GDAL_CACHE_MB,
) -> FieldCog:
    """Reproject one variable's bands onto ``grid`` block by block and write them as a COG at
    ``destination`` (layout in the module docstring).

    GDAL's warped VRT warps each 512 x 512 block of the grid as it is read, every band at once, into a
    tiled GTiff; the COG is copied from that (the COG driver reads its source several times, which would
    repeat the warp).
    """
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    height, width = grid.shape
    transform = Affine(grid.cell, 0.0, grid.west, 0.0, -grid.cell, grid.north)
    profile = tiled_gtiff_profile(width, height, "float32", crs, transform, NODATA) | {
        "count": len(field.leads_h)
    }
    staging = destination.with_suffix(".staging.tif")
    with rasterio.Env(**gdal_cache_env(cache_mb)):
        with (
            _model_dataset(field, run.grid) as source,
            WarpedVRT(
                source,
                crs=crs,
                transform=transform,
                width=width,
                height=height,
                resampling=Resampling[field.variable.resampling],
                tolerance=warp_tolerance_px(grid.cell, run.grid),
                src_nodata=np.nan,
                nodata=np.nan,
            ) as warped,
            rasterio.open(staging, "w", **profile) as dataset,
        ):
            for window in _blocks(height, width):
                block = warped.read(window=window)
                dataset.write(np.where(np.isfinite(block), block, NODATA).astype(np.float32), window=window)
            valid_times = _describe(dataset, field, run)
        copy_to_cog(staging, destination)
    staging.unlink()
    return FieldCog(
        field.variable,
        destination,
        field.leads_h,
        valid_times,
        band_statistics(destination),
        field.clipped_total,
    )


POSITION_ERROR_CELLS = 0.01
"""How far GDAL's warper may misplace the model grid, as a share of an analysis cell."""

EARTH_RADIUS_M = 6_371_229.0
"""The sphere of NCEP's and ECMWF's grids: only for the size of a grid step in metres."""


def warp_tolerance_px(cell_m: float, source: LatLonGrid) -> float:
    """GDAL's approximation threshold, in model grid steps, that keeps positions within
    :data:`POSITION_ERROR_CELLS` of an analysis cell.

    The warper interpolates the reprojection between exactly transformed points, erring by up to this
    threshold (gdalwarp's default is 0.125 steps: 350 m on a 0.025° grid, which would move rain across
    the edge of a model cell for every analysis cell within 350 m of it). The cost of a small threshold
    is more exact transformations, small beside the resampling of every band.
    """
    return min(0.125, POSITION_ERROR_CELLS * cell_m / _shortest_step_m(source))


def _shortest_step_m(source: LatLonGrid) -> float:
    """The grid's shortest step in metres: along x at its poleward edge, or along y."""
    latitude = math.radians(max(abs(source.north), abs(source.south)))
    return math.radians(min(source.dlat, source.dlon * math.cos(latitude))) * EARTH_RADIUS_M


@contextmanager
def _model_dataset(field: LeadFields, grid: LatLonGrid) -> Iterator[Any]:
    """``field``'s bands as an in-memory GTiff on the model grid (the warp's source)."""
    from rasterio.io import MemoryFile

    with MemoryFile() as memory:
        with memory.open(
            driver="GTiff",
            width=grid.columns,
            height=grid.rows,
            count=len(field.leads_h),
            dtype="float64",
            crs=SOURCE_CRS,
            transform=grid.transform(),
            nodata=np.nan,
        ) as dataset:
            dataset.write(field.values)
        with memory.open() as dataset:
            yield dataset


def write_run_cogs(
    fields: dict[str, LeadFields],
    run: DecodedRun,
    grid: AnalysisGrid,
    crs: str,
    folder: Path,
    cache_mb: int = DEFAULT_GDAL_CACHE_MB,
) -> dict[str, FieldCog]:
    """One COG per variable, ``{folder}/{variable}.tif``."""
    return {
        name: write_field_cog(field, run, grid, crs, folder / f"{name}.tif", cache_mb)
        for name, field in fields.items()
    }


def band_statistics(path: Path) -> BandStatistics:
    """Per band the statistics GDAL's COG driver computed over every cell while copying (exact, not from
    overviews): what the COG carries for QGIS, read back rather than computed twice."""
    import rasterio

    with rasterio.open(path) as dataset:
        tags = [dataset.tags(band) for band in range(1, dataset.count + 1)]

    def column(key: str) -> np.ndarray:
        return np.asarray([float(band.get(f"STATISTICS_{key}", "nan")) for band in tags])

    return BandStatistics(column("VALID_PERCENT"), column("MINIMUM"), column("MAXIMUM"), column("MEAN"))


def _blocks(height: int, width: int) -> Iterator[Any]:
    """The grid's 512 x 512 windows (the staging GTiff's tiles), row by row."""
    from rasterio.windows import Window

    for row in range(0, height, COG_BLOCK_SIZE):
        for column in range(0, width, COG_BLOCK_SIZE):
            yield Window(column, row, min(COG_BLOCK_SIZE, width - column), min(COG_BLOCK_SIZE, height - row))


def _describe(dataset: Any, field: LeadFields, run: DecodedRun) -> tuple[dt.datetime, ...]:
    """Band descriptions (valid times) and the layout's tags; the valid times."""
    clipped = {} if field.clipped is None else {"CLIPPED_NEGATIVE": field.clipped_total}
    dataset.update_tags(
        RUN_TIME=run.run_time.isoformat(),
        VARIABLE=field.variable.name,
        UNITS=field.variable.units,
        SOURCE_FILE=Path(run.source).name,
        RESAMPLING=field.variable.resampling,
        **clipped,
    )
    valid_times = tuple(run.run_time + dt.timedelta(hours=lead) for lead in field.leads_h)
    for band, (lead, valid) in enumerate(zip(field.leads_h, valid_times, strict=True), start=1):
        dataset.set_band_description(band, valid.isoformat())
        tags: dict[str, Any] = {"VALID_TIME": valid.isoformat(), "LEAD_HOURS": lead}
        if field.interval_start_h is not None and field.clipped is not None:
            start = field.interval_start_h[band - 1]
            tags |= {
                "INTERVAL_START": (run.run_time + dt.timedelta(hours=start)).isoformat(),
                "ACCUMULATION_HOURS": lead - start,
                "CLIPPED_NEGATIVE": int(field.clipped[band - 1]),
            }
        dataset.update_tags(band, **tags)
    return valid_times
