"""Aggregate a stored raster onto the coarse model grid and derive per-cell attributes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import rasterio
from rasterio.enums import Resampling

from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile
from shared.rasters.handles import StoredRaster


def aggregate_to_grid(raster: StoredRaster, cell_size: float, workdir: Path) -> Path:
    """Average the raster onto square cells of ``cell_size`` metres and write the result as a COG.

    The decimated read lets GDAL use the source's overviews, so only a fraction of the pixels travel.
    """
    with raster.open() as source:
        west, south, east, north = source.bounds
        width = max(1, round((east - west) / cell_size))
        height = max(1, round((north - south) / cell_size))
        values = source.read(1, out_shape=(height, width), resampling=Resampling.average, masked=True)
        transform = source.transform * source.transform.scale(source.width / width, source.height / height)
        nodata = source.nodata if source.nodata is not None else -9999.0
        profile = tiled_gtiff_profile(width, height, "float32", source.crs, transform, nodata)
    staging = workdir / "grid.gtiff.tif"
    with rasterio.open(staging, "w", **profile) as target:
        target.write(values.filled(nodata).astype(np.float32), 1)
    destination = copy_to_cog(staging, workdir / "grid.tif")
    staging.unlink()
    return destination


def cell_attributes(grid: StoredRaster) -> pl.DataFrame:
    """One row per valid model cell: centre coordinates, mean elevation and slope in degrees."""
    with grid.open() as source:
        elevation = source.read(1, masked=True).astype(np.float64)
        transform = source.transform
    cell_x, cell_y = abs(transform.a), abs(transform.e)
    gradient_y, gradient_x = np.gradient(elevation.filled(np.nan), cell_y, cell_x)
    slope = np.degrees(np.arctan(np.hypot(gradient_x, gradient_y)))
    rows, cols = np.nonzero(~np.ma.getmaskarray(elevation))
    centres_x = transform.c + (cols + 0.5) * transform.a
    centres_y = transform.f + (rows + 0.5) * transform.e
    return pl.DataFrame(
        {
            "cell_id": [f"r{r:04d}c{c:04d}" for r, c in zip(rows, cols, strict=True)],
            "x": centres_x,
            "y": centres_y,
            "elevation_m": elevation.data[rows, cols],
            "slope_deg": slope[rows, cols],
        }
    )
