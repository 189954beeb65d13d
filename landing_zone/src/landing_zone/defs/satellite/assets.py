"""The satellite domain's assets, one month of one region per partition (:mod:`.keys`).

``satellite/scenes`` copies the month's scenes from the STAC catalogue unchanged into the raw layer
(:mod:`.raw_scenes`: each scene checked against its declared checksum and grid before it is stored, a bad
one skipped with its reason, a source that keeps failing fails the step) under content-addressed keys,
and publishes their manifest; ``satellite/ndvi`` composites the stored scenes the manifest lists into one
COG on the region's grid (:mod:`.monthly_ndvi`, :mod:`.compositing`). Both audit their candidate in
their own step before publishing it (write-audit-publish, :mod:`shared.publication`): a manifest whose
stored objects are not the bytes it records or not on the declared grid, or a composite with NDVI
outside [-1, 1], is kept as ``candidate.*`` and the published version stays. Since a scene object is
never overwritten, publishing the manifest is the one switch between versions of a month.

The sensor requests both for a new or changed month; ``satellite/ndvi`` is also requested by the
automation daemon whenever the same partition's scenes are newly published with their blocking check
passed (:func:`shared.automation.when_dep_passed`). GDAL, rasterio and pystac load inside the bodies.
"""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import dagster as dg
import polars as pl
from pydantic import Field

from landing_zone.defs.satellite import checks
from landing_zone.defs.satellite.catalogue import CatalogueError, read_catalogue
from landing_zone.defs.satellite.keys import SATELLITE_NDVI, SATELLITE_PARTITIONS, SATELLITE_SCENES
from landing_zone.defs.satellite.raw_scenes import (
    MANIFEST_DESCRIPTIONS,
    MANIFEST_SCHEMA,
    SKIPPED,
    copy_scene,
    manifest,
    skipped_rows,
)
from landing_zone.resources.sources import SourcesResource
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.automation import when_dep_passed
from shared.columns import described_columns
from shared.k8s.op_tags import K8sOpTags
from shared.partitions import BY_REGION
from shared.publication import (
    keep_candidate_file,
    publish_if_passed,
    publish_table_if_passed,
)
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import CogFile, scratch_dir
from shared.regions import region, regions_file
from shared.resources.platform import PARQUET_IO_MANAGER, RASTER_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import COG, AssetLocation
from shared.workers import ItemResult, RetryPolicy, WorkerPool

if TYPE_CHECKING:
    from landing_zone.defs.satellite.compositing import CompositeSummary, TargetGrid

SCENE_CHECK_SPECS = checks.scenes_check_specs()
NDVI_CHECK_SPECS = checks.ndvi_check_specs()

ONE_ATTEMPT = RetryPolicy(max_attempts=1)
"""A scene is tried once per step: fetching and storage retry each request themselves, and what fails
beyond their retries fails the step, which :data:`TRANSIENT_STEP_RETRY` runs again later."""


class ScenesConfig(dg.Config):
    """How many scenes download at once."""

    download_workers: int = Field(default=4, ge=1, description="Scenes fetched in parallel.")


