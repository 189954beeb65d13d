"""The columns of ``discharge_model/model_cell_attributes``, described with units (built in :mod:`.grid`,
which imports rasterio, so they are declared here for the catalogue)."""

import polars as pl

CELL_SCHEMA = {
    "cell_id": pl.String(),
    "x": pl.Float64(),
    "y": pl.Float64(),
    "elevation_m": pl.Float64(),
    "slope_deg": pl.Float64(),
}

CELL_DESCRIPTIONS = {
    "cell_id": "Model grid cell id, r{row}c{column} (0-based, zero-padded)",
    "x": "Easting of the cell centre in the grid's CRS (m)",
    "y": "Northing of the cell centre in the grid's CRS (m)",
    "elevation_m": "Mean terrain elevation of the cell (m above sea level)",
    "slope_deg": "Terrain slope of the cell from the model-grid elevation (degrees)",
}
