"""Every asset of the model inputs: the landing-zone terrain averaged onto the model grid, and per-cell
attributes.

The landing-zone DTM they read is declared here by its registry key only: it is materialised by the other
code location, and declaring it with the right IO manager lets the assets load it as an input without
importing any landing-zone code. The grid computation lives in :mod:`grid` and is imported inside each
asset function, so loading the code location does not load rasterio."""

import polars as pl
from dagster import AssetExecutionContext, AssetIn, AssetSpec, Config, asset
from pydantic import Field

from discharge_model.defs.model_inputs.columns import CELL_DESCRIPTIONS, CELL_SCHEMA
from shared.assets.discharge_model import MODEL_CELL_ATTRIBUTES, MODEL_GRID_ELEVATION
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.columns import described_columns
from shared.k8s import K8sOpTags
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import CogFile, StoredRaster, scratch_dir
from shared.resources.platform import RASTER_IO_MANAGER

landing_zone_terrain = AssetSpec(
    DTM_CONSOLIDATED, partitions_def=REGIONS, description="Consolidated DTM per region from landing_zone."
).with_io_manager_key(RASTER_IO_MANAGER)
"""The consolidated DTM as the landing zone publishes it: the input of the model grid."""


class ModelGridConfig(Config):
    """The model grid's cell size."""

    cell_size_m: float = Field(default=100.0, gt=0, description="Model grid cell size in metres.")


@asset(
    key=MODEL_GRID_ELEVATION,
    ins={"terrain": AssetIn(key=DTM_CONSOLIDATED)},
    partitions_def=REGIONS,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.small(env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "gdal"},
    description="The region's consolidated DTM averaged onto the model grid (COG).",
)
def model_grid_elevation(
    context: AssetExecutionContext, config: ModelGridConfig, terrain: StoredRaster
) -> CogFile:
    """Average the landing-zone terrain onto the model grid."""
    from discharge_model.defs.model_inputs.grid import aggregate_to_grid

    cog = aggregate_to_grid(terrain, config.cell_size_m, scratch_dir("model-grid-"))
    context.log.info(f"model grid at {config.cell_size_m} m written to {cog}")
    return CogFile(cog)


@asset(
    key=MODEL_CELL_ATTRIBUTES,
    metadata=described_columns(MODEL_CELL_ATTRIBUTES.to_user_string(), CELL_SCHEMA, CELL_DESCRIPTIONS),
    ins={"grid": AssetIn(key=MODEL_GRID_ELEVATION)},
    partitions_def=REGIONS,
    op_tags=K8sOpTags.small(),
    kinds={"parquet", "polars"},
    description="Static attributes per model cell: elevation and slope.",
)
def model_cell_attributes(grid: StoredRaster) -> pl.DataFrame:
    """Static attributes per model cell, the LSTM's static inputs."""
    from discharge_model.defs.model_inputs.grid import cell_attributes

    return cell_attributes(grid)
