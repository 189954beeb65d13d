"""The catchment forcings table: the reach and progressive catchments' daily means of each month's
daily COGs (:mod:`.zonal`), in the layout of :data:`shared.assets.landing_zone.CATCHMENT_FORCINGS`.

Coverage weights depend on the grid only, so they are computed for the first month and reused for
every month on the same grid (:class:`WeightsCache`). rasterio is imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.features.zonal import (
    CoverageWeights,
    GridSpec,
    centroid_latitudes,
    coverage_weights,
    extraterrestrial_radiation,
    oudin_pet,
    zonal_means,
)
from shared.vectors.geoframe import GeoFrame

TEMPERATURE = "air_temperature_c"
"""The gridded variable Oudin's PET is computed from."""
PET = "pet_mm"
KEY_COLUMNS = ("catchment_id", "catchment_kind", "date", "area_km2", "outlet_id")
"""The columns before the values: the primary key, then what the mass-balance check groups and weighs by."""

VARIABLE_DESCRIPTIONS = {
    "precipitation_mm": "Daily precipitation total, catchment mean (mm)",
    "air_temperature_c": "Daily mean air temperature, catchment mean (°C)",
    "air_temperature_max_c": "Daily maximum air temperature, catchment mean of the cells' maxima (°C)",
    "air_temperature_min_c": "Daily minimum air temperature, catchment mean of the cells' minima (°C)",
    "relative_humidity_pct": "Daily mean relative humidity, catchment mean (%)",
    "air_pressure_hpa": "Daily mean air pressure, catchment mean (hPa)",
}
"""The gridded variables as catchment means, with their units (the forecast forcings hold the first four)."""

FORCING_DESCRIPTIONS = {
    "catchment_kind": "reach (the reach's own catchment) or progressive (all upstream of its pour point)",
    "outlet_id": "Reach id at the mouth of the catchment's basin (what the mass balance groups by)",
    PET: "Daily potential evapotranspiration after Oudin, from the catchment-mean temperature (mm)",
    "lead_day": "Forecast day: 1 = the run's own UTC day, then one per day",
    "earlier_run_hours": "Hours of the day before the run's start, taken from earlier stored runs (h)",
    "scaled_hours": "Hours no stored run covered, filled by scaling the day's covered hours (h)",
    **VARIABLE_DESCRIPTIONS,
    **{
        f"{name}_valid_fraction": f"Share (0-1) of the catchment's cells with a valid {name} that day"
        for name in VARIABLE_DESCRIPTIONS
    },
}
"""Descriptions, with units, of the observed and forecast forcing tables' columns."""


def forcing_schema(key_columns: dict[str, pl.DataType], variables: list[str]) -> dict[str, pl.DataType]:
    """A forcing table's columns as stored: the keys, the variables (sorted) and PET, then their valid
    fractions."""
    variables = sorted(variables)
    values = {name: pl.Float64() for name in [*variables, PET]}
    return key_columns | values | {f"{name}_valid_fraction": pl.Float64() for name in variables}


FORCING_SCHEMA = forcing_schema(
    {
        "catchment_id": pl.String(),
        "catchment_kind": pl.String(),
        "date": pl.Date(),
        "area_km2": pl.Float64(),
        "outlet_id": pl.String(),
    },
    list(VARIABLE_DESCRIPTIONS),
)
"""The columns of ``features/catchment_forcings`` with every gridded variable."""

FORECAST_FORCING_SCHEMA = forcing_schema(
    {
        "catchment_id": pl.String(),
        "catchment_kind": pl.String(),
        "date": pl.Date(),
        "lead_day": pl.Int32(),
        "run_time": pl.Datetime("us", "UTC"),
        "area_km2": pl.Float64(),
        "outlet_id": pl.String(),
    },
    list(VARIABLE_DESCRIPTIONS)[:4],
) | {"earlier_run_hours": pl.Float64(), "scaled_hours": pl.Float64()}
"""The columns of ``features/catchment_forecast_forcings``."""


