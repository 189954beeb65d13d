"""``forecast/grib/fields``: each weather-model run's variables as COGs on the region's analysis grid.

One partition per run, as ``forecast/grib/raw``. The step stages the run's stored GRIB2 file, decodes it
and computes the platform variables (:mod:`.grib_fields`: temperature in °C, precipitation de-accumulated),
then runs the four blocking checks on that candidate before anything is written (write-audit-publish,
:mod:`shared.publication`): every expected lead time present, the model grid covers the region, values
physically possible, the per-step precipitation sums back to the run total. Only a run that passes all
four is reprojected and published, one COG per variable at
``forecast/grib/fields/partition={YYYY-MM-DD-HH:MM}/{variable}.tif``, then the run's manifest
``part.parquet`` beside them, last (:mod:`.fields_manifest`: a reader that finds it finds the whole run,
and readers open the fields through it); a run that fails keeps the last
published fields (none, for a new run) and the step fails naming the checks, the raw file being the kept
candidate. A file that cannot be decoded at all (truncated, not GRIB) fails the step naming the file.

The analysis grid is the one ``meteo/daily_grids`` builds for the region (its consolidated DTM averaged
onto ``resolution_m`` cells in the region's CRS), so forecast and observed fields share their cells.
"""

import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from landing_zone.defs.catchments.rasters import resample_dem
from landing_zone.defs.features.daily_cogs import read_analysis_grid
from landing_zone.defs.features.gridding import AnalysisGrid
from landing_zone.defs.forecasts.fields_manifest import (
    MANIFEST_DESCRIPTIONS,
    MANIFEST_SCHEMA,
    fields_manifest,
    manifest_key,
    write_manifest,
)
from landing_zone.defs.forecasts.grib_fields import (
    EXPECTED_HORIZON_H,
    EXPECTED_STEP_H,
    VARIABLES,
    DecodedRun,
    FieldCog,
    Finding,
    GribFileError,
    LeadFields,
    check_accumulation,
    check_coverage,
    check_lead_times,
    check_physical_bounds,
    decode_run,
    expected_steps,
    lead_fields,
    write_run_cogs,
)
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS, FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import GRIB_EXTENSION, run_of
from shared.assets.landing_zone import DTM_CONSOLIDATED, FORECAST_RUNS, REGIONS
from shared.automation import when_dep_passed
from shared.columns import described_columns
from shared.freshness import FORECAST_FRESHNESS
from shared.k8s.op_tags import K8sOpTags
from shared.publication import failed_blocking, reject
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import StoredRaster
from shared.regions import Region, platform_regions, region, regions_file
from shared.resources.platform import TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import COG, AssetLocation, partition_dimensions

MAX_FINDINGS_SHOWN = 20
"""Findings listed in a check's metadata (the count is always complete)."""


def run_check(name: str, description: str) -> dg.AssetCheckSpec:
    """A blocking check of one run's fields, partitioned like the asset (see :data:`CHECKS`)."""
    return dg.AssetCheckSpec(
        name, asset=FORECAST_GRIB_FIELDS, blocking=True, partitions_def=FORECAST_RUNS, description=description
    )


CHECKS = {
    "lead_times": run_check(
        "lead_times_complete",
        "Every expected lead time (config: step_h to horizon_h) of both variables is present.",
    ),
    "coverage": run_check(
        "grid_covers_region",
        "The model grid's points surround the region's analysis grid on every side.",
    ),
    "physical_bounds": run_check(
        "values_within_physical_bounds",
        "Temperature within -90..60 °C, per-step precipitation within 0..305 mm/h times the "
        "step's hours, no missing value.",
    ),
    "accumulation": run_check(
        "precipitation_sums_to_run_total",
        "The de-accumulated precipitation sums back to the run total within the packing "
        "precision (a clipped negative step breaks it).",
    ),
}
"""The blocking checks by the :class:`~.grib_fields.Finding` ``check`` they report. Partitioned like the
asset, so each run's results are its own: a broken run's failed check holds back no other run's
downstream automation (:func:`shared.automation.when_dep_passed`)."""
CHECK_SPECS = list(CHECKS.values())


class ForecastFieldsConfig(dg.Config):
    """Which region's analysis grid, and the lead times a run must hold."""

    region: str | None = Field(
        default=None,
        description="Region whose analysis grid the fields are put on; default: the regions file's only "
        "region (required when it has several).",
    )
    resolution_m: float = Field(
        default=250.0, gt=0, description="Cell size in metres (meteo/daily_grids' default, same cells)."
    )
    step_h: int = Field(default=EXPECTED_STEP_H, gt=0, description="Expected hours between lead times.")
    horizon_h: int = Field(default=EXPECTED_HORIZON_H, gt=0, description="Expected last lead time (h).")


