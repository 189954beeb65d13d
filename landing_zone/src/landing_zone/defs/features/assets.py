"""Every asset of the features domain. So far: ``meteo/daily_grids``, the polished meteo series
interpolated onto the region's analysis grid, one month and region per partition.

How it stores several COGs: the raster IO manager stores one COG per asset output, and a partition here
is one COG per variable. So the asset writes its COGs itself through the storage resource, at
``AssetLocation(...).key("tif", name=variable)`` in the partition's folder, and returns the month's
manifest (a row per variable and day, :data:`.daily_cogs.MANIFEST_SCHEMA`), which the Parquet IO manager
stores as ``part.parquet`` beside them. The manifest is audited by the blocking checks first
(write-audit-publish, :mod:`shared.publication`): the COGs are uploaded and the manifest published only
when they pass; a rejected month keeps its manifest as ``candidate.parquet`` and the published COGs
stay as they were.

The computation is in :mod:`.gridding` (the method) and :mod:`.daily_cogs` (the layout); both import
rasterio and pyproj inside their functions, so loading the code location does not load GDAL.
"""

import datetime as dt
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from landing_zone.defs.catchments.rasters import resample_dem
from landing_zone.defs.features.checks import daily_grid_sql_checks
from landing_zone.defs.features.daily_cogs import manifest_rows, read_analysis_grid, write_daily_cog
from landing_zone.defs.features.gridding import (
    VARIABLES,
    AnalysisGrid,
    GriddingSettings,
    Stations,
    interpolate_rows,
    month_dates,
    station_days,
    stations_from_list,
)
from landing_zone.defs.features.keys import METEO_DAILY_GRIDS
from landing_zone.defs.stations.keys import station_key
from shared.assets.landing_zone import DTM_CONSOLIDATED, METEO_POLISHED, REGIONS
from shared.k8s.op_tags import K8sOpTags
from shared.publication import failed_blocking, keep_candidate_table, publish_if_passed
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import StoredRaster, scratch_dir
from shared.regions import region, regions_file
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import COG, PARQUET, AssetLocation

METEO_MONTHS = dg.DynamicPartitionsDefinition(name="meteo_months")
"""``YYYY-MM`` months of the polished meteo series, registered by ``meteo_months_sensor``."""

DAILY_GRID_PARTITIONS = dg.MultiPartitionsDefinition({"month": METEO_MONTHS, "region": REGIONS})
"""One month of one region per partition: stored under ``month=YYYY-MM/region=name/``."""

BY_REGION = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="region")
"""The region's consolidated DTM serves every month of it."""

STATION_LIST = station_key("meteo", "stations")
"""The provider's station list as the stations domain stores it (code, WGS84 lon/lat, elevation_m)."""

SQL_CHECKS = daily_grid_sql_checks()
CHECK_SPECS = [check.spec(METEO_DAILY_GRIDS) for check in SQL_CHECKS]


class DailyGridsConfig(dg.Config):
    """The grid and the method's numbers (:mod:`.gridding`)."""

    resolution_m: float = Field(default=250.0, gt=0, description="Cell size of the grids in metres.")
    idw_power: float = Field(default=2.0, gt=0, description="Inverse distance weighting power.")
    search_radius_m: float = Field(
        default=100_000.0, gt=0, description="Stations farther than this from a cell do not count for it."
    )
    lapse_rate_c_per_km: float = Field(
        default=-6.5, description="Temperature lapse rate used when a day's stations cannot fit one."
    )
    lapse_fit_min_stations: int = Field(default=5, ge=3, description="Stations needed to fit a day's rate.")
    lapse_fit_min_span_m: float = Field(
        default=300.0, gt=0, description="Elevation the stations must span to fit a day's rate."
    )