@dataclass(frozen=True)
class Catchments:
    """Reach catchments then progressive catchments, one entry each, in the grids' CRS."""

    ids: list[str]
    kinds: list[str]
    area_km2: np.ndarray
    outlet_ids: list[str]
    geometries: np.ndarray
    crs: str

    @property
    def names(self) -> list[str]:
        """``kind reach_id`` of each catchment, for messages."""
        return [f"{kind} {reach}" for kind, reach in zip(self.kinds, self.ids, strict=True)]


def catchments_of(reach: GeoFrame, progressive: GeoFrame) -> Catchments:
    """Both layers as one list; ``outlet_id`` is the reach at the mouth of each catchment's basin (what
    the mass-balance check groups by). The areas are the layers' own (cell counts of the flow grid)."""
    if reach.crs != progressive.crs:
        raise ValueError(f"reach catchments in {reach.crs}, progressive catchments in {progressive.crs}")
    outlets = basin_outlets(reach.frame["reach_id"].to_list(), reach.frame["downstream_id"].to_list())
    ids = reach.frame["reach_id"].to_list() + progressive.frame["reach_id"].to_list()
    return Catchments(
        ids=ids,
        kinds=["reach"] * reach.frame.height + ["progressive"] * progressive.frame.height,
        area_km2=np.concatenate(
            [reach.frame["area_km2"].to_numpy(), progressive.frame["progressive_area_km2"].to_numpy()]
        ).astype(np.float64),
        outlet_ids=[outlets[reach_id] for reach_id in ids],
        geometries=np.concatenate([reach.geometries(), progressive.geometries()]),
        crs=reach.crs,
    )


def basin_outlets(reach_ids: list[str], downstream_ids: list[str | None]) -> dict[str, str]:
    """Each reach's basin outlet: followed downstream until a reach without a downstream one."""
    downstream = dict(zip(reach_ids, downstream_ids, strict=True))
    outlets: dict[str, str] = {}
    for start in reach_ids:
        path = [start]
        while path[-1] not in outlets and downstream.get(path[-1]) is not None:
            path.append(downstream[path[-1]])  # type: ignore[arg-type]
            if len(path) > len(reach_ids) + 1:
                raise ValueError(f"the reach network has a cycle through {start}")
        outlet = outlets.get(path[-1], path[-1])
        outlets.update(dict.fromkeys(path, outlet))
    return outlets


@dataclass(frozen=True)
class MonthGrids:
    """One month's daily COGs (``{variable: local path}``), one band per day of ``dates``."""

    month: str
    cogs: dict[str, Path]


@dataclass
class WeightsCache:
    """Coverage weights per grid, so months on the same grid reuse them."""

    catchments: Catchments
    by_grid: dict[GridSpec, CoverageWeights] = field(default_factory=dict)

    def weights(self, grid: GridSpec) -> CoverageWeights:
        if grid not in self.by_grid:
            self.by_grid[grid] = coverage_weights(self.catchments.geometries, grid, self.catchments.names)
        return self.by_grid[grid]


@dataclass(frozen=True)
class BandStack:
    """A daily COG read whole: its grid, (days, rows, columns) values, nodata and band dates."""

    grid: GridSpec
    values: np.ndarray
    nodata: float | None
    dates: list[dt.date]
    crs: str


def read_bands(path: Path) -> BandStack:
    """Every band of a daily COG; the band descriptions are the dates (the daily grids' layout)."""
    import rasterio

    with rasterio.open(path) as dataset:
        transform = dataset.transform
        if abs(transform.a + transform.e) > 1e-9 or transform.b or transform.d:
            raise ValueError(f"{path}: the daily grids must be north-up with square cells")
        grid = GridSpec(transform.c, transform.f, transform.a, dataset.height, dataset.width)
        dates = [dt.date.fromisoformat(description) for description in dataset.descriptions]
        epsg = dataset.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else dataset.crs.to_wkt()
        return BandStack(grid, dataset.read(), dataset.nodata, dates, crs)