@dg.asset(
    key=FORECAST_GRIB_FIELDS,
    metadata=described_columns(FORECAST_GRIB_FIELDS.to_user_string(), MANIFEST_SCHEMA, MANIFEST_DESCRIPTIONS),
    partitions_def=FORECAST_RUNS,
    deps=[
        FORECAST_GRIB_RAW,
        dg.AssetDep(DTM_CONSOLIDATED, partition_mapping=dg.AllPartitionMapping()),
    ],
    check_specs=CHECK_SPECS,
    automation_condition=when_dep_passed(FORECAST_GRIB_RAW),
    freshness_policy=FORECAST_FRESHNESS,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.medium(divider=2, env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "grib2"},
    description="Each weather-model run's fields on the region's analysis grid (meteo/daily_grids' grid: "
    "region CRS, 250 m default): one COG per variable at forecast/grib/fields/partition=YYYY-MM-DD-HH:MM/"
    "{variable}.tif (air_temperature_c, bilinear; precipitation_mm de-accumulated to per-step amounts, "
    "negative steps clipped to 0 and counted, area-weighted average), float32, nodata -9999, band n = n-th "
    "lead time, band description = its valid time (UTC). Published only when its four blocking checks pass "
    "(lead times, coverage, physical bounds, sum-back to the run total). part.parquet beside the COGs is "
    "the run's manifest, written last (a row per variable and band: cog_key, band, lead_h, valid_time, "
    "interval_start, run_time, region): readers open the fields through it, so they see whole runs only. "
    "Requested automatically when the run's raw file is stored. Metadata: run time, lead times, clipped "
    "negative count, URIs.",
)
def grib_fields(
    context: dg.AssetExecutionContext, config: ForecastFieldsConfig, storage: StorageResource
) -> Iterator[Any]:
    started = time.perf_counter()
    store = storage.get_storage()
    place = configured_region(config.region)
    raw_key = AssetLocation.for_partition(FORECAST_GRIB_RAW, FORECAST_RUNS, context.partition_key).key(
        GRIB_EXTENSION
    )
    location = AssetLocation.for_partition(FORECAST_GRIB_FIELDS, FORECAST_RUNS, context.partition_key)
    with tempfile.TemporaryDirectory(prefix="forecast-fields-") as tmp:
        workdir = Path(tmp)
        for folder in ("raw", "dtm", "cogs"):
            (workdir / folder).mkdir()
        (local,) = store.stage_files([raw_key], workdir / "raw")
        try:
            run = decode_run(local, store.uri(raw_key))
        except GribFileError as error:
            raise dg.Failure(f"forecast run {context.partition_key}: {error}", allow_retries=False) from None
        expected_run = run_of(context.partition_key)
        if run.run_time != expected_run:
            raise dg.Failure(
                f"{store.uri(raw_key)}: its messages are of run {run.run_time:%Y-%m-%d %H} UTC, not of the "
                f"partition's run {expected_run:%Y-%m-%d %H} UTC",
                allow_retries=False,
            )
        grid, crs = region_grid(store, place, config.resolution_m, workdir / "dtm")
        fields = lead_fields(run)
        keys = {name: location.key(COG, name=name) for name in fields}
        findings = run_checks(run, fields, grid, crs, expected_steps(config.step_h, config.horizon_h))
        results = check_results(findings)
        yield from results
        failed = failed_blocking(results, CHECK_SPECS)
        if failed:
            reject(FORECAST_GRIB_FIELDS, failed, store.uri(raw_key))
        cogs = write_run_cogs(fields, run, grid, crs, workdir / "cogs", DEFAULT_GDAL_CACHE_MB)
        publish(store, context.partition_key, cogs, fields_manifest(run.run_time, place.name, fields, keys))
    yield dg.MaterializeResult(
        metadata=fields_metadata(run, fields, cogs, store, location, place, grid, crs)
        | {
            "manifest": dg.MetadataValue.path(
                store.uri(manifest_key(FORECAST_GRIB_FIELDS.path, context.partition_key))
            ),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


def configured_region(name: str | None, asset: dg.AssetKey = FORECAST_GRIB_FIELDS) -> Region:
    """The named region, or the regions file's only one (``asset``: whose config to set, for the error)."""
    if name is not None:
        return region(name)
    regions = platform_regions()
    if len(regions) != 1:
        raise dg.Failure(
            f"the regions file {regions_file()} has {len(regions)} regions ({sorted(regions)}): set the "
            f"`region` config of {asset.to_user_string()}",
            allow_retries=False,
        )
    return next(iter(regions.values()))


def region_grid(
    store: Storage, place: Region, resolution_m: float, workdir: Path
) -> tuple[AnalysisGrid, str]:
    """The region's analysis grid as ``meteo/daily_grids`` builds it, from its stored consolidated DTM."""
    key = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, place.name)).key(COG)
    if not store.exists(key):
        raise dg.Failure(
            f"region {place.name!r} has no consolidated DTM at {store.uri(key)} to take its analysis grid "
            f"from: materialise {DTM_CONSOLIDATED.to_user_string()} for it first",
            allow_retries=False,
        )
    (local,) = store.stage_files([key], workdir)
    origin = f"region {place.name!r} (the `crs` of its entry in {regions_file()})"
    dem = StoredRaster(store.uri(key), str(local))
    return read_analysis_grid(resample_dem(dem, place.crs, resolution_m, DEFAULT_GDAL_CACHE_MB, origin))


