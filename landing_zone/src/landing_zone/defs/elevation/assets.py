"""The four assets of one elevation product, built for an :class:`~.definitions.ElevationPipeline`.

Per-tile work goes through the worker pool, so a bad tile is skipped with its reason (keeping its last
published version) and the rest of its sheet still succeeds. ``converted_tiles`` and ``consolidated``
are written, audited and only then published (:mod:`shared.publication`): their blocking checks run in
the asset's own step on the candidate, so a failing candidate never replaces the published version.
GDAL and rasterio are imported inside the asset bodies only. The sensor runs the sheets;
``consolidated`` follows them by itself (:func:`shared.automation.when_deps_passed`), once every sheet of
the region is converted with its blocking checks passed.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from landing_zone.defs.elevation import checks
from landing_zone.defs.elevation.index_source import INDEX_SCHEMA
from landing_zone.defs.elevation.tile_work import CONVERTED_SCHEMA, RAW_COLUMNS, TILE_DESCRIPTIONS
from landing_zone.resources.sources import SourcesResource
from shared.assets.landing_zone import REGIONS
from shared.automation import when_deps_passed
from shared.columns import described_columns
from shared.io_managers.parquet import ALLOW_MISSING_PARTITIONS
from shared.k8s import K8sOpTags
from shared.publication import (
    keep_candidate_file,
    publish_if_passed,
    publish_table_if_passed,
)
from shared.rasters.gdal_cache import gdal_cache_step_env
from shared.rasters.handles import CogFile
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import RASTER_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation

if TYPE_CHECKING:
    from landing_zone.defs.elevation.definitions import ElevationPipeline


def wfs_index_asset(pipeline: "ElevationPipeline") -> dg.AssetsDefinition:
    """The index as of this run: the sensor runs sheets only once this snapshot matches the live index."""

    @dg.asset(
        key=pipeline.key("wfs_index"),
        op_tags=K8sOpTags.small(),
        kinds={"parquet", "polars"},
        metadata=described_columns(pipeline.key("wfs_index").to_user_string(), INDEX_SCHEMA),
        description=f"The current {pipeline.product.upper()} tile index from the provider's WFS.",
    )
    def wfs_index(context: dg.AssetExecutionContext, sources: SourcesResource) -> dg.Output[pl.DataFrame]:
        from landing_zone.defs.elevation.index_source import index_fingerprint, read_index

        url = sources.elevation_index_url.format(product=pipeline.product)
        index = read_index(url, sources.allowed_prefixes("elevation_index", url))
        return dg.Output(
            index,
            metadata={
                "index_fingerprint": index_fingerprint(index),
                "tiles": len(index),
                "sheets": index["map_sheet"].n_unique(),
            },
        )

    return wfs_index


def raw_tiles_asset(pipeline: "ElevationPipeline") -> dg.AssetsDefinition:
    """A sheet's tiles downloaded unchanged; withdrawn tiles are retired only once this is published."""

    @dg.asset(
        key=pipeline.key("raw_tiles"),
        retry_policy=TRANSIENT_STEP_RETRY,
        ins={"index": dg.AssetIn(key=pipeline.key("wfs_index"))},
        partitions_def=pipeline.sheet_partitions,
        op_tags=K8sOpTags.small(),
        kinds={"parquet"},
        metadata=described_columns(
            pipeline.key("raw_tiles").to_user_string(), {**INDEX_SCHEMA, **RAW_COLUMNS}, TILE_DESCRIPTIONS
        ),
        description="Every tile of the sheet downloaded unchanged into the append-only raw layer "
        "(one object per content version), listed in a table with skipped tiles and their reasons.",
    )
    def raw_tiles(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        sources: SourcesResource,
        index: pl.DataFrame,
    ) -> Iterator[dg.Output[pl.DataFrame]]:
        from landing_zone.defs.elevation.index_source import INDEX_SCHEMA, sheet_fingerprints
        from landing_zone.defs.elevation.retirement import (
            clear_tombstones,
            withdrawn_rows,
            write_tombstones,
        )
        from landing_zone.defs.elevation.tile_work import RAW_COLUMNS, download_tile, stage_table
        from shared.publication import published_table
        from shared.workers import WorkerPool

        location = AssetLocation.for_partition(
            pipeline.key("raw_tiles"), pipeline.sheet_partitions, context.partition_key
        )
        partition = location.partition
        tiles = index.filter(
            (pl.col("map_sheet") == partition["map_sheet"]) & (pl.col("region") == partition["region"])
        )
        store = storage.get_storage()
        previous = published_table(store, location)
        index_url = sources.elevation_index_url.format(product=pipeline.product)
        allowed = sources.allowed_prefixes("elevation_index", index_url)
        pool = WorkerPool(max_workers=pipeline.download_workers, logger=context.log, name="download")
        report = pool.run(
            tiles.to_dicts(),
            lambda row: download_tile(row, store, location, allowed, index_url),
            key=lambda row: row["tile_id"],
        )
        report.raise_if_failures()
        rows = {row["tile_id"]: row for row in tiles.to_dicts()}
        table = stage_table(report, rows, previous, {**INDEX_SCHEMA, **RAW_COLUMNS})
        withdrawn = withdrawn_rows(previous, set(rows))
        fingerprint = sheet_fingerprints(tiles, partition["region"]).get(partition["map_sheet"], "")
        retired = [] if withdrawn is None else sorted(withdrawn["tile_id"].to_list())
        metadata = {**report.to_metadata(), "sheet_fingerprint": fingerprint, "retired_tiles": retired}
        yield dg.Output(table, metadata=metadata)
        # Published: only now do the withdrawn tiles become retired (and returning ones not).
        write_tombstones(store, location, withdrawn, "no longer in the index")
        clear_tombstones(store, location, set(rows))

    return raw_tiles


