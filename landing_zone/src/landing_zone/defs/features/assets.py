"""Every asset of the features domain: ``meteo/daily_grids``, the polished meteo series interpolated
onto the region's analysis grid, one month and region per partition; the catchment forcings, attributes
and climatic indices built on them; each weather-model run's catchment forecast forcings.

How it stores several COGs: the raster IO manager stores one COG per asset output, and a partition here
is one COG per variable. So the asset writes its COGs itself through the storage resource, at
``AssetLocation(...).key("tif", name=variable)`` in the partition's folder, and returns the month's
manifest (a row per variable and day, :data:`.daily_cogs.MANIFEST_SCHEMA`), which the Parquet IO manager
stores as ``part.parquet`` beside them. The manifest is audited by the blocking checks first
(write-audit-publish, :mod:`shared.publication`): the COGs are uploaded and the manifest published only
when they pass; a rejected month keeps its manifest as ``candidate.parquet`` and the published COGs
stay as they were.

The grids, forcings, attributes and climatic indices follow their inputs by themselves
(:func:`shared.automation.when_deps_passed`): a new polished series regrids every registered month of every
region, and a region's forcings wait until every month of the region passed its blocking checks.

The computation is in :mod:`.gridding` (the method) and :mod:`.daily_cogs` (the layout); both import
rasterio and pyproj inside their functions, so loading the code location does not load GDAL.
"""

import datetime as dt
import io
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from landing_zone.defs.catchments.rasters import resample_dem
from landing_zone.defs.elevation.keys import elevation_key
from landing_zone.defs.features.checks import (
    catchment_attribute_sql_checks,
    catchment_forcings_sql_checks,
    catchment_forecast_forcings_sql_checks,
    catchment_vegetation_sql_checks,
    climatic_index_sql_checks,
    daily_grid_sql_checks,
)
from landing_zone.defs.features.climatic_indices import (
    FORCING_COLUMNS,
    INDEX_DESCRIPTIONS,
    INDEX_SCHEMA,
    climatic_indices,
    reference_period,
)
from landing_zone.defs.features.daily_cogs import (
    MANIFEST_DESCRIPTIONS,
    MANIFEST_SCHEMA,
    manifest_rows,
    read_analysis_grid,
    write_daily_cog,
)
from landing_zone.defs.features.forcings import (
    FORCING_DESCRIPTIONS,
    FORCING_SCHEMA,
    FORECAST_FORCING_SCHEMA,
    Catchments,
    MonthGrids,
    WeightsCache,
    catchments_of,
    describe_weights,
    forcings_table,
)
from landing_zone.defs.features.forecast_forcings import (
    ForecastFieldsError,
    ForecastForcings,
    forecast_forcings,
    stored_runs,
)
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
from landing_zone.defs.features.keys import CATCHMENT_VEGETATION, METEO_DAILY_GRIDS
from landing_zone.defs.features.static_attributes import (
    ATTRIBUTE_DESCRIPTIONS,
    ATTRIBUTE_SCHEMA,
    attribute_table,
)
from landing_zone.defs.features.vegetation import (
    MIN_VALID_FRACTION,
    VEGETATION_DESCRIPTIONS,
    VEGETATION_SCHEMA,
    CompositeError,
    MonthComposite,
    month_statistics,
    vegetation_table,
)
from landing_zone.defs.features.zonal import CatchmentOutsideGridError
from landing_zone.defs.forecasts.fields import configured_region
from landing_zone.defs.forecasts.fields_manifest import FieldsManifestError, manifest_key
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS
from landing_zone.defs.forecasts.raw_runs import run_of
from landing_zone.defs.satellite.keys import SATELLITE_MONTHS, SATELLITE_NDVI
from landing_zone.defs.stations.keys import station_key
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CATCHMENT_FORECAST_FORCINGS,
    CATCHMENT_PARTITIONS,
    CLIMATIC_INDICES,
    CONDITIONING,
    DTM_CONSOLIDATED,
    FORECAST_RUNS,
    METEO_POLISHED,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.automation import when_dep_passed, when_deps_passed