@dg.asset(
    key=SATELLITE_SCENES,
    metadata=described_columns(SATELLITE_SCENES.to_user_string(), MANIFEST_SCHEMA, MANIFEST_DESCRIPTIONS),
    partitions_def=SATELLITE_PARTITIONS,
    check_specs=SCENE_CHECK_SPECS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.small(),
    kinds={"stac", "parquet"},
    description="The month's scenes of the region (STAC items of the satellite catalogue whose datetime "
    "falls in the month and whose bbox meets the region) copied unchanged into the raw layer: "
    "satellite/scenes/month=YYYY-MM/region=R/{item_id}_{red|nir|scl}_{sha256[:16]}.tif and "
    "{item_id}_{sha256[:16]}.json (the item), content-addressed: a changed file gets a new key and never "
    "overwrites what the published manifest lists. Each file is fetched (retried; range requests resume a "
    "cut transfer where the source allows), compared with the item's file:checksum, and its real CRS, "
    "shape and transform with the item's proj:code, proj:shape and proj:transform before anything of the "
    "scene is stored; a scene missing at the source, with other bytes than declared, unreadable or off "
    "its declared grid is skipped with its reason (the month fails only when no scene is left), while a "
    "source that keeps failing fails the step, which is retried. part.parquet is the manifest: per scene "
    "and file its status, reason, source URL, object key, bytes, SHA-256 and declared grid. Published "
    "only when its blocking check passes.",
)
def scenes(
    context: dg.AssetExecutionContext,
    config: ScenesConfig,
    sources: SourcesResource,
    storage: StorageResource,
) -> Iterator[Any]:
    month, region_name = month_and_region(context)
    url = sources.region_url("satellite_catalog", region_name)
    allowed = sources.allowed_prefixes("satellite_catalog", url)
    try:
        catalogue = read_catalogue(url, allowed, region(region_name))
    except CatalogueError as error:
        raise dg.Failure(f"{month} {region_name}: {error}") from None
    month_scenes = catalogue.months.get(month)
    if month_scenes is None:
        raise dg.Failure(
            f"the satellite catalogue {url} holds no scene of region {region_name!r} in {month} (withdrawn "
            "since the month was registered?)",
            allow_retries=False,
        )
    store = storage.get_storage()
    location = AssetLocation.for_partition(SATELLITE_SCENES, SATELLITE_PARTITIONS, context.partition_key)
    pool = WorkerPool(
        max_workers=config.download_workers,
        retry=ONE_ATTEMPT,
        fail_fast=True,
        logger=context.log,
        name="scenes",
    )
    report = pool.run(
        month_scenes.scenes,
        lambda scene: copy_scene(scene, store, location, allowed),
        key=lambda scene: scene.item_id,
    )
    if report.failed:
        not_fetched(month, region_name, report.failed)
    by_id = {scene.item_id: scene for scene in month_scenes.scenes}
    skipped = {result.key: result.reason or "" for result in report.skipped}
    if not report.succeeded:
        no_scene_left(month, region_name, skipped)
    rows = [row for result in report.succeeded for row in result.value or []]
    rows += [row for item_id, reason in skipped.items() for row in skipped_rows(by_id[item_id], reason)]
    table = manifest(rows)
    results = [checks.audit_scenes(store, table)]
    for reason in skipped.values():
        context.log.warning(f"{month} {region_name}: scene skipped: {reason}")
    metadata = {
        **report.to_metadata(),
        "catalogue_url": dg.MetadataValue.text(url),
        "catalogue_fingerprint": dg.MetadataValue.text(month_scenes.fingerprint),
        "scenes_stored": dg.MetadataValue.json(sorted(by_id.keys() - skipped.keys())),
        "scenes_skipped": dg.MetadataValue.json(skipped),
        "stored_bytes": dg.MetadataValue.int(int(table["bytes"].sum() or 0)),
    }
    yield from publish_table_if_passed(
        SATELLITE_SCENES,
        results,
        SCENE_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def not_fetched(month: str, region_name: str, failed: Sequence[ItemResult[Any]]) -> NoReturn:
    """Fail the step, to be retried: a scene the source may hold could not be fetched, and publishing the
    month without it would never be corrected (the sensor requests a month again only when it changes)."""
    errors = "; ".join(str(result.error) for result in failed)  # each names its item, band and URL
    raise dg.Failure(f"{month} {region_name}: scenes not fetched or stored ({errors})", allow_retries=True)


def no_scene_left(month: str, region_name: str, skipped: dict[str, str]) -> NoReturn:
    """Fail the month: every scene was skipped. Not retried: every skip reason recurs (a scene that could
    not be fetched this time fails the step before this, see :func:`not_fetched`)."""
    reasons = "; ".join(reason for _, reason in sorted(skipped.items()))  # each names its item
    raise dg.Failure(f"{month} {region_name}: no usable scene ({reasons})", allow_retries=False)


class NdviConfig(dg.Config):
    """The warning threshold of the composite's coverage."""

    min_valid_fraction: float = Field(
        default=checks.DEFAULT_MIN_VALID_FRACTION,
        ge=0.0,
        le=1.0,
        description="Share of the region that should have a clear observation; a warning below it.",
    )


@dg.asset(
    key=SATELLITE_NDVI,
    ins={"scenes": dg.AssetIn(key=SATELLITE_SCENES)},
    deps=[dg.AssetDep(DTM_CONSOLIDATED, partition_mapping=BY_REGION)],
    partitions_def=SATELLITE_PARTITIONS,
    check_specs=NDVI_CHECK_SPECS,
    io_manager_key=RASTER_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    automation_condition=when_dep_passed(SATELLITE_SCENES),
    op_tags=K8sOpTags.medium(divider=2, env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "gdal"},
    description="The month's cloud-masked NDVI composite of the region: one COG at "
    "satellite/ndvi/month=YYYY-MM/region=R/part.tif in the region's CRS, on the consolidated DTM's "
    "bounds snapped outward to the scenes' finest declared cell (10 m for Sentinel-2). Band 1 `ndvi` "
    "(float32, nodata -9999): per pixel the median NDVI of the clear observations (scene classification "
    "4 vegetation, 5 not vegetated, 6 water; clouds, shadows, snow and no-data are masked); band 2 "
    "`valid_observations` (float32): how many clear observations lie behind the pixel, 0 where none. "
    "Scenes are reprojected block-wise; internal overviews, statistics. Published only when its blocking "
    "check passes; requested by the sensor and whenever the month's scenes are newly published.",
)
def ndvi(
    context: dg.AssetExecutionContext, config: NdviConfig, storage: StorageResource, scenes: pl.DataFrame
) -> Iterator[Any]:
    from landing_zone.defs.satellite.compositing import region_grid
    from landing_zone.defs.satellite.monthly_ndvi import composite_month, region_extent, scenes_gsd

    month, region_name = month_and_region(context)
    store = storage.get_storage()
    dtm = dtm_key(store, region_name)
    cog = scratch_dir("satellite-ndvi-") / "ndvi.tif"
    try:
        extent = region_extent(store.gdal_path(dtm), store.gdal_options())
        if extent.crs != region(region_name).crs:
            raise ValueError(
                f"the consolidated DTM of region {region_name!r} ({store.uri(dtm)}) is in {extent.crs}, "
                f"the region's crs in {regions_file()} is {region(region_name).crs}: rematerialise the DTM"
            )
        grid = region_grid(extent.bounds, extent.crs, scenes_gsd(scenes))
        summary = composite_month(store, scenes, grid, cog, DEFAULT_GDAL_CACHE_MB)
    except ValueError as error:  # what the inputs lack recurs on every attempt (:mod:`.monthly_ndvi`)
        raise dg.Failure(f"{month} {region_name}: {error}", allow_retries=False) from None
    results = checks.audit_ndvi(cog, config.min_valid_fraction)
    location = AssetLocation.for_partition(SATELLITE_NDVI, SATELLITE_PARTITIONS, context.partition_key)
    metadata = composite_metadata(month, scenes, summary, grid) | {
        "dtm": dg.MetadataValue.path(store.uri(dtm))
    }
    yield from publish_if_passed(
        SATELLITE_NDVI,
        results,
        NDVI_CHECK_SPECS,
        dg.Output(CogFile(cog), metadata=metadata),
        lambda: keep_candidate_file(store, location, cog, COG),
        store,
        location,
        COG,
    )


def dtm_key(store: Storage, region_name: str) -> str:
    """The object key of the region's published consolidated DTM; a clear failure without it.

    Only its header is read (CRS and bounds), so it is not staged as the raster IO manager would stage
    an input: a ranged read of a few kilobytes instead of a copy of the whole region's DTM.
    """
    key = AssetLocation.for_partition(DTM_CONSOLIDATED, REGIONS, region_name).key(COG)
    if not store.exists(key):
        raise dg.Failure(
            f"region {region_name!r} has no published {DTM_CONSOLIDATED.to_user_string()} at "
            f"{store.uri(key)}: its grid sets the composite's; materialise it first",
            allow_retries=False,
        )
    return key


def composite_metadata(
    month: str, scenes: pl.DataFrame, summary: "CompositeSummary", grid: "TargetGrid"
) -> dict[str, Any]:
    """What a reviewer compares between months: the scenes behind it, its coverage, its NDVI."""
    skipped_before = dict(
        scenes.filter(pl.col("status") == SKIPPED).select("item_id", "reason").unique().iter_rows()
    )
    return {
        "month": dg.MetadataValue.text(month),
        "scenes_used": dg.MetadataValue.json(dict(summary.observations)),
        "scenes_skipped": dg.MetadataValue.json({**skipped_before, **dict(summary.skipped)}),
        "valid_fraction": dg.MetadataValue.float(round(float(summary.valid_fraction), 4)),
        "valid_pixels": dg.MetadataValue.int(int(summary.valid_pixels)),
        "pixels": dg.MetadataValue.int(int(summary.pixels)),
        "ndvi_min": _statistic(summary.ndvi_min),
        "ndvi_max": _statistic(summary.ndvi_max),
        "ndvi_mean": _statistic(summary.ndvi_mean),
        "cell_size_m": dg.MetadataValue.float(grid.cell_size),
    }


def _statistic(value: float | None) -> Any:
    """A statistic as metadata; ``none`` where the composite has no valid pixel."""
    return dg.MetadataValue.text("none") if value is None else dg.MetadataValue.float(round(float(value), 4))


def month_and_region(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The month (``YYYY-MM``) and region of the partition being materialised (a run hands the key over
    as a ``MultiPartitionKey``, a direct invocation as its string: both parse the same)."""
    key = SATELLITE_PARTITIONS.get_partition_key_from_str(str(context.partition_key))
    return key.keys_by_dimension["month"], key.keys_by_dimension["region"]