def converted_tiles_asset(pipeline: "ElevationPipeline") -> dg.AssetsDefinition:
    """A sheet's tiles as COGs, audited on the candidate table before it is published."""
    sql_checks = checks.converted_sql_checks(pipeline)
    specs = [check.spec(pipeline.key("converted_tiles"), pipeline.sheet_partitions) for check in sql_checks]

    @dg.asset(
        key=pipeline.key("converted_tiles"),
        retry_policy=TRANSIENT_STEP_RETRY,
        ins={"raw": dg.AssetIn(key=pipeline.key("raw_tiles"))},
        partitions_def=pipeline.sheet_partitions,
        check_specs=specs,
        op_tags=K8sOpTags.medium(divider=2, env=gdal_cache_step_env(pipeline.gdal_cachemax_mb)),
        kinds={"cog", "parquet"},
        metadata=described_columns(
            pipeline.key("converted_tiles").to_user_string(), CONVERTED_SCHEMA, TILE_DESCRIPTIONS
        ),
        description="Each raw tile as a COG on the configured grid; the table holds per-tile statistics, "
        "the skipped tiles with their reasons and the tiles that kept their last published version. "
        "Published only when its blocking checks pass.",
    )
    def converted_tiles(
        context: dg.AssetExecutionContext,
        storage: StorageResource,
        duckdb: DuckDBChecksResource,
        raw: pl.DataFrame,
    ) -> Iterator[Any]:
        from landing_zone.defs.elevation.conversion import ConversionSettings
        from landing_zone.defs.elevation.tile_work import (
            CONVERTED_SCHEMA,
            USABLE,
            convert_raw_tile,
            stage_table,
            unreferenced_objects,
        )
        from shared.publication import published_table
        from shared.regions import region
        from shared.workers import RetryPolicy, WorkerPool

        key = pipeline.key("converted_tiles")
        location = AssetLocation.for_partition(key, pipeline.sheet_partitions, context.partition_key)
        partition = location.partition
        clip_bounds = pipeline.clip_bounds or region(partition["region"]).bounds
        settings = ConversionSettings(
            pipeline.crs, pipeline.cell_size, pipeline.fill_distance_cells, clip_bounds
        )
        store = storage.get_storage()
        previous = published_table(store, location)
        usable = raw.filter(pl.col("status").is_in(USABLE))
        pool = WorkerPool(
            max_workers=pipeline.convert_workers,
            retry=RetryPolicy(max_attempts=2),
            logger=context.log,
            name="convert",
        )
        report = pool.run(
            usable.to_dicts(),
            lambda row: convert_raw_tile(row, store, settings, location),
            key=lambda row: row["tile_id"],
        )
        report.raise_if_failures()
        table = stage_table(
            report, {row["tile_id"]: partition for row in usable.to_dicts()}, previous, CONVERTED_SCHEMA
        )
        skipped_upstream = raw.filter(~pl.col("status").is_in(USABLE))
        table = pl.concat(
            [table, _skipped_rows(skipped_upstream, partition, CONVERTED_SCHEMA)], how="vertical"
        ).sort("tile_id")
        results = list(duckdb.check_frame(key, sql_checks, table))
        yield from publish_table_if_passed(
            key,
            results,
            specs,
            table,
            report.to_metadata(),
            store,
            location,
        )
        # Published: versions listed by neither this table nor the one it replaced are superseded.
        kept = [table] + ([previous] if previous is not None else [])
        for stale in unreferenced_objects(store, location.folder, kept, "cog_key"):
            store.delete(stale)

    return converted_tiles