from shared.columns import described_columns
from shared.freshness import FORECAST_FRESHNESS
from shared.k8s.op_tags import K8sOpTags
from shared.partitions import BY_REGION
from shared.publication import (
    failed_blocking,
    keep_candidate_table,
    publish_if_passed,
    publish_table_if_passed,
)
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import StoredRaster, scratch_dir
from shared.regions import region, regions_file
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import PARQUET_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import COG, PARQUET, AssetLocation
from shared.vectors.formats import read_geoparquet
from shared.vectors.geoframe import GeoFrame

METEO_MONTHS = dg.DynamicPartitionsDefinition(name="meteo_months")
"""``YYYY-MM`` months of the polished meteo series, registered by ``meteo_months_sensor``."""

DAILY_GRID_PARTITIONS = dg.MultiPartitionsDefinition({"month": METEO_MONTHS, "region": REGIONS})
"""One month of one region per partition: stored under ``month=YYYY-MM/region=name/``."""

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
    metadata=described_columns(METEO_DAILY_GRIDS.to_user_string(), MANIFEST_SCHEMA, MANIFEST_DESCRIPTIONS),
    ins={
        "polished": dg.AssetIn(key=METEO_POLISHED),
        "station_list": dg.AssetIn(key=STATION_LIST),
        "dem": dg.AssetIn(key=DTM_CONSOLIDATED, partition_mapping=BY_REGION),
    },
    partitions_def=DAILY_GRID_PARTITIONS,
    check_specs=CHECK_SPECS,
    retry_policy=TRANSIENT_STEP_RETRY,
    automation_condition=when_deps_passed(),
    op_tags=K8sOpTags.medium(divider=2, env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "parquet", "numpy"},
    description="Daily grids of every polished meteo variable (precipitation_mm, air_temperature_c, "
    "air_temperature_max_c, air_temperature_min_c, "
    "relative_humidity_pct, air_pressure_hpa) on the region's analysis grid (250 m default, region CRS, "
    "the consolidated DTM's extent). Method: only values flagged ok/duplicate/corrected/imputed; inverse "
    "distance weighting (power 2, stations within 100 km); temperature reduced to sea level with -6.5 C/km "
    "(fitted per day when >= 5 stations span >= 300 m), pressure with the hypsometric equation, then "
    "brought back to each cell's mean DTM elevation. Layout: one COG per variable at "
    "meteo/daily_grids/month=YYYY-MM/region=R/{variable}.tif, float32, nodata -9999, band n = day n, band "
    "description = ISO date, band tags DATE, VALID_STATIONS, TOO_FEW_STATIONS (YES: fewer valid stations "
    "than the variable's minimum of 2; the band is all nodata). part.parquet "
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


# --- features/catchment_forcings (issue 14, part 2) -------------------------------------------------
# Daily catchment means of the daily grids (:mod:`.zonal`, :mod:`.forcings`). The grids are read as
# stored: the region's published month manifests are listed in storage (only months whose checks
# passed are published) and each month's COGs staged one month at a time, so a region with months not
# yet gridded still gets forcings for those that are. The dependencies below give the lineage: every
# month x region partition of the grids, and the region's catchments of both strategies, of which the
# config picks one.

FORCINGS_CHECKS = catchment_forcings_sql_checks()
FORCINGS_CHECK_SPECS = [check.spec(CATCHMENT_FORCINGS) for check in FORCINGS_CHECKS]

OUDIN_PET = (
    "Oudin et al. (2005): PET = Re / (lambda rho) * (T + 5) / 100 mm/day for T > -5 C, else 0; Re the "
    "extraterrestrial radiation (FAO-56 eq. 21) at the catchment centroid's WGS84 latitude and day of "
    "year, lambda = 2.45 MJ/kg, rho = 1000 kg/m3, T the catchment-mean daily air temperature"
)


class CatchmentStrategyConfig(dg.Config):
    """Which catchments a per-region features asset reads (forcings, attributes, vegetation): the layers
    of one conditioning strategy, read from storage by :func:`read_catchments`."""

    conditioning: str = Field(
        default="burn_fill",
        description="DEM conditioning strategy of the catchments and reaches read (burn_fill, fill).",
    )


