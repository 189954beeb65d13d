"""Asset keys produced by the ``discharge_model`` code location."""

from dagster import AssetKey

MODEL_GRID_ELEVATION = AssetKey(["discharge_model", "model_grid_elevation"])
"""Terrain averaged onto the model's coarse grid (COG)."""

MODEL_CELL_ATTRIBUTES = AssetKey(["discharge_model", "model_cell_attributes"])
"""Static attributes per model grid cell: elevation and slope (Parquet)."""
