"""Read one raw elevation tile, whatever its format and quirks, onto a north-up grid.

ARC/INFO ASCII grids may use decimal commas, ``xllcenter`` and lack a ``.prj``; XYZ files may be
northing-first (detected against the tile's footprint from the index, never silently transposed),
list rows south-to-north, or skip points (holes stay NaN, never 0); GeoTIFFs may be south-up or lack a
CRS. Anything that cannot be read unambiguously raises :class:`TileDefect` with a reason naming the
file and what is wrong, so the tile is skipped and the rest of its sheet still converts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from shared.workers import SkipItem

GRID_TOLERANCE = 0.01  # fraction of a cell a coordinate may deviate from the grid


class TileDefect(SkipItem):
    """A tile that cannot be converted; the message is the recorded skip reason."""


@dataclass(frozen=True)
class Footprint:
    """The tile's extent and CRS according to the index."""

    west: float
    south: float
    east: float
    north: float
    crs: str


@dataclass(frozen=True)
class TileGrid:
    """A tile on a north-up grid: values (float64, NaN = nodata), origin, cell size, CRS."""

    values: np.ndarray
    west: float
    north: float
    cell: float
    crs: str

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        rows, cols = self.values.shape
        return (self.west, self.north - rows * self.cell, self.west + cols * self.cell, self.north)


def read_tile(
    path: Path, tile_format: str, footprint: Footprint, cell: float, prj: Path | None = None
) -> TileGrid:
    """Dispatch on the index's format; zero-byte files are refused before any parser sees them.

    Whatever a reader cannot parse (a truncated GeoTIFF makes GDAL fail mid-read, a binary file makes
    the text readers fail) is a defect of that tile, named with its file and format, never a crash of
    the whole sheet.
    """
    if path.stat().st_size == 0:
        raise TileDefect(f"{path.name}: zero-byte file")
    readers = {
        "asc": lambda: read_asc(path, footprint, prj),
        "xyz": lambda: read_xyz(path, footprint, cell),
        "tif": lambda: read_geotiff(path, footprint),
    }
    if tile_format not in readers:
        raise TileDefect(f"{path.name}: unknown format {tile_format!r}")
    try:
        return readers[tile_format]()
    except TileDefect:
        raise
    except Exception as error:
        raise TileDefect(f"{path.name}: unreadable {tile_format} file: {error}") from error


def read_asc(path: Path, footprint: Footprint, prj: Path | None) -> TileGrid:
    """ARC/INFO ASCII grid; decimal commas are turned into points before parsing."""
    lines = path.read_text(encoding="latin-1").replace(",", ".").splitlines()
    header_lines = 0
    while header_lines < len(lines) and _is_header_line(lines[header_lines]):
        header_lines += 1
    header = {key.lower(): float(value) for key, value in (line.split() for line in lines[:header_lines])}
    missing = {"ncols", "nrows", "cellsize"} - header.keys()
    if missing or not ({"xllcorner", "xllcenter"} & header.keys()):
        raise TileDefect(f"{path.name}: ASC header lacks {sorted(missing) or 'xllcorner/xllcenter'}")
    rows, cols, cell = int(header["nrows"]), int(header["ncols"]), header["cellsize"]
    values = np.array(" ".join(lines[header_lines:]).split(), dtype=np.float64)
    if values.size != rows * cols:
        raise TileDefect(f"{path.name}: truncated ASC: expected {rows * cols} values, found {values.size}")
    values = values.reshape(rows, cols)
    values[values == header.get("nodata_value", np.nan)] = np.nan
    centre = "xllcenter" in header
    west = header["xllcenter"] - cell / 2 if centre else header["xllcorner"]
    south = header["yllcenter"] - cell / 2 if centre else header["yllcorner"]
    crs = _prj_crs(prj) if prj is not None else footprint.crs
    if not crs:
        raise TileDefect(f"{path.name}: no .prj and no CRS in the index")
    return TileGrid(values, west, south + rows * cell, cell, crs)


def _is_header_line(line: str) -> bool:
    parts = line.split()
    return len(parts) == 2 and bool(re.fullmatch(r"[A-Za-z_]+", parts[0]))