@dg.asset(
    key=METEO_DAILY_GRIDS,
    ins={
        "polished": dg.AssetIn(key=METEO_POLISHED),
        "station_list": dg.AssetIn(key=STATION_LIST),
        "dem": dg.AssetIn(key=DTM_CONSOLIDATED, partition_mapping=BY_REGION),
    },
    partitions_def=DAILY_GRID_PARTITIONS,
    check_specs=CHECK_SPECS,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.medium(divider=2, env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "parquet", "numpy"},
    description="Daily grids of every polished meteo variable (precipitation_mm, air_temperature_c, "
    "relative_humidity_pct, air_pressure_hpa) on the region's analysis grid (250 m default, region CRS, "
    "the consolidated DTM's extent). Method: only values flagged ok/duplicate/corrected/imputed; inverse "
    "distance weighting (power 2, stations within 100 km); temperature reduced to sea level with -6.5 C/km "
    "(fitted per day when >= 5 stations span >= 300 m), pressure with the hypsometric equation, then "
    "brought back to each cell's mean DTM elevation. Layout: one COG per variable at "
    "meteo/daily_grids/month=YYYY-MM/region=R/{variable}.tif, float32, nodata -9999, band n = day n, band "
    "description = ISO date, band tags DATE, VALID_STATIONS, TOO_FEW_STATIONS (YES: fewer valid stations "
    "than the variable's minimum, 3 for temperature, 2 otherwise; the band is all nodata). part.parquet "
    "beside them is the manifest: one row per variable and day with valid stations, lapse rate and value "
    "statistics. Published only when its blocking checks pass.",
)
def daily_grids(
    context: dg.AssetExecutionContext,
    config: DailyGridsConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
    polished: pl.LazyFrame,
    station_list: pl.DataFrame,
    dem: StoredRaster,
) -> Iterator[Any]:
    month, region_name = month_and_region(context)
    place = region(region_name)
    origin = f"region {place.name!r} (the `crs` of its entry in {regions_file()})"
    grid, crs = read_analysis_grid(
        resample_dem(dem, place.crs, config.resolution_m, DEFAULT_GDAL_CACHE_MB, origin)
    )
    dates = month_dates(month)
    observations = polished.filter(in_month(dates)).collect()
    stations = stations_from_list(station_list, place.crs)
    store, location = (
        storage.get_storage(),
        AssetLocation.for_partition(METEO_DAILY_GRIDS, DAILY_GRID_PARTITIONS, context.partition_key),
    )
    cogs, manifest = grid_variables(observations, stations, grid, crs, dates, config, location)
    results = list(duckdb.check_frame(METEO_DAILY_GRIDS, SQL_CHECKS, manifest))
    if not failed_blocking(results, CHECK_SPECS):
        upload(store, location, cogs)
    output = dg.Output(manifest, metadata=grid_metadata(manifest, grid, crs, config, store, location, cogs))
    yield from publish_if_passed(
        METEO_DAILY_GRIDS,
        results,
        CHECK_SPECS,
        output,
        lambda: keep_candidate_table(store, location, manifest),
        store,
        location,
        PARQUET,
    )