def run_checks(
    run: DecodedRun,
    fields: dict[str, LeadFields],
    grid: AnalysisGrid,
    crs: str,
    steps_h: Sequence[int],
) -> dict[str, list[Finding]]:
    """Each check's findings on the candidate (empty: passed)."""
    height, width = grid.shape
    bounds = (grid.west, grid.north - height * grid.cell, grid.west + width * grid.cell, grid.north)
    return {
        "lead_times": check_lead_times(run, steps_h, [variable.name for variable in VARIABLES.values()]),
        "coverage": check_coverage(run, bounds, crs),
        "physical_bounds": check_physical_bounds(run, fields),
        "accumulation": check_accumulation(run, fields),
    }


def check_results(findings: dict[str, list[Finding]]) -> list[dg.AssetCheckResult]:
    """One result per check, its findings' messages in metadata."""
    return [
        dg.AssetCheckResult(
            check_name=spec.name,
            asset_key=FORECAST_GRIB_FIELDS,
            passed=not findings[check],
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "findings": dg.MetadataValue.int(len(findings[check])),
                "messages": dg.MetadataValue.json(
                    [finding.message for finding in findings[check][:MAX_FINDINGS_SHOWN]]
                ),
            },
        )
        for check, spec in CHECKS.items()
    ]


def publish(store: Storage, partition_key: str, cogs: dict[str, FieldCog], manifest: pl.DataFrame) -> None:
    """The run's publication unit (:mod:`.fields_manifest`): the old manifest removed, each variable's COG
    stored at its manifest key (a variable an earlier version had and this run lacks is removed, so the
    folder holds one run's fields only), then the new manifest, last."""
    location = AssetLocation.for_partition(FORECAST_GRIB_FIELDS, FORECAST_RUNS, partition_key)
    store.delete(manifest_key(FORECAST_GRIB_FIELDS.path, partition_key))
    keys = dict(manifest.select("variable", "cog_key").unique().iter_rows())
    for name, cog in cogs.items():
        store.put_file(cog.path, keys[name])
    for variable in VARIABLES.values():
        if variable.name not in cogs:
            store.delete(location.key(COG, name=variable.name))
    write_manifest(store, FORECAST_GRIB_FIELDS.path, partition_key, manifest)


def fields_metadata(
    run: DecodedRun,
    fields: dict[str, LeadFields],
    cogs: dict[str, FieldCog],
    store: Storage,
    location: AssetLocation,
    place: Region,
    grid: AnalysisGrid,
    crs: str,
) -> dict[str, Any]:
    """What an operator compares between runs: run time, lead times, clipped steps, where each COG is."""
    height, width = grid.shape
    keys = {name: location.key(COG, name=name) for name in sorted(cogs)}
    return {
        "run_time": dg.MetadataValue.text(run.run_time.isoformat()),
        "source": dg.MetadataValue.path(run.source),
        "region": dg.MetadataValue.text(place.name),
        "crs": dg.MetadataValue.text(crs),
        "size": dg.MetadataValue.text(f"{width}x{height}"),
        "lead_times_h": dg.MetadataValue.json({name: list(fields[name].leads_h) for name in sorted(fields)}),
        "clipped_negative": dg.MetadataValue.int(sum(field.clipped_total for field in fields.values())),
        "uris": dg.MetadataValue.json({name: store.uri(key) for name, key in keys.items()}),
        "gdal_paths": dg.MetadataValue.json({name: store.gdal_path(key) for name, key in keys.items()}),
        "minimum": dg.MetadataValue.json(
            {name: float(cog.statistics.minimum.min()) for name, cog in sorted(cogs.items())}
        ),
        "maximum": dg.MetadataValue.json(
            {name: float(cog.statistics.maximum.max()) for name, cog in sorted(cogs.items())}
        ),
    }