@dg.asset(
    key=CATCHMENT_FORCINGS,
    metadata=described_columns(CATCHMENT_FORCINGS.to_user_string(), FORCING_SCHEMA, FORCING_DESCRIPTIONS),
    deps=[
        dg.AssetDep(METEO_DAILY_GRIDS, partition_mapping=BY_REGION),
        dg.AssetDep(REACH_CATCHMENTS, partition_mapping=BY_REGION),
        dg.AssetDep(PROGRESSIVE_CATCHMENTS, partition_mapping=BY_REGION),
    ],
    partitions_def=REGIONS,
    check_specs=FORCINGS_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    automation_condition=when_deps_passed(),
    op_tags=K8sOpTags.medium(env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"parquet", "numpy"},
    description="Daily catchment means of every gridded variable (meteo/daily_grids, all published months "
    "of the region) for each reach and each progressive catchment of one conditioning strategy (config, "
    "default burn_fill, in the metadata). Coverage-weighted with exactextract: each catchment's cell "
    "coverage fractions are computed once per grid and the means of all days are a sparse (catchments x "
    "cells) @ (cells x days) product, so a catchment smaller than a cell still gets a value; "
    "{variable}_valid_fraction is the coverage-weighted share of the catchment with valid input. pet_mm: "
    f"{OUDIN_PET}. Columns: catchment_id, catchment_kind, date, area_km2, outlet_id, one column per "
    "variable, pet_mm, the valid fractions. Published only when its blocking checks pass.",
)
def catchment_forcings(
    context: dg.AssetExecutionContext,
    config: CatchmentStrategyConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
) -> Iterator[Any]:
    region_name = context.partition_key
    store = storage.get_storage()
    catchments = catchments_of(
        read_catchments(store, REACH_CATCHMENTS, config.conditioning, region_name),
        read_catchments(store, PROGRESSIVE_CATCHMENTS, config.conditioning, region_name),
    )
    months = region_month_cogs(store, region_name)
    table, cache = forcings_table(catchments, staged_months(store, months))
    location = AssetLocation.for_partition(CATCHMENT_FORCINGS, REGIONS, region_name)
    results = list(duckdb.check_frame(CATCHMENT_FORCINGS, FORCINGS_CHECKS, table))
    metadata = forcings_metadata(table, config.conditioning, sorted(months), cache)
    yield from publish_table_if_passed(
        CATCHMENT_FORCINGS,
        results,
        FORCINGS_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def read_catchments(store: Storage, key: dg.AssetKey, conditioning: str, region_name: str) -> GeoFrame:
    """One published catchment layer of the chosen strategy, read from storage: the strategy is a run
    config, which a static partition mapping cannot follow."""
    if conditioning not in CONDITIONING.get_partition_keys():
        strategies = CONDITIONING.get_partition_keys()
        raise ValueError(f"conditioning {conditioning!r}: expected one of {strategies}")
    partition = dg.MultiPartitionKey({"conditioning": conditioning, "region": region_name})
    object_key = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, str(partition)).key(PARQUET)
    with store.local_copy(object_key) as path:
        return read_geoparquet(path, store.uri(object_key))


def region_month_cogs(store: Storage, region_name: str) -> dict[str, dict[str, str]]:
    """``{month: {variable: COG key}}`` of every published month of the region's daily grids (from
    each month's manifest, published only when the month's checks passed)."""
    months: dict[str, dict[str, str]] = {}
    for listed in store.list("/".join(METEO_DAILY_GRIDS.path) + "/"):
        month = listed.key.split("month=", 1)[-1].split("/", 1)[0]
        partition = dg.MultiPartitionKey({"month": month, "region": region_name})
        location = AssetLocation.for_partition(METEO_DAILY_GRIDS, DAILY_GRID_PARTITIONS, str(partition))
        if listed.key != location.key(PARQUET):
            continue
        manifest = pl.read_parquet(io.BytesIO(store.get_bytes(listed.key)))
        pairs = manifest.select("variable", "cog_key").unique()
        months[month] = dict(zip(pairs["variable"], pairs["cog_key"], strict=True))
    return months


