"""Rasters of the catchments domain: the DEM resampled to the analysis grid, arrays in and COGs out.

Delineation works on whole arrays (pyflwdir needs the full grid), so the analysis resolution is what
bounds memory: the consolidated DEM is resampled block-wise by GDAL's warper (average of the cells in
each analysis cell), never read whole at full resolution, and reprojected to the region's metric CRS
when it comes in another one (degrees are never taken for metres).
"""

from __future__ import annotations

import math
import os
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


def resample_dem(
    source: StoredRaster, crs: str, resolution_m: float, cache_mb: int, crs_origin: str = "the target CRS"
) -> Path:
    """The DEM on a ``resolution_m`` grid in ``crs`` snapped to multiples of it, as a local COG.

    GDAL's warper averages the source cells in each analysis cell block by block (memory bounded by
    ``cache_mb``, never the whole source), reprojecting on the way when the source is in another CRS: a
    DEM in geographic coordinates (degrees) comes out on the metric grid, its extent the source's bounds
    in ``crs``. The warp writes a tiled GTiff once and the COG is copied from it: the COG driver reads its
    source several times (statistics, overviews, data), which would repeat the warp each time.

    ``crs`` must be projected in metres (cell sizes, lengths and areas downstream are metres): anything
    else is refused naming ``crs_origin``, as is a source without a CRS (naming the file).
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    target = metric_crs(crs, crs_origin)
    workdir = scratch_dir("analysis-dem-")
    staging, destination = workdir / "staging.tif", workdir / "analysis_dem.tif"
    with (
        rasterio.Env(**gdal_cache_env(cache_mb), **source.gdal_options),
        rasterio.open(source.gdal_path) as dataset,
    ):
        if dataset.crs is None:
            raise ValueError(f"{source.uri}: the DEM has no CRS; store it with one (e.g. gdal_edit -a_srs)")
        transform, width, height = analysis_grid(dataset, target, resolution_m)
        profile = tiled_gtiff_profile(width, height, "float32", target, transform, DEM_NODATA)
        with rasterio.open(staging, "w", **profile | STAGING_OPTIONS) as warped:
            reproject(
                rasterio.band(dataset, 1),
                rasterio.band(warped, 1),
                src_nodata=dataset.nodata,
                dst_nodata=DEM_NODATA,
                resampling=Resampling.average,
                warp_mem_limit=cache_mb,
                num_threads=len(os.sched_getaffinity(0)),  # as the COG copy's ALL_CPUS: the pod's cores
            )
    copy_to_cog(staging, destination, **ANALYSIS_COG_OPTIONS)
    staging.unlink()
    return destination


ANALYSIS_COG_OPTIONS = {"LEVEL": 1}
"""The analysis DEM is an intermediate the chain reads at once: DEFLATE level 1 writes it in half the time
of the default level for about 5 % more bytes (measured on the bench region's 4000 x 4000 grid)."""


def lattice_shift_cells(west: float, north: float, resolution_m: float) -> tuple[float, float] | None:
    """How far (in analysis cells, x and y) a raster's origin lies off the analysis grid, which is snapped
    to multiples of its cell size; None when it lies on it (to a thousandth of a cell)."""
    x, y = (round((value / resolution_m) % 1.0, 3) % 1.0 for value in (west, north))
    return None if (x, y) == (0.0, 0.0) else (x, y)


STAGING_OPTIONS = {"compress": "NONE"}
"""The warp's staging GTiff is read once by the COG copy and deleted: compressing it only costs time (it
is the analysis grid, small enough to hold in memory by construction, so also on disk)."""


def metric_crs(crs: str, origin: str) -> Any:
    """``crs`` as a rasterio CRS when it is projected in metres; otherwise a ``ValueError`` naming
    ``origin`` (where the CRS was configured) and what to change."""
    from rasterio.crs import CRS

    try:
        parsed = CRS.from_user_input(crs)
    except Exception as error:
        raise ValueError(f"{origin}: CRS {crs!r} is not a CRS GDAL knows ({error})") from None
    units = parsed.linear_units_factor[0] if parsed.is_projected else "degrees"
    if not parsed.is_projected or parsed.linear_units_factor[1] != 1.0:
        raise ValueError(
            f"{origin}: CRS {crs} is not projected in metres (units: {units}); delineation measures cell "
            "sizes, lengths and areas in metres: set it to a projected metric CRS, such as the local UTM "
            "zone (EPSG:326NN north, EPSG:327NN south) or a national grid (EPSG:2180 for Poland)"
        )
    return parsed


def analysis_grid(dataset: Any, crs: Any, resolution_m: float) -> tuple[Any, int, int]:
    """Transform, width and height of the grid in ``crs`` covering ``dataset``, snapped outward to
    multiples of ``resolution_m`` (so grids of one region line up whatever the source tiles)."""
    from affine import Affine
    from rasterio.warp import transform_bounds

    bounds = tuple(dataset.bounds)
    if dataset.crs != crs:
        bounds = transform_bounds(dataset.crs, crs, *bounds, densify_pts=21)
    west, south = (math.floor(v / resolution_m) * resolution_m for v in bounds[:2])
    east, north = (math.ceil(v / resolution_m) * resolution_m for v in bounds[2:])
    width, height = round((east - west) / resolution_m), round((north - south) / resolution_m)
    return Affine(resolution_m, 0.0, west, 0.0, -resolution_m, north), width, height


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
