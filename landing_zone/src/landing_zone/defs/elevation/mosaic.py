"""Consolidate converted tiles into one COG per region: a VRT mosaic copied block-wise by GDAL.

The tiles are first staged to local disk through the storage API: GDAL reading them over ``/vsis3/``
failed whole runs on a connection reset mid-body (``TIFFReadEncodedTile() failed``), which its HTTP
retries do not cover, while the storage API retries and resumes. Staging refuses to start when the
tiles plus an output of the same size would not fit on the disk (point ``TMPDIR`` at a larger volume),
and the staged tiles are deleted as soon as the COG is written. The VRT only references the local tiles,
so building it costs nothing; GDAL's COG driver then reads it block by block, and peak memory stays near
``GDAL_CACHEMAX`` whatever the region's size. The scratch folder goes away once the raster IO manager
stored the COG (:func:`shared.rasters.handles.scratch_dir`).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

import polars as pl

from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog
from shared.rasters.gdal_cache import gdal_cache_env
from shared.rasters.handles import scratch_dir
from shared.storage import Storage

NODATA = -9999.0
MOSAIC_STATUSES = ("converted", "kept")
"""Statuses of converted-table rows whose COG the mosaic uses."""
# Local files only; PAM off so GDAL never writes .aux.xml next to tiles that local storage hands out.
_LOCAL_GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "NO"}


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
        f"<SRS>{_xml_text(crs_wkt)}</SRS>"
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
        f'<ComplexSource><SourceFilename relativeToVRT="0">{_xml_text(tile.gdal_path)}</SourceFilename>'
        f"<SourceBand>1</SourceBand>"
        f'<SourceProperties RasterXSize="{tile.width}" RasterYSize="{tile.height}" DataType="Float32" '
        f'BlockXSize="{min(COG_BLOCK_SIZE, tile.width)}" BlockYSize="{min(COG_BLOCK_SIZE, tile.height)}"/>'
        f'<SrcRect xOff="0" yOff="0" xSize="{tile.width}" ySize="{tile.height}"/>'
        f'<DstRect xOff="{x_off}" yOff="{y_off}" xSize="{tile.width}" ySize="{tile.height}"/>'
        f"<NODATA>{NODATA}</NODATA></ComplexSource>"
    )


def _xml_text(value: str) -> str:
    """``value`` as XML character data: ``&``, ``<`` and ``>`` escaped, as ``xml.sax.saxutils.escape``
    does; that module is not used because it imports urllib.request and http.client with it (about
    10 ms at every load of the code location)."""
    return escape(value, quote=False)


def consolidate(
    vrt: Path, destination: Path, cache_mb: int, gdal_options: dict[str, str] | None = None
) -> Path:
    """Copy the VRT into a COG with the platform's profile, under a bounded GDAL block cache."""
    import rasterio

    with rasterio.Env(**gdal_cache_env(cache_mb), **(gdal_options or {})):
        return copy_to_cog(vrt, destination)


def consolidate_region(
    tables: Sequence[pl.DataFrame], storage: Storage, crs: str, cell: float, cache_mb: int
) -> Path:
    """Mosaic every converted tile listed in ``tables`` into one local COG (returned for storing, in a
    scratch folder that the raster IO manager removes after the upload)."""
    import pyproj

    # Fresh tiles and tiles that kept their last published version (a defective re-delivery) alike.
    converted = pl.concat(tables, how="vertical_relaxed").filter(pl.col("status").is_in(MOSAIC_STATUSES))
    if converted.is_empty():
        raise ValueError("no converted tiles to consolidate")
    workdir = scratch_dir("consolidate-")
    try:
        rows = list(converted.iter_rows(named=True))
        local = storage.stage_files([row["cog_key"] for row in rows], workdir / "tiles", spare_factor=1.0)
        tiles = [
            MosaicTile(str(path), row["west"], row["north"], row["width"], row["height"])
            for path, row in zip(local, rows, strict=True)
        ]
        vrt = write_vrt(tiles, cell, pyproj.CRS(crs).to_wkt(), workdir / "mosaic.vrt")
        cog = consolidate(vrt, workdir / "consolidated.tif", cache_mb, _LOCAL_GDAL_OPTIONS)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    shutil.rmtree(workdir / "tiles", ignore_errors=True)
    return cog
