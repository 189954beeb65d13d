"""Consolidate converted tiles into one COG per region: a VRT mosaic copied block-wise by GDAL.

The VRT only references the tile COGs (local paths or ``/vsis3/``), so building it costs nothing; GDAL's
COG driver then reads it block by block, and peak memory stays near ``GDAL_CACHEMAX`` whatever the
region's size.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import polars as pl

from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog
from shared.storage import Storage

NODATA = -9999.0


@dataclass(frozen=True)
class MosaicTile:
    """A converted tile: where GDAL reads it and the cells it covers."""

    gdal_path: str
    west: float
    north: float
    width: int
    height: int


def write_vrt(
    tiles: Sequence[MosaicTile],
    cell: float,
    crs_wkt: str,
    destination: Path,
    bounds: tuple[float, float, float, float] | None = None,
) -> Path:
    """A VRT mosaic of ``tiles`` on their common grid, covering ``bounds`` or else their union."""
    if not tiles:
        raise ValueError("a mosaic needs at least one tile")
    west = bounds[0] if bounds else min(t.west for t in tiles)
    north = bounds[3] if bounds else max(t.north for t in tiles)
    east = bounds[2] if bounds else max(t.west + t.width * cell for t in tiles)
    south = bounds[1] if bounds else min(t.north - t.height * cell for t in tiles)
    width, height = math.ceil(round((east - west) / cell, 6)), math.ceil(round((north - south) / cell, 6))
    sources = "".join(_source(tile, west, north, cell) for tile in tiles)
    destination.write_text(
        f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">'
        f"<SRS>{escape(crs_wkt)}</SRS>"
        f"<GeoTransform>{west!r}, {cell!r}, 0.0, {north!r}, 0.0, {-cell!r}</GeoTransform>"
        f'<VRTRasterBand dataType="Float32" band="1"><NoDataValue>{NODATA}</NoDataValue>'
        f"{sources}</VRTRasterBand></VRTDataset>",
        encoding="utf-8",
    )
    return destination


def _source(tile: MosaicTile, west: float, north: float, cell: float) -> str:
    x_off = round((tile.west - west) / cell)
    y_off = round((north - tile.north) / cell)
    return (
        f'<ComplexSource><SourceFilename relativeToVRT="0">{escape(tile.gdal_path)}</SourceFilename>'
        f"<SourceBand>1</SourceBand>"
        f'<SourceProperties RasterXSize="{tile.width}" RasterYSize="{tile.height}" DataType="Float32" '
        f'BlockXSize="{min(COG_BLOCK_SIZE, tile.width)}" BlockYSize="{min(COG_BLOCK_SIZE, tile.height)}"/>'
        f'<SrcRect xOff="0" yOff="0" xSize="{tile.width}" ySize="{tile.height}"/>'
        f'<DstRect xOff="{x_off}" yOff="{y_off}" xSize="{tile.width}" ySize="{tile.height}"/>'
        f"<NODATA>{NODATA}</NODATA></ComplexSource>"
    )


def consolidate(
    vrt: Path, destination: Path, cache_mb: int, gdal_options: dict[str, str] | None = None
) -> Path:
    """Copy the VRT into a COG with the platform's profile, under a bounded GDAL block cache."""
    import rasterio

    # rasterio hands an integer GDAL_CACHEMAX to GDALSetCacheMax64, which counts bytes, not megabytes
    with rasterio.Env(GDAL_CACHEMAX=cache_mb * 1024 * 1024, **(gdal_options or {})):
        return copy_to_cog(vrt, destination)


def consolidate_region(
    tables: Sequence[pl.DataFrame], storage: Storage, crs: str, cell: float, cache_mb: int
) -> Path:
    """Mosaic every converted tile listed in ``tables`` into one local COG (returned for storing)."""
    import pyproj

    converted = pl.concat(tables, how="vertical_relaxed").filter(pl.col("status") == "converted")
    if converted.is_empty():
        raise ValueError("no converted tiles to consolidate")
    tiles = [
        MosaicTile(storage.gdal_path(row["cog_key"]), row["west"], row["north"], row["width"], row["height"])
        for row in converted.iter_rows(named=True)
    ]
    workdir = Path(tempfile.mkdtemp(prefix="consolidate-"))
    vrt = write_vrt(tiles, cell, pyproj.CRS(crs).to_wkt(), workdir / "mosaic.vrt")
    return consolidate(vrt, workdir / "consolidated.tif", cache_mb, storage.gdal_options())
