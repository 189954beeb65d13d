"""1 km elevation tiles in the mix of formats and quirks that national providers publish.

Formats: ARC/INFO ASCII grid (with and without ``.prj``, ``xllcorner`` or ``xllcenter``, decimal
commas), XYZ point lists (with or without header, some northing-first, some with holes, some rows
south-to-north) and GeoTIFF. A few deliberately broken tiles (truncated, irregular, empty, without CRS)
exercise the pipeline's skip logic; the tile index says which tile has which file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import rasterio
from rasterio.transform import from_origin

from platform_dev.sample_region.spec import CRS, NODATA

Format = Literal["asc", "xyz", "tif"]


@dataclass(frozen=True)
class TileVariant:
    """How one tile is published: format and quirks, or the defect that makes it unusable."""

    format: Format
    prj: bool = True
    centre_registered: bool = False
    decimal_comma: bool = False
    header: bool = True
    northing_first: bool = False
    south_to_north: bool = False
    holes: bool = False
    defect: str | None = None


@dataclass(frozen=True)
class TileData:
    """The values of one tile and where they lie: north-west corner and cell size."""

    values: np.ndarray
    west: float
    north: float
    cell: float


GOOD_VARIANTS = (
    TileVariant("asc"),
    TileVariant("xyz"),
    TileVariant("tif"),
    TileVariant("asc", prj=False),
    TileVariant("xyz", header=False, northing_first=True),
    TileVariant("asc", centre_registered=True, decimal_comma=True),
    TileVariant("xyz", south_to_north=True),
    TileVariant("xyz", holes=True),
    TileVariant("asc", prj=False, centre_registered=True),
    TileVariant("xyz", header=False, northing_first=True, south_to_north=True, holes=True),
    TileVariant("tif"),
    TileVariant("asc", decimal_comma=True),
)
BAD_VARIANTS = (
    TileVariant("asc", defect="truncated ASC: the file ends in the middle of the grid"),
    TileVariant("xyz", defect="irregular XYZ: points are not on a regular 2 m grid"),
    TileVariant("tif", defect="zero-byte file"),
    TileVariant("tif", defect="GeoTIFF without CRS and no CRS in the index"),
)


def write_tile(path_stem: Path, tile: TileData, variant: TileVariant, rng: np.random.Generator) -> Path:
    """Write one tile; returns the path of the main file (``.asc``, ``.xyz`` or ``.tif``)."""
    path = path_stem.with_suffix(f".{variant.format}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = {"asc": _write_asc, "xyz": _write_xyz, "tif": _write_tif}[variant.format]
    writer(path, tile, variant, rng)
    return path


def _write_asc(path: Path, tile: TileData, variant: TileVariant, rng: np.random.Generator) -> None:
    values, west, north, cell = tile.values, tile.west, tile.north, tile.cell
    rows, cols = values.shape
    south = north - rows * cell
    corner = "xllcenter" if variant.centre_registered else "xllcorner"
    offset = cell / 2 if variant.centre_registered else 0.0
    header = (
        f"ncols {cols}\nnrows {rows}\n{corner} {west + offset:.3f}\n"
        f"{corner.replace('x', 'y', 1)} {south + offset:.3f}\n"
        f"cellsize {cell:.3f}\nNODATA_value {NODATA:.0f}\n"
    )
    body = _grid_text(values)
    text = header + body
    if variant.decimal_comma:
        text = text.replace(".", ",")
    if variant.defect:
        text = text[: len(text) // 2]
    path.write_text(text, encoding="ascii")
    if variant.prj and not variant.defect:
        import pyproj

        path.with_suffix(".prj").write_text(pyproj.CRS(CRS).to_wkt(version="WKT1_ESRI"), encoding="ascii")


def _grid_text(values: np.ndarray) -> str:
    """Rows of space-separated values with millimetre precision, formatted by polars (fast)."""
    frame = pl.DataFrame(
        np.round(values.astype(np.float64), 3), schema=[f"c{i}" for i in range(values.shape[1])], orient="row"
    )
    return frame.write_csv(separator=" ", include_header=False, float_precision=3)


def _write_xyz(path: Path, tile: TileData, variant: TileVariant, rng: np.random.Generator) -> None:
    values, west, north, cell = tile.values, tile.west, tile.north, tile.cell
    rows, cols = values.shape
    x = west + (np.arange(cols) + 0.5) * cell
    y = north - (np.arange(rows) + 0.5) * cell
    xx, yy = np.meshgrid(x, y)
    keep = np.ones(values.shape, dtype=bool)
    if variant.holes:
        keep &= ~_hole_mask(rows, cols, rng)
    if variant.defect:
        xx = xx + rng.uniform(-0.7, 0.7, size=xx.shape)
    order = slice(None, None, -1) if variant.south_to_north else slice(None)
    columns = {
        "x": xx[order][keep[order]],
        "y": yy[order][keep[order]],
        "z": values[order][keep[order]].astype(np.float64),
    }
    frame = pl.DataFrame(columns).select(["y", "x", "z"] if variant.northing_first else ["x", "y", "z"])
    frame.write_csv(path, separator=" ", include_header=variant.header, float_precision=3)


def _hole_mask(rows: int, cols: int, rng: np.random.Generator) -> np.ndarray:
    """An elliptical gap (a lake, a survey hole) covering a few percent of the tile."""
    centre_r, centre_c = rng.uniform(0.25, 0.75) * rows, rng.uniform(0.25, 0.75) * cols
    r, c = np.ogrid[:rows, :cols]
    return ((r - centre_r) / (0.12 * rows)) ** 2 + ((c - centre_c) / (0.18 * cols)) ** 2 < 1


def _write_tif(path: Path, tile: TileData, variant: TileVariant, rng: np.random.Generator) -> None:
    values, west, north, cell = tile.values, tile.west, tile.north, tile.cell
    if variant.defect == "zero-byte file":
        path.write_bytes(b"")
        return
    rows, cols = values.shape
    profile = {
        "driver": "GTiff",
        "width": cols,
        "height": rows,
        "count": 1,
        "dtype": "float32",
        "transform": from_origin(west, north, cell, cell),
        "nodata": NODATA,
        "compress": "deflate",
    }
    if not variant.defect:
        profile["crs"] = CRS
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(values.astype(np.float32), 1)
