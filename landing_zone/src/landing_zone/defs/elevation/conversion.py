"""Convert one raw tile into a COG on the configured grid, and describe what came out.

Steps: read (see :mod:`tile_readers`), reproject when the CRS or cell size differs from the target,
compare the result's bounds with the index footprint, fill small nodata gaps block-wise up to a
configured distance, optionally clip to the region, then write a tiled GTiff and copy it to a COG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from landing_zone.defs.elevation.tile_readers import Footprint, TileDefect, TileGrid, read_tile
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

NODATA = -9999.0


@dataclass(frozen=True)
class ConversionSettings:
    """Target grid and clean-up limits (from the pipeline component's configuration)."""

    crs: str
    cell_size: float
    fill_distance_cells: int
    clip_bounds: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class ConvertedTile:
    """A converted tile's statistics, one row of the converted-tiles table."""

    tile_id: str
    crs: str
    cell_size: float
    west: float
    south: float
    east: float
    north: float
    width: int
    height: int
    nodata_fraction: float
    filled_cells: int
    min_m: float
    max_m: float
    mean_m: float


def convert_tile(
    raw: Path,
    tile_id: str,
    tile_format: str,
    footprint: Footprint,
    settings: ConversionSettings,
    destination: Path,
    prj: Path | None = None,
) -> ConvertedTile:
    """Write ``destination`` (a COG) from a raw tile and return its statistics; TileDefect to skip."""
    grid = read_tile(raw, tile_format, footprint, settings.cell_size, prj)
    grid = _on_target_grid(grid, settings, raw.name)
    _check_bounds(grid, footprint, settings.cell_size, raw.name)
    values, filled = _fill_gaps(grid.values, settings.fill_distance_cells)
    if settings.clip_bounds:
        values = _clip(values, grid, settings.clip_bounds)
    valid = values[np.isfinite(values)]
    if valid.size == 0:
        raise TileDefect(f"{raw.name}: no valid cells")
    _write_cog(values, grid, settings, destination)
    west, south, east, north = grid.bounds
    return ConvertedTile(
        tile_id=tile_id,
        crs=settings.crs,
        cell_size=settings.cell_size,
        west=west,
        south=south,
        east=east,
        north=north,
        width=values.shape[1],
        height=values.shape[0],
        nodata_fraction=float(1.0 - valid.size / values.size),
        filled_cells=filled,
        min_m=float(valid.min()),
        max_m=float(valid.max()),
        mean_m=float(valid.mean()),
    )


def _on_target_grid(grid: TileGrid, settings: ConversionSettings, name: str) -> TileGrid:
    """Reproject (bilinear) when the tile's CRS or cell size differs from the target; else unchanged."""
    import pyproj

    same_crs = pyproj.CRS(grid.crs) == pyproj.CRS(settings.crs)
    if same_crs and abs(grid.cell - settings.cell_size) < 1e-9:
        return grid
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    rows, cols = grid.values.shape
    west, south, east, north = grid.bounds
    transform, width, height = calculate_default_transform(
        grid.crs, settings.crs, cols, rows, west, south, east, north, resolution=settings.cell_size
    )
    target = np.full((height, width), np.nan)
    reproject(
        grid.values,
        target,
        src_transform=from_origin(west, north, grid.cell, grid.cell),
        src_crs=grid.crs,
        dst_transform=transform,
        dst_crs=settings.crs,
        resampling=Resampling.bilinear,
        src_nodata=np.nan,
        dst_nodata=np.nan,
    )
    return TileGrid(target, transform.c, transform.f, settings.cell_size, settings.crs)


def _check_bounds(grid: TileGrid, footprint: Footprint, cell: float, name: str) -> None:
    """The converted tile must cover the footprint the index promises, within half a cell."""
    got = np.array(grid.bounds)
    expected = np.array([footprint.west, footprint.south, footprint.east, footprint.north])
    if np.abs(got - expected).max() > cell / 2:
        raise TileDefect(
            f"{name}: bounds {tuple(got.round(2))} differ from the index footprint {tuple(expected.round(2))}"
        )


def _fill_gaps(values: np.ndarray, distance: int) -> tuple[np.ndarray, int]:
    """Fill nodata gaps narrower than ``distance`` cells (GDAL's inverse-distance fill); wider stay nodata."""
    missing = ~np.isfinite(values)
    if distance <= 0 or not missing.any() or missing.all():
        return values, 0
    from rasterio.fill import fillnodata

    filled = fillnodata(
        np.where(missing, 0.0, values),
        mask=(~missing).astype(np.uint8),
        max_search_distance=distance,
        smoothing_iterations=0,
    )
    # fillnodata leaves cells it could not reach unchanged (0 here): restore them as gaps
    reachable = _within(missing, distance)
    result = np.where(missing & reachable, filled, values)
    return result, int((missing & reachable).sum())


def _within(missing: np.ndarray, distance: int) -> np.ndarray:
    """Cells whose nearest valid cell is at most ``distance`` cells away."""
    from scipy import ndimage

    return ndimage.distance_transform_edt(missing) <= distance


def _clip(values: np.ndarray, grid: TileGrid, bounds: tuple[float, float, float, float]) -> np.ndarray:
    rows, cols = values.shape
    x = grid.west + (np.arange(cols) + 0.5) * grid.cell
    y = grid.north - (np.arange(rows) + 0.5) * grid.cell
    inside = ((x >= bounds[0]) & (x <= bounds[2]))[None, :] & ((y >= bounds[1]) & (y <= bounds[3]))[:, None]
    return np.where(inside, values, np.nan)


def _write_cog(values: np.ndarray, grid: TileGrid, settings: ConversionSettings, destination: Path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    rows, cols = values.shape
    staging = destination.with_suffix(".staging.tif")
    profile = tiled_gtiff_profile(
        cols, rows, "float32", settings.crs, from_origin(grid.west, grid.north, grid.cell, grid.cell), NODATA
    )
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(np.where(np.isfinite(values), values, NODATA).astype(np.float32), 1)
    copy_to_cog(staging, destination)
    staging.unlink()