def month_forcings(cache: WeightsCache, month: MonthGrids, latitudes: np.ndarray) -> pl.DataFrame:
    """One month's rows: every catchment every day, each variable's mean and valid fraction, PET."""
    if TEMPERATURE not in month.cogs:
        raise ValueError(f"the daily grids of {month.month} have no {TEMPERATURE}: PET needs it")
    catchments = cache.catchments
    columns: dict[str, np.ndarray] = {}
    dates: list[dt.date] = []
    for variable, path in sorted(month.cogs.items()):
        stack = read_bands(path)
        if stack.crs != catchments.crs:
            raise ValueError(f"{path}: grids in {stack.crs}, catchments in {catchments.crs}")
        if dates and stack.dates != dates:
            raise ValueError(f"{path}: band dates differ from the month's other variables")
        dates = stack.dates
        means = zonal_means(cache.weights(stack.grid), stack.values, stack.nodata)
        columns[variable] = means.mean
        columns[f"{variable}_valid_fraction"] = means.valid_fraction
    columns[PET] = oudin_pet(columns[TEMPERATURE], extraterrestrial_radiation(latitudes, dates))
    return forcings_frame(catchments, dates, columns)


def forcings_frame(
    catchments: Catchments, dates: list[dt.date], columns: dict[str, np.ndarray]
) -> pl.DataFrame:
    """(catchments x days) arrays as rows, catchment-major; NaN becomes null."""
    days = len(dates)
    count = len(catchments.ids)
    keys = pl.DataFrame(
        {
            "catchment_id": np.repeat(np.asarray(catchments.ids, dtype=object), days).tolist(),
            "catchment_kind": np.repeat(np.asarray(catchments.kinds, dtype=object), days).tolist(),
            "date": pl.Series(dates * count, dtype=pl.Date),
            "area_km2": np.repeat(catchments.area_km2, days),
            "outlet_id": np.repeat(np.asarray(catchments.outlet_ids, dtype=object), days).tolist(),
        },
        schema_overrides={"catchment_id": pl.String, "catchment_kind": pl.String, "outlet_id": pl.String},
    )
    values = pl.DataFrame({name: array.reshape(-1) for name, array in columns.items()})
    return pl.concat([keys, values.select(ordered(list(columns)))], how="horizontal").with_columns(
        pl.col(pl.Float64).fill_nan(None)
    )


def ordered(names: list[str]) -> list[str]:
    """Variables first, then PET, then the valid fractions (the contract's column order)."""
    fractions = sorted(name for name in names if name.endswith("_valid_fraction"))
    variables = sorted(name for name in names if name not in fractions and name != PET)
    return [*variables, PET, *fractions]


def forcings_table(catchments: Catchments, months: Iterable[MonthGrids]) -> tuple[pl.DataFrame, WeightsCache]:
    """Every month's rows, sorted by kind, catchment and date; a variable missing from a month is null
    there with valid fraction 0. ``months`` may stage each month's files lazily (one month on disk at a
    time). Also returns the weights used (their grids go into the metadata)."""
    cache = WeightsCache(catchments)
    latitudes = centroid_latitudes(catchments.geometries, catchments.crs)
    frames = [month_forcings(cache, month, latitudes) for month in months]
    if not frames:
        raise ValueError("no month of daily grids to average")
    table = pl.concat(frames, how="diagonal_relaxed")
    fractions = [name for name in table.columns if name.endswith("_valid_fraction")]
    values = ordered([column for column in table.columns if column not in KEY_COLUMNS])
    table = table.with_columns(pl.col(fractions).fill_null(0.0)).select(*KEY_COLUMNS, *values)
    return table.sort("catchment_kind", "catchment_id", "date"), cache


def describe_weights(cache: WeightsCache) -> dict[str, Any]:
    """What the metadata says about the coverage weights: grids, touched cells, smallest catchment."""
    return {
        "grids": len(cache.by_grid),
        "touched_cells": int(sum(w.cells.size for w in cache.by_grid.values())),
        "smallest_catchment_cells": float(min(w.area_cells.min() for w in cache.by_grid.values())),
    }