def staged_months(store: Storage, months: dict[str, dict[str, str]]) -> Iterator[MonthGrids]:
    """Each month's COGs as local files, one month on disk at a time, oldest first."""
    for month in sorted(months):
        variables = sorted(months[month])
        with tempfile.TemporaryDirectory(prefix=f"forcings-{month}-", dir=scratch_dir("forcings-")) as folder:
            paths = store.stage_files([months[month][v] for v in variables], Path(folder))
            yield MonthGrids(month, dict(zip(variables, paths, strict=True)))


def forcings_metadata(
    table: pl.DataFrame, conditioning: str, months: list[str], cache: WeightsCache
) -> dict[str, Any]:
    """What a reviewer compares between runs: the strategy, the period, the catchments, the least valid
    input per variable."""
    fractions = [column for column in table.columns if column.endswith("_valid_fraction")]
    least = table.select(pl.col(fractions).min()).row(0, named=True)
    kinds = table.group_by("catchment_kind").agg(pl.col("catchment_id").n_unique()).rows()
    return {
        "conditioning": dg.MetadataValue.text(conditioning),
        "months": dg.MetadataValue.json(months),
        "first_date": dg.MetadataValue.text(str(table["date"].min())),
        "last_date": dg.MetadataValue.text(str(table["date"].max())),
        "catchments": dg.MetadataValue.json(dict(sorted(kinds))),
        "min_valid_fraction": dg.MetadataValue.json({k: round(float(v), 4) for k, v in least.items()}),
        "pet_formula": dg.MetadataValue.text(OUDIN_PET),
        "coverage_weights": dg.MetadataValue.json(describe_weights(cache)),
        "rows": dg.MetadataValue.int(table.height),
    }


# --- features/catchment_attributes and climatic_indices/catchment (issue 14, part 3) ------------------
# Static attributes of the progressive catchments (:mod:`.static_attributes`) and their CAMELS climatic
# indices from the catchment forcings (:mod:`.climatic_indices`). The attributes read the catchments
# and reaches of the strategy the config picks from storage (:func:`read_catchments`, as the forcings
# do), the consolidated DTM and DSM through the raster IO manager.

DSM_CONSOLIDATED = elevation_key("dsm", "consolidated")
ATTRIBUTE_CHECKS = catchment_attribute_sql_checks()
ATTRIBUTE_CHECK_SPECS = [check.spec(CATCHMENT_ATTRIBUTES) for check in ATTRIBUTE_CHECKS]
INDEX_CHECKS = climatic_index_sql_checks()
INDEX_CHECK_SPECS = [check.spec(CLIMATIC_INDICES) for check in INDEX_CHECKS]


