"""The elevation pipeline as one Dagster component, instantiated for DTM and DSM.

``wfs_index`` -> ``raw_tiles`` -> ``converted_tiles`` -> ``consolidated``. Tiles are partitioned by map
sheet (dynamic, kept equal to the index by :mod:`.sensor`) x region; the consolidated COG is per region.
Per-tile work goes through the worker pool, so a bad tile is skipped with its reason and the rest of
its sheet still succeeds. GDAL and rasterio are imported inside the asset bodies only.
"""

from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from landing_zone.defs.elevation import checks, sensor
from landing_zone.defs.elevation.tile_work import converted_table
from landing_zone.resources.sources import SourcesResource
from shared.assets.landing_zone import REGIONS, elevation_key
from shared.io_managers.parquet import ALLOW_MISSING_PARTITIONS
from shared.io_managers.partitions import partition_dimensions
from shared.k8s import K8sOpTags
from shared.rasters.handles import CogFile
from shared.resources.platform import RASTER_IO_MANAGER
from shared.resources.storage import StorageResource


class ElevationPipeline(dg.Component, dg.Model, dg.Resolvable):
    """Index, raw tiles, converted COG tiles and the consolidated COG of one elevation product."""

    product: str = Field(description="dtm or dsm: names the asset keys and the index URL.")
    crs: str = Field(default="EPSG:2180", description="CRS of converted and consolidated rasters.")
    cell_size: float = Field(default=2.0, description="Cell size in metres of converted rasters.")
    fill_distance_cells: int = Field(default=100, description="Nodata gaps up to this distance are filled.")
    max_nodata_fraction: float = Field(default=0.02, description="Per converted tile, after filling.")
    plausible_min_m: float = Field(default=-50.0, description="Lowest plausible elevation.")
    plausible_max_m: float = Field(default=2700.0, description="Highest plausible elevation.")
    max_seam_offset_m: float = Field(default=0.1, description="Largest systematic step across a tile edge.")
    clip_bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="Optional region rectangle (west, south, east, north) to clip tiles to."
    )
    gdal_cachemax_mb: int = Field(
        default=256, description="GDAL block cache per op; consolidation peaks near 2x this + 250 MB."
    )
    download_workers: int = Field(default=8, description="Parallel downloads per sheet.")
    convert_workers: int = Field(default=2, description="Parallel conversions per sheet.")

    def small_tags(self) -> dict[str, Any]:
        """Op tags of the light steps (index, checks)."""
        return K8sOpTags.small()

    def key(self, stage: str) -> dg.AssetKey:
        return elevation_key(self.product, stage)

    @property
    def sheets(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=f"elevation_{self.product}_sheets")

    @property
    def sheet_partitions(self) -> dg.MultiPartitionsDefinition:
        return dg.MultiPartitionsDefinition({"map_sheet": self.sheets, "region": REGIONS})

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        assets = [self._wfs_index(), self._raw_tiles(), self._converted_tiles(), self._consolidated()]
        return dg.Definitions(
            assets=assets,
            asset_checks=[checks.converted_tile_checks(self), checks.consolidated_checks(self)],
            sensors=[sensor.index_sensor(self)],
        )

    def _wfs_index(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("wfs_index"),
            op_tags=K8sOpTags.small(),
            kinds={"parquet", "polars"},
            description=f"The current {self.product.upper()} tile index from the provider's WFS.",
        )
        def wfs_index(context: dg.AssetExecutionContext, sources: SourcesResource) -> dg.Output[pl.DataFrame]:
            from landing_zone.defs.elevation.index_source import index_fingerprint, read_index

            index = read_index(sources.elevation_index_url.format(product=self.product))
            return dg.Output(
                index,
                metadata={
                    "index_fingerprint": index_fingerprint(index),
                    "tiles": len(index),
                    "sheets": index["map_sheet"].n_unique(),
                },
            )

        return wfs_index

    def _raw_tiles(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("raw_tiles"),
            ins={"index": dg.AssetIn(key=self.key("wfs_index"))},
            partitions_def=self.sheet_partitions,
            op_tags=K8sOpTags.small(),
            kinds={"parquet"},
            description="Every tile of the sheet downloaded unchanged into the raw layer, listed in a table.",
        )
        def raw_tiles(
            context: dg.AssetExecutionContext, storage: StorageResource, index: pl.DataFrame
        ) -> dg.Output[pl.DataFrame]:
            from landing_zone.defs.elevation.tile_work import download_tile
            from shared.workers import WorkerPool

            partition = partition_dimensions(self.sheet_partitions, context.partition_key)
            tiles = index.filter(
                (pl.col("map_sheet") == partition["map_sheet"]) & (pl.col("region") == partition["region"])
            )
            store = storage.get_storage()
            pool = WorkerPool(max_workers=self.download_workers, logger=context.log, name="download")
            report = pool.run(
                tiles.to_dicts(),
                lambda row: download_tile(row, store, self.key("raw_tiles").path, partition),
                key=lambda row: row["tile_id"],
            )
            report.raise_if_failures()
            table = pl.DataFrame([r.value for r in report.succeeded], infer_schema_length=None)
            return dg.Output(table, metadata=report.to_metadata())

        return raw_tiles

    def _converted_tiles(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("converted_tiles"),
            ins={"raw": dg.AssetIn(key=self.key("raw_tiles"))},
            partitions_def=self.sheet_partitions,
            op_tags=K8sOpTags.medium(divider=2, env={"GDAL_CACHEMAX": str(self.gdal_cachemax_mb)}),
            kinds={"cog", "parquet"},
            description="Each raw tile as a COG on the configured grid; the table holds per-tile statistics "
            "and the skipped tiles with their reasons.",
        )
        def converted_tiles(
            context: dg.AssetExecutionContext, storage: StorageResource, raw: pl.DataFrame
        ) -> dg.Output[pl.DataFrame]:
            from landing_zone.defs.elevation.conversion import ConversionSettings
            from landing_zone.defs.elevation.tile_work import convert_raw_tile
            from shared.workers import RetryPolicy, WorkerPool

            partition = partition_dimensions(self.sheet_partitions, context.partition_key)
            settings = ConversionSettings(
                self.crs, self.cell_size, self.fill_distance_cells, self.clip_bounds
            )
            store = storage.get_storage()
            pool = WorkerPool(
                max_workers=self.convert_workers,
                retry=RetryPolicy(max_attempts=2),
                logger=context.log,
                name="convert",
            )
            report = pool.run(
                raw.to_dicts(),
                lambda row: convert_raw_tile(
                    row, store, settings, self.key("converted_tiles").path, partition
                ),
                key=lambda row: row["tile_id"],
            )
            report.raise_if_failures()
            table = converted_table(report, partition)
            return dg.Output(table, metadata=report.to_metadata())

        return converted_tiles

    def _consolidated(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("consolidated"),
            ins={
                "converted": dg.AssetIn(
                    key=self.key("converted_tiles"),
                    partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                        partition_dimension_name="region"
                    ),
                    metadata={ALLOW_MISSING_PARTITIONS: True},
                )
            },
            partitions_def=REGIONS,
            io_manager_key=RASTER_IO_MANAGER,
            op_tags=K8sOpTags.large(divider=2, env={"GDAL_CACHEMAX": str(self.gdal_cachemax_mb)}),
            kinds={"cog", "gdal"},
            description=f"One {self.product.upper()} COG per region: a VRT mosaic of the converted tiles "
            "copied block-wise with overviews.",
        )
        def consolidated(
            context: dg.AssetExecutionContext, storage: StorageResource, converted: dict[str, pl.DataFrame]
        ) -> CogFile:
            from landing_zone.defs.elevation.mosaic import consolidate_region

            tables = [table for table in converted.values() if table.height]
            cog = consolidate_region(
                tables, storage.get_storage(), self.crs, self.cell_size, self.gdal_cachemax_mb
            )
            context.log.info(f"consolidated {sum(t.height for t in tables)} tiles from {len(tables)} sheets")
            return CogFile(cog)

        return consolidated


def elevation_definitions() -> dg.Definitions:
    """Both products' pipelines."""
    return dg.Definitions.merge(
        *(dg.build_defs_for_component(ElevationPipeline(product=product)) for product in ("dtm", "dsm"))
    )