def consolidated_asset(pipeline: "ElevationPipeline") -> dg.AssetsDefinition:
    """The region's mosaic, audited on the candidate COG before it is published."""
    specs = checks.consolidated_check_specs(pipeline)

    @dg.asset(
        key=pipeline.key("consolidated"),
        retry_policy=TRANSIENT_STEP_RETRY,
        ins={
            "converted": dg.AssetIn(
                key=pipeline.key("converted_tiles"),
                partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                    partition_dimension_name="region"
                ),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        partitions_def=REGIONS,
        check_specs=specs,
        automation_condition=when_deps_passed(),
        io_manager_key=RASTER_IO_MANAGER,
        op_tags=K8sOpTags.large(divider=2, env=gdal_cache_step_env(pipeline.gdal_cachemax_mb)),
        kinds={"cog", "gdal"},
        description=f"One {pipeline.product.upper()} COG per region: a VRT mosaic of the published converted "
        "tiles copied block-wise with overviews. Published only when its blocking checks pass.",
    )
    def consolidated(
        context: dg.AssetExecutionContext, storage: StorageResource, converted: dict[str, pl.DataFrame]
    ) -> Iterator[Any]:
        from landing_zone.defs.elevation.mosaic import consolidate_region

        key = pipeline.key("consolidated")
        store = storage.get_storage()
        location = AssetLocation.for_partition(key, REGIONS, context.partition_key)
        tables = [table for table in converted.values() if table.height]
        cog = consolidate_region(tables, store, pipeline.crs, pipeline.cell_size, pipeline.gdal_cachemax_mb)
        context.log.info(f"consolidated {sum(t.height for t in tables)} tiles from {len(tables)} sheets")
        results = checks.audit_consolidated(cog, key, pipeline)
        yield from publish_if_passed(
            key,
            results,
            specs,
            dg.Output(CogFile(cog)),
            lambda: keep_candidate_file(store, location, cog, COG),
            store,
            location,
            COG,
        )

    return consolidated


def _skipped_rows(raw: pl.DataFrame, partition: dict[str, str], schema: dict[str, Any]) -> pl.DataFrame:
    """Tiles the raw stage already skipped, carried into the converted table with the same reason."""
    rows = [
        {"tile_id": row["tile_id"], "status": "skipped", "reason": row["reason"], **partition}
        for row in raw.iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=schema)
