"""Demo elevation assets: a synthetic terrain COG and its per-tile statistics.

They exercise both shared IO managers end to end (a COG written block-wise, a Parquet table of pydantic
rows read from the COG through GDAL) and are replaced by the real elevation pipeline later.
"""

import tempfile
from pathlib import Path

from dagster import AssetExecutionContext, AssetIn, Config, asset
from pydantic import BaseModel, Field

from shared.assets.landing_zone import DEMO_TERRAIN, DEMO_TERRAIN_TILE_STATISTICS
from shared.k8s import K8sOpTags
from shared.rasters.handles import CogFile, StoredRaster
from shared.resources.platform import RASTER_IO_MANAGER

TERRAIN_CRS = "EPSG:2180"


class TerrainConfig(Config):
    """Size and placement of the synthetic terrain (defaults: 6 x 6 km at 2 m in central Poland)."""

    width: int = Field(default=3000, ge=16, description="Columns.")
    height: int = Field(default=3000, ge=16, description="Rows.")
    cell_size: float = Field(default=2.0, gt=0, description="Cell size in metres.")
    west: float = Field(default=500_000.0, description="Western edge, EPSG:2180 easting.")
    north: float = Field(default=400_000.0, description="Northern edge, EPSG:2180 northing.")
    seed: int = Field(default=7, description="Seed of the terrain's random phases.")


class TileStatistics(BaseModel):
    """Elevation statistics of one 1 km tile of the terrain."""

    tile_id: str
    west: float
    south: float
    valid_cells: int
    min_m: float
    max_m: float
    mean_m: float


@asset(
    key=DEMO_TERRAIN,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.small(env={"GDAL_CACHEMAX": "256"}),
    kinds={"cog", "gdal"},
    description="Synthetic terrain COG (EPSG:2180); stands in for the consolidated DTM.",
)
def terrain(context: AssetExecutionContext, config: TerrainConfig) -> CogFile:
    """Write the terrain block-wise into a tiled GTiff, then copy it into a COG with overviews."""
    import rasterio
    from rasterio.transform import from_origin

    from landing_zone.defs.elevation.synthetic_terrain import NODATA, TerrainGrid, terrain_block
    from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

    grid = TerrainGrid(config.west, config.north, config.cell_size, config.width, config.height, config.seed)
    workdir = Path(tempfile.mkdtemp(prefix="terrain-"))
    staging = workdir / "terrain.gtiff.tif"
    transform = from_origin(grid.west, grid.north, grid.cell_size, grid.cell_size)
    profile = tiled_gtiff_profile(grid.width, grid.height, "float32", TERRAIN_CRS, transform, NODATA)
    with rasterio.open(staging, "w", **profile) as dataset:
        for _, window in dataset.block_windows(1):
            block = terrain_block(grid, window.row_off, window.col_off, window.height, window.width)
            dataset.write(block, 1, window=window)
    cog = copy_to_cog(staging, workdir / "terrain.tif")
    staging.unlink()
    context.log.info(f"synthetic terrain {grid.width}x{grid.height} cells written to {cog}")
    return CogFile(cog)


@asset(
    key=DEMO_TERRAIN_TILE_STATISTICS,
    ins={"terrain_raster": AssetIn(key=DEMO_TERRAIN)},
    op_tags=K8sOpTags.small(),
    kinds={"parquet", "polars"},
    description="Elevation statistics per 1 km tile of the demo terrain, read window by window.",
)
def terrain_tile_statistics(terrain_raster: StoredRaster) -> list[TileStatistics]:
    """Read the terrain one 1 km window at a time (ranged reads on S3) and summarise each tile."""
    from landing_zone.defs.elevation.tile_statistics import statistics_per_tile

    return statistics_per_tile(terrain_raster, tile_size_m=1000.0)
