"""Rasters of the catchments domain: the DEM resampled to the analysis grid, arrays in and COGs out.

Delineation works on whole arrays (pyflwdir needs the full grid), so the analysis resolution is what
bounds memory: the consolidated DEM is resampled block-wise by GDAL's warper (average of the cells in
each analysis cell), never read whole at full resolution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from landing_zone.defs.catchments.grid import Grid
from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog, tiled_gtiff_profile
from shared.rasters.gdal_cache import gdal_cache_env
from shared.rasters.handles import StoredRaster, scratch_dir

DEM_NODATA = -9999.0


@dataclass(frozen=True)
class GridArray:
    """One band in memory with its grid, CRS (WKT) and nodata."""

    values: np.ndarray
    grid: Grid
    crs: str
    nodata: float

    @property
    def transform(self) -> Any:
        from affine import Affine

        return Affine(self.grid.cell, 0.0, self.grid.west, 0.0, -self.grid.cell, self.grid.north)


def resample_dem(source: StoredRaster, resolution_m: float, cache_mb: int) -> Path:
    """The DEM on a ``resolution_m`` grid snapped to multiples of it, averaged block-wise, as a local COG."""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    destination = scratch_dir("analysis-dem-") / "analysis_dem.tif"
    with (
        rasterio.Env(**gdal_cache_env(cache_mb), **source.gdal_options),
        rasterio.open(source.gdal_path) as dataset,
    ):
        west, south, east, north = dataset.bounds
        west, south = (math.floor(v / resolution_m) * resolution_m for v in (west, south))
        east, north = (math.ceil(v / resolution_m) * resolution_m for v in (east, north))
        width, height = round((east - west) / resolution_m), round((north - south) / resolution_m)
        with WarpedVRT(
            dataset,
            transform=Affine(resolution_m, 0.0, west, 0.0, -resolution_m, north),
            width=width,
            height=height,
            resampling=Resampling.average,
            src_nodata=dataset.nodata,
            nodata=DEM_NODATA,
            warp_mem_limit=cache_mb,
        ) as warped:
            copy_to_cog(warped, destination)
    return destination


def read_grid(source: StoredRaster) -> GridArray:
    """The whole band of a stored raster (an analysis-grid raster: small enough by construction)."""
    with source.open() as dataset:
        return grid_array(dataset, dataset.read(1), float(dataset.nodata), source.uri)


def grid_array(dataset: Any, values: np.ndarray, nodata: float, name: str) -> GridArray:
    """``values`` on the grid of an open rasterio ``dataset`` (``name`` for the error)."""
    transform = dataset.transform
    if abs(transform.a + transform.e) > 1e-9 or transform.b or transform.d:
        raise ValueError(f"{name}: delineation needs a north-up grid with square cells")
    return GridArray(values, Grid(transform.c, transform.f, transform.a), dataset.crs.to_wkt(), nodata)


def write_cog(values: np.ndarray, like: GridArray, nodata: float, categorical: bool = False) -> Path:
    """``values`` on ``like``'s grid as a local COG, written block by block into a tiled GTiff first.

    Categorical rasters (flow directions) get nearest-neighbour overviews and no predictor.
    """
    import rasterio
    from rasterio.windows import Window

    workdir = scratch_dir("catchments-")
    staging, destination = workdir / "staging.tif", workdir / "part.tif"
    height, width = values.shape
    profile = tiled_gtiff_profile(width, height, str(values.dtype), like.crs, like.transform, nodata)
    with rasterio.open(staging, "w", **profile) as dataset:
        for row in range(0, height, COG_BLOCK_SIZE):
            block = values[row : row + COG_BLOCK_SIZE]
            dataset.write(block, 1, window=Window(0, row, width, block.shape[0]))
    overrides = {"RESAMPLING": "NEAREST", "PREDICTOR": "NO"} if categorical else {}
    copy_to_cog(staging, destination, **overrides)
    staging.unlink()
    return destination


def cell_index(grid: Grid, shape: tuple[int, int], points: np.ndarray) -> np.ndarray:
    """Flat cell indices of ``points`` (x, y); -1 for a point outside the grid or not finite."""
    cols_f = np.floor((points[:, 0] - grid.west) / grid.cell)
    rows_f = np.floor((grid.north - points[:, 1]) / grid.cell)
    inside = (rows_f >= 0) & (rows_f < shape[0]) & (cols_f >= 0) & (cols_f < shape[1])
    rows, cols = np.where(inside, rows_f, 0).astype(np.int64), np.where(inside, cols_f, 0).astype(np.int64)
    indices = np.full(len(points), -1, dtype=np.int64)
    indices[inside] = np.ravel_multi_index((rows[inside], cols[inside]), shape)
    return indices


def cell_centres(grid: Grid, shape: tuple[int, int], indices: np.ndarray) -> np.ndarray:
    """(x, y) of the centres of the cells ``indices`` (NaN for -1)."""
    rows, cols = np.unravel_index(np.maximum(indices, 0), shape)
    centres = np.column_stack([grid.west + (cols + 0.5) * grid.cell, grid.north - (rows + 0.5) * grid.cell])
    centres[indices < 0] = np.nan
    return centres