def _prj_crs(prj: Path) -> str:
    import pyproj

    crs = pyproj.CRS.from_wkt(prj.read_text(encoding="latin-1"))
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.to_wkt()


def read_xyz(path: Path, footprint: Footprint, cell: float) -> TileGrid:
    """XYZ points; the axis order is decided by which column lies inside the footprint's easting range."""
    first = path.open(encoding="latin-1").readline().split()
    has_header = bool(first) and not _is_number(first[0])
    try:
        frame = pl.read_csv(
            path,
            separator=" ",
            has_header=has_header,
            new_columns=["a", "b", "z"],
            schema_overrides=[pl.Float64] * 3,
            encoding="utf8-lossy",
        )
    except pl.exceptions.PolarsError as error:
        raise TileDefect(f"{path.name}: not a 3-column XYZ file: {error}") from error
    a, b, z = (frame[name].to_numpy() for name in ("a", "b", "z"))
    x, y = _oriented(path, a, b, footprint)
    cols = round((footprint.east - footprint.west) / cell)
    rows = round((footprint.north - footprint.south) / cell)
    col_f = (x - footprint.west) / cell - 0.5
    row_f = (footprint.north - y) / cell - 0.5
    col, row = np.round(col_f).astype(np.int64), np.round(row_f).astype(np.int64)
    off_grid = (np.abs(col_f - col) > GRID_TOLERANCE) | (np.abs(row_f - row) > GRID_TOLERANCE)
    if off_grid.any():
        line = int(np.argmax(off_grid)) + 1 + has_header
        raise TileDefect(
            f"{path.name}: irregular XYZ: point at line {line} ({x[line - 1 - has_header]:.3f}, "
            f"{y[line - 1 - has_header]:.3f}) is not on the {cell} m grid"
        )
    outside = (col < 0) | (col >= cols) | (row < 0) | (row >= rows)
    if outside.any():
        raise TileDefect(f"{path.name}: {int(outside.sum())} points fall outside the index footprint")
    values = np.full((rows, cols), np.nan)
    values[row, col] = z
    return TileGrid(values, footprint.west, footprint.north, cell, footprint.crs)


def _oriented(
    path: Path, a: np.ndarray, b: np.ndarray, footprint: Footprint
) -> tuple[np.ndarray, np.ndarray]:
    """(easting, northing), after checking the columns against the footprint; never guessed blindly."""

    def inside(values: np.ndarray, low: float, high: float) -> bool:
        return bool(values.size) and low <= float(values.min()) and float(values.max()) <= high

    xy = inside(a, footprint.west, footprint.east) and inside(b, footprint.south, footprint.north)
    yx = inside(b, footprint.west, footprint.east) and inside(a, footprint.south, footprint.north)
    if xy and not yx:
        return a, b
    if yx and not xy:
        return b, a
    reason = "ambiguous (both orders fit)" if xy else "neither order fits"
    raise TileDefect(f"{path.name}: XYZ axis order against the index footprint is {reason}")


def read_geotiff(path: Path, footprint: Footprint) -> TileGrid:
    """GeoTIFF; a south-up file is flipped, a missing CRS is taken from the index or refused."""
    import rasterio

    with rasterio.open(path) as dataset:
        values = dataset.read(1, masked=True).astype(np.float64).filled(np.nan)
        transform, crs = dataset.transform, dataset.crs
    if transform.b or transform.d:
        raise TileDefect(f"{path.name}: rotated grids are not supported")
    crs_text = crs.to_string() if crs else footprint.crs
    if not crs_text:
        raise TileDefect(f"{path.name}: GeoTIFF without CRS and no CRS in the index")
    cell = abs(transform.a)
    north = transform.f
    if transform.e > 0:  # south-up: first row is the southern edge
        values = values[::-1]
        north = transform.f + values.shape[0] * transform.e
    return TileGrid(values, transform.c, north, cell, crs_text)


def _is_number(token: str) -> bool:
    try:
        float(token.replace(",", "."))
    except ValueError:
        return False
    return True