@dg.asset(
    key=CATCHMENT_ATTRIBUTES,
    metadata=described_columns(
        CATCHMENT_ATTRIBUTES.to_user_string(), ATTRIBUTE_SCHEMA, ATTRIBUTE_DESCRIPTIONS
    ),
    ins={"dtm": dg.AssetIn(key=DTM_CONSOLIDATED), "dsm": dg.AssetIn(key=DSM_CONSOLIDATED)},
    deps=[
        dg.AssetDep(PROGRESSIVE_CATCHMENTS, partition_mapping=BY_REGION),
        dg.AssetDep(REACHES, partition_mapping=BY_REGION),
    ],
    partitions_def=REGIONS,
    check_specs=ATTRIBUTE_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    automation_condition=when_deps_passed(),
    op_tags=K8sOpTags.medium(env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"parquet", "gdal"},
    description="Static attributes of each progressive catchment of one conditioning strategy (config, "
    "default burn_fill, in the metadata): area_km2 (polygon area); elevation_mean_m, elevation_std_m, "
    "slope_mean_deg (Horn), canopy_height_mean_m (DSM minus DTM, negatives clipped to 0), each "
    "coverage-weighted with exactextract on the consolidated DTM's own cells; drainage_density_km_per_km2 "
    "(length of the reaches at and above the outlet reach / area); strahler_order of the outlet reach; "
    "compactness (Gravelius: perimeter / circumference of the circle of equal area, >= 1). Published only "
    "when its blocking checks pass.",
)
def catchment_attributes(
    context: dg.AssetExecutionContext,
    config: CatchmentStrategyConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
    dtm: StoredRaster,
    dsm: StoredRaster,
) -> Iterator[Any]:
    region_name = context.partition_key
    store = storage.get_storage()
    table = attribute_table(
        read_catchments(store, PROGRESSIVE_CATCHMENTS, config.conditioning, region_name),
        read_catchments(store, REACHES, config.conditioning, region_name),
        dtm.gdal_path,
        dsm.gdal_path,
        scratch_dir("attributes-"),
    )
    location = AssetLocation.for_partition(CATCHMENT_ATTRIBUTES, REGIONS, region_name)
    results = list(duckdb.check_frame(CATCHMENT_ATTRIBUTES, ATTRIBUTE_CHECKS, table))
    metadata = {
        "conditioning": dg.MetadataValue.text(config.conditioning),
        "catchments": dg.MetadataValue.int(table.height),
        "means": dg.MetadataValue.json(column_means(table)),
        "dtm": dg.MetadataValue.path(dtm.uri),
        "dsm": dg.MetadataValue.path(dsm.uri),
    }
    yield from publish_table_if_passed(
        CATCHMENT_ATTRIBUTES,
        results,
        ATTRIBUTE_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def column_means(table: pl.DataFrame) -> dict[str, float]:
    """Mean of every numeric column, rounded: what a reviewer compares between runs and strategies."""
    means = table.select(pl.exclude("catchment_id").mean()).row(0, named=True)
    return {name: round(float(value), 4) for name, value in means.items() if value is not None}


class ClimaticIndicesConfig(dg.Config):
    """The reference period (inclusive ISO dates); each end defaults to the forcings' own."""

    start: str | None = Field(default=None, description="First day, e.g. 1991-01-01; default the first.")
    end: str | None = Field(default=None, description="Last day, e.g. 2020-12-31; default the last.")


@dg.asset(
    key=CLIMATIC_INDICES,
    metadata=described_columns(CLIMATIC_INDICES.to_user_string(), INDEX_SCHEMA, INDEX_DESCRIPTIONS),
    ins={"forcings": dg.AssetIn(key=CATCHMENT_FORCINGS)},
    partitions_def=REGIONS,
    check_specs=INDEX_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    automation_condition=when_deps_passed(),
    op_tags=K8sOpTags.small(),
    kinds={"parquet", "polars"},
    description="CAMELS climatic indices (Addor et al. 2017) of each progressive catchment over the "
    "reference period (config; default the forcings' whole span; in the metadata): p_mean, pet_mean "
    "(mm/day), t_mean (C), aridity = pet_mean/p_mean, p_seasonality (Woods 2009 sine fits of P and T), "
    "frac_snow (share of P on days below 0 C), high_prec_freq/dur (days >= 5 x p_mean: days/yr, mean "
    "run length), low_prec_freq/dur (days < 1 mm). Durations are 0 where no such day occurs. Published "
    "only when its blocking checks pass.",
)
def catchment_climatic_indices(
    context: dg.AssetExecutionContext,
    config: ClimaticIndicesConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
    forcings: pl.LazyFrame,
) -> Iterator[Any]:
    days = forcings.filter(pl.col("catchment_kind") == "progressive").select(FORCING_COLUMNS).collect()
    start, end = reference_period(days, *(optional_date(value) for value in (config.start, config.end)))
    table = climatic_indices(days, start, end)
    store = storage.get_storage()
    location = AssetLocation.for_partition(CLIMATIC_INDICES, REGIONS, context.partition_key)
    results = list(duckdb.check_frame(CLIMATIC_INDICES, INDEX_CHECKS, table))
    metadata = {
        "reference_start": dg.MetadataValue.text(start.isoformat()),
        "reference_end": dg.MetadataValue.text(end.isoformat()),
        "reference_days": dg.MetadataValue.int((end - start).days + 1),
        "catchments": dg.MetadataValue.int(table.height),
        "means": dg.MetadataValue.json(column_means(table)),
    }
    yield from publish_table_if_passed(
        CLIMATIC_INDICES,
        results,
        INDEX_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def optional_date(value: str | None) -> dt.date | None:
    """An ISO date from the config, None where unset."""
    return dt.date.fromisoformat(value) if value else None


# --- features/catchment_forecast_forcings (issue 16) ------------------------------------------------
# Each weather-model run's daily forcings per reach and progressive catchment, the discharge forecast's
# input beyond the run time (:mod:`.forecast_forcings`). One partition per run. The step reads the run's
# forecast/grib/fields through its manifest (so only a whole published run, one that passed its checks)
# and, for the hours of the run's own day before its start, earlier runs' fields the same way; the
# catchments of the configured strategy are read from storage as the observed forcings read them.
# Materialised automatically (:func:`shared.automation.when_dep_passed`) when the run's fields are newly
# published with their blocking checks passed, for every run partition (a late or backfilled run too); a
# run whose fields failed has no published fields, so it never gets forecast forcings.

FORECAST_CHECKS = catchment_forecast_forcings_sql_checks()
FORECAST_CHECK_SPECS = [check.spec(CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS) for check in FORECAST_CHECKS]
"""Per run partition, as the fields' checks: one run's failed check holds back no other run's forecast."""


class ForecastForcingsConfig(dg.Config):
    """Which region's fields and which catchments the forecast forcings follow."""

    region: str | None = Field(
        default=None,
        description="Region of the fields (forecast/grib/fields' `region`); default: the regions file's "
        "only region (required when it has several).",
    )
    conditioning: str = Field(
        default="burn_fill",
        description="DEM conditioning strategy of the reach and progressive catchments (burn_fill, fill).",
    )


@dg.asset(
    key=CATCHMENT_FORECAST_FORCINGS,
    metadata=described_columns(
        CATCHMENT_FORECAST_FORCINGS.to_user_string(), FORECAST_FORCING_SCHEMA, FORCING_DESCRIPTIONS
    ),
    deps=[
        FORECAST_GRIB_FIELDS,
        dg.AssetDep(REACH_CATCHMENTS, partition_mapping=dg.AllPartitionMapping()),
        dg.AssetDep(PROGRESSIVE_CATCHMENTS, partition_mapping=dg.AllPartitionMapping()),
    ],
    partitions_def=FORECAST_RUNS,
    check_specs=FORECAST_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    automation_condition=when_dep_passed(FORECAST_GRIB_FIELDS),
    freshness_policy=FORECAST_FRESHNESS,
    op_tags=K8sOpTags.medium(divider=2),
    kinds={"parquet", "numpy"},
    description="Daily catchment forecast forcings of one weather-model run (forecast/grib/fields, read "
    "through the run's manifest) for each reach and progressive catchment of one conditioning strategy "
    "(config, default burn_fill), in the observed forcings' names and units: per UTC lead day (1 = the "
    "run's own day, then each day the horizon covers to its end) precipitation_mm = the sum of the 3-hourly "
    "amounts whose interval lies in the day, air_temperature_c = the mean of the values at 00, 03 ... 21 "
    "UTC, air_temperature_max_c / _min_c their extremes, per cell, then coverage-weighted catchment means "
    "(exactextract, as the observed forcings; {variable}_valid_fraction). The hours of day 1 before the "
    "run's start come from the newest earlier stored run holding them (earlier_run_hours), else the day is "
    "scaled from the hours it has (scaled_hours). pet_mm: "
    f"{OUDIN_PET}. Published only when its blocking checks pass; materialised automatically when the "
    "run's fields are published with their blocking checks passed.",
)
def catchment_forecast_forcings(
    context: dg.AssetExecutionContext,
    config: ForecastForcingsConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
) -> Iterator[Any]:
    store = storage.get_storage()
    place = configured_region(config.region, CATCHMENT_FORECAST_FORCINGS)
    catchments = catchments_of(
        read_catchments(store, REACH_CATCHMENTS, config.conditioning, place.name),
        read_catchments(store, PROGRESSIVE_CATCHMENTS, config.conditioning, place.name),
    )
    forcings = run_forcings(store, place.name, catchments, context.partition_key)
    location = AssetLocation.for_partition(CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS, context.partition_key)
    results = list(duckdb.check_frame(CATCHMENT_FORECAST_FORCINGS, FORECAST_CHECKS, forcings.table))
    metadata = forecast_metadata(forcings, place.name, config.conditioning)
    yield from publish_table_if_passed(
        CATCHMENT_FORECAST_FORCINGS,
        results,
        FORECAST_CHECK_SPECS,
        forcings.table,
        metadata,
        store,
        location,
    )


def run_forcings(store: Storage, region: str, catchments: Catchments, partition_key: str) -> ForecastForcings:
    """The run's forecast forcings from its published fields (and earlier runs'); a run without
    published fields, or fields that cannot make whole days, fail the step without a retry (the same
    objects would fail again)."""
    with stored_runs(store, FORECAST_GRIB_FIELDS.path, region, scratch_dir("forecast-forcings-")) as runs:
        try:
            run = runs.get(run_of(partition_key))
            if run is None:
                raise dg.Failure(
                    f"run {partition_key} has no published fields (no manifest at "
                    f"{store.uri(manifest_key(FORECAST_GRIB_FIELDS.path, partition_key))}): materialise "
                    f"{FORECAST_GRIB_FIELDS.to_user_string()} for it first (a run that failed its checks "
                    "has none)",
                    allow_retries=False,
                )
            return forecast_forcings(catchments, run, runs.get)
        except (ForecastFieldsError, FieldsManifestError, CatchmentOutsideGridError) as error:
            raise dg.Failure(f"run {partition_key}: {error}", allow_retries=False) from None


def forecast_metadata(forcings: ForecastForcings, region: str, conditioning: str) -> dict[str, Any]:
    """What an operator compares between runs: the run, its lead days, where day 1's early hours came from."""
    table = forcings.table
    kinds = table.group_by("catchment_kind").agg(pl.col("catchment_id").n_unique()).rows()
    scaled = table.filter(pl.col("lead_day") == 1)["scaled_hours"].to_numpy()
    return {
        "region": dg.MetadataValue.text(region),
        "conditioning": dg.MetadataValue.text(conditioning),
        "run_time": dg.MetadataValue.text(table["run_time"][0].isoformat()),
        "fields_manifest": dg.MetadataValue.path(forcings.source),
        "lead_days": dg.MetadataValue.json([day.date.isoformat() for day in forcings.days]),
        "earlier_run_hours": dg.MetadataValue.json(forcings.earlier_runs),
        "scaled_hours": dg.MetadataValue.float(float(scaled.max())),
        "catchments": dg.MetadataValue.json(dict(sorted(kinds))),
        "pet_formula": dg.MetadataValue.text(OUDIN_PET),
        "coverage_weights": dg.MetadataValue.json(describe_weights(forcings.weights)),
        "rows": dg.MetadataValue.int(table.height),
    }


# --- features/catchment_vegetation (issue 17) -------------------------------------------------------
# Monthly NDVI attributes of the progressive catchments (:mod:`.vegetation`) from the satellite domain's
# composites. The composites are read as stored, one month staged at a time: every month registered in
# ``satellite_months`` whose composite the region has (a composite is stored only when its checks
# passed); a month without one is skipped with its reason in the metadata. The registered months, not
# a listing of storage: a month the catalogue withdrew is deleted from ``satellite_months`` while its
# stored COG stays, and must not count. The dependency gives the lineage: every month x region partition
# of the composites.

VEGETATION_CHECKS = catchment_vegetation_sql_checks()
VEGETATION_CHECK_SPECS = [check.spec(CATCHMENT_VEGETATION) for check in VEGETATION_CHECKS]


@dg.asset(
    key=CATCHMENT_VEGETATION,
    metadata=described_columns(
        CATCHMENT_VEGETATION.to_user_string(), VEGETATION_SCHEMA, VEGETATION_DESCRIPTIONS
    ),
    deps=[
        dg.AssetDep(SATELLITE_NDVI, partition_mapping=BY_REGION),
        dg.AssetDep(PROGRESSIVE_CATCHMENTS, partition_mapping=BY_REGION),
    ],
    partitions_def=REGIONS,
    check_specs=VEGETATION_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.medium(env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"parquet", "gdal"},
    description="Monthly NDVI attributes of each progressive catchment of one conditioning strategy "
    "(config, default burn_fill, in the metadata), from band 1 of every registered month's satellite/ndvi "
    "composite of the region (a month without a stored composite is skipped, its reason in the metadata). "
    "Per catchment and month: ndvi_valid_fraction (coverage-weighted share of the catchment with a valid "
    "composite pixel, exactextract), ndvi_mean (coverage-weighted mean of the valid pixels; null below "
    f"{MIN_VALID_FRACTION:g} valid fraction); per catchment, on each of its rows: ndvi_seasonal_amplitude "
    "(the range of its climatology: monthly means averaged per calendar month over the years, largest "
    "calendar month minus smallest; null with a mean in fewer than two calendar months) and "
    "ndvi_months_observed. Published only when its blocking checks pass.",
)
def catchment_vegetation(
    context: dg.AssetExecutionContext,
    config: CatchmentStrategyConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
) -> Iterator[Any]:
    region_name = context.partition_key
    store = storage.get_storage()
    catchments = read_catchments(store, PROGRESSIVE_CATCHMENTS, config.conditioning, region_name)
    months = context.instance.get_dynamic_partitions(SATELLITE_MONTHS.name or "")
    statistics, skipped = monthly_statistics(store, catchments, region_name, sorted(months))
    table = vegetation_table(statistics)
    location = AssetLocation.for_partition(CATCHMENT_VEGETATION, REGIONS, region_name)
    checks = catchment_vegetation_sql_checks(catchments.frame["reach_id"].to_list())
    results = list(duckdb.check_frame(CATCHMENT_VEGETATION, checks, table))
    metadata = {
        "conditioning": dg.MetadataValue.text(config.conditioning),
        "months_used": dg.MetadataValue.json(sorted({f"{m:%Y-%m}" for m in table["month"]})),
        "months_skipped": dg.MetadataValue.json(skipped),
        "min_valid_fraction": dg.MetadataValue.float(MIN_VALID_FRACTION),
        "catchments": dg.MetadataValue.int(table["catchment_id"].n_unique()),
        "means": dg.MetadataValue.json(column_means(table.drop("month"))),
        "rows": dg.MetadataValue.int(table.height),
    }
    yield from publish_table_if_passed(
        CATCHMENT_VEGETATION,
        results,
        VEGETATION_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def monthly_statistics(
    store: Storage, catchments: GeoFrame, region_name: str, months: list[str]
) -> tuple[list[pl.DataFrame], dict[str, str]]:
    """Each month's catchment statistics, its composite staged one month at a time, and ``{month:
    reason}`` of the months skipped; none usable fails the step without a retry (the same objects would
    fail again)."""
    statistics: list[pl.DataFrame] = []
    skipped: dict[str, str] = {}
    for month in months:
        key = AssetLocation(SATELLITE_NDVI.path, {"month": month, "region": region_name}).key(COG)
        if not store.exists(key):
            skipped[month] = f"no composite at {store.uri(key)} (not materialised, or rejected by its checks)"
            continue
        with store.local_copy(key) as path:
            composite = MonthComposite(dt.date.fromisoformat(f"{month}-01"), str(path), store.uri(key))
            try:
                statistics.append(month_statistics(catchments, composite))
            except CompositeError as error:
                skipped[month] = str(error)
    if not statistics:
        raise dg.Failure(
            f"{CATCHMENT_VEGETATION.to_user_string()} {region_name}: no usable NDVI composite among the "
            f"{len(months)} registered satellite month(s) {months}: "
            + ("; ".join(f"{m}: {reason}" for m, reason in skipped.items()) or "register months first")
            + f" (materialise {SATELLITE_NDVI.to_user_string()} for the region)",
            allow_retries=False,
        )
    return statistics, skipped