def month_and_region(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The month (``YYYY-MM``) and region of the partition being materialised."""
    partition = context.partition_key
    if not isinstance(partition, dg.MultiPartitionKey):
        raise TypeError(f"expected a month x region partition, got {partition!r}")
    return partition.keys_by_dimension["month"], partition.keys_by_dimension["region"]


def in_month(dates: tuple[dt.date, ...]) -> pl.Expr:
    """Rows of the polished series (``time`` at 00:00 UTC) on the month's days: pushed into the scan, so
    only the month is read from a series of any length."""
    start = dt.datetime.combine(dates[0], dt.time(), dt.UTC)
    end = dt.datetime.combine(dates[-1] + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (pl.col("time") >= start) & (pl.col("time") < end)


def grid_variables(
    observations: pl.DataFrame,
    stations: Stations,
    grid: AnalysisGrid,
    crs: str,
    dates: tuple[dt.date, ...],
    config: DailyGridsConfig,
    location: AssetLocation,
) -> tuple[dict[str, Path], pl.DataFrame]:
    """One local COG per polished variable that :data:`.gridding.VARIABLES` knows, and the manifest."""
    settings = gridding_settings(config)
    present = set(observations["variable"].unique())
    workdir = scratch_dir("daily-grids-")
    cogs: dict[str, Path] = {}
    frames = []
    for variable, method in VARIABLES.items():
        if variable not in present:
            continue
        days = station_days(observations, stations, method, dates, settings)
        path = workdir / f"{variable}.tif"
        statistics = write_daily_cog(
            path,
            grid,
            crs,
            days,
            partial(interpolate_rows, days, stations, grid, settings=settings),
            METHOD_SUMMARY[method.reduction],
        )
        cogs[variable] = path
        frames.append(manifest_rows(days, statistics, location.key(COG, name=variable)))
    if not frames:
        raise ValueError(f"{METEO_POLISHED.to_user_string()} holds no gridded variable in {dates[0]:%Y-%m}")
    return cogs, pl.concat(frames)


METHOD_SUMMARY = {
    "none": "inverse distance weighting of valid station values",
    "lapse_rate": "reduced to sea level with the day's lapse rate, inverse distance weighting, back to the "
    "cell's DTM elevation",
    "barometric": "reduced to sea level (hypsometric, H = 8434 m), inverse distance weighting, back to the "
    "cell's DTM elevation",
}
"""The ``METHOD`` tag of each COG, by reduction (the full method is :mod:`.gridding`'s docstring)."""


def gridding_settings(config: DailyGridsConfig) -> GriddingSettings:
    """The pure module's settings from the run config."""
    return GriddingSettings(
        power=config.idw_power,
        search_radius_m=config.search_radius_m,
        lapse_rate_c_per_km=config.lapse_rate_c_per_km,
        lapse_fit_min_stations=config.lapse_fit_min_stations,
        lapse_fit_min_span_m=config.lapse_fit_min_span_m,
    )


def upload(store: Storage, location: AssetLocation, cogs: dict[str, Path]) -> None:
    """Store each variable's COG at ``{variable}.tif`` in the partition's folder."""
    for variable, path in cogs.items():
        store.put_file(path, location.key(COG, name=variable))


def grid_metadata(
    manifest: pl.DataFrame,
    grid: AnalysisGrid,
    crs: str,
    config: DailyGridsConfig,
    store: Storage,
    location: AssetLocation,
    cogs: dict[str, Path],
) -> dict[str, Any]:
    """What a reviewer compares between months: grid, marked days per variable, where to open each COG."""
    per_variable = (
        manifest.group_by("variable")
        .agg(pl.col("too_few_stations").sum(), pl.col("valid_stations").min())
        .sort("variable")
    )
    height, width = grid.shape
    return {
        "crs": dg.MetadataValue.text(crs),
        "resolution_m": dg.MetadataValue.float(config.resolution_m),
        "size": dg.MetadataValue.text(f"{width}x{height}x{manifest['date'].n_unique()}"),
        "bounds": dg.MetadataValue.json(
            [grid.west, grid.north - height * grid.cell, grid.west + width * grid.cell, grid.north]
        ),
        "variables": dg.MetadataValue.json(sorted(cogs)),
        "too_few_stations_days": dg.MetadataValue.json(per_variable_values(per_variable, "too_few_stations")),
        "min_valid_stations": dg.MetadataValue.json(per_variable_values(per_variable, "valid_stations")),
        "gdal_paths": dg.MetadataValue.json(
            {variable: store.gdal_path(location.key(COG, name=variable)) for variable in sorted(cogs)}
        ),
        "rows": dg.MetadataValue.int(manifest.height),
    }


def per_variable_values(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """``{variable: value}`` of a per-variable aggregate, as JSON-safe ints."""
    return {variable: int(value) for variable, value in zip(frame["variable"], frame[column], strict=True)}
