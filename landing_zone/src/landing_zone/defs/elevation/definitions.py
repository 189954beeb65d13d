"""The elevation domain's entry point: the pipeline component that ``dtm/defs.yaml`` and ``dsm/defs.yaml``
instantiate, so a further product is one more ``defs.yaml`` (its keys follow from ``product``).

``wfs_index`` -> ``raw_tiles`` -> ``converted_tiles`` -> ``consolidated``. Tiles are partitioned by map
sheet (dynamic, kept equal to the index by :mod:`.sensors`) x region; the consolidated COG is per region.
The assets are built in :mod:`.assets`, their checks in :mod:`.checks`; the computation they call
(readers, conversion, mosaic, retirement) lives in the plain modules beside them.
"""

from typing import Annotated

import dagster as dg
from pydantic import Field

from landing_zone.component_attributes import PLAIN_NAME
from landing_zone.defs.elevation import assets, sensors
from landing_zone.defs.elevation.keys import elevation_key
from shared.assets.landing_zone import REGIONS
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB


class ElevationPipeline(dg.Component, dg.Model, dg.Resolvable):
    """Index, raw tiles, converted COG tiles and the consolidated COG of one elevation product."""

    product: Annotated[str, PLAIN_NAME] = Field(
        description="dtm or dsm: names the asset keys and the index URL."
    )
    crs: str = Field(default="EPSG:2180", description="CRS of converted and consolidated rasters.")
    cell_size: float = Field(default=2.0, description="Cell size in metres of converted rasters.")
    fill_distance_cells: int = Field(default=100, description="Nodata gaps up to this distance are filled.")
    max_nodata_fraction: float = Field(default=0.02, description="Per converted tile, after filling.")
    plausible_min_m: float = Field(default=-50.0, description="Lowest plausible elevation.")
    plausible_max_m: float = Field(default=2700.0, description="Highest plausible elevation.")
    max_seam_offset_m: float = Field(default=0.1, description="Largest systematic step across a tile edge.")
    clip_bounds: tuple[float, float, float, float] | None = Field(
        default=None,
        description="Rectangle (west, south, east, north) to clip tiles to; default: the region's bounds "
        "from the regions file, if it has any.",
    )
    gdal_cachemax_mb: int = Field(
        default=DEFAULT_GDAL_CACHE_MB,
        description="GDAL block cache per op; consolidation peaks near 2x this + 250 MB.",
    )
    max_retired_fraction: float = Field(
        default=0.5,
        description="Largest share of the sheets one index update may withdraw; more is taken for a broken "
        "index and retires nothing.",
    )
    download_workers: int = Field(default=8, description="Parallel downloads per sheet.")
    convert_workers: int = Field(default=2, description="Parallel conversions per sheet.")

    def key(self, stage: str) -> dg.AssetKey:
        return elevation_key(self.product, stage)

    @property
    def sheets(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=f"elevation_{self.product}_sheets")

    @property
    def sheet_partitions(self) -> dg.MultiPartitionsDefinition:
        return dg.MultiPartitionsDefinition({"map_sheet": self.sheets, "region": REGIONS})

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dg.Definitions(
            assets=[
                assets.wfs_index_asset(self),
                assets.raw_tiles_asset(self),
                assets.converted_tiles_asset(self),
                assets.consolidated_asset(self),
            ],
            sensors=[sensors.index_sensor(self)],
        )
