"""Write and describe Cloud Optimized GeoTIFFs.

rasterio (GDAL) is imported inside the functions: code-location servers import this module to build
definitions and must stay light.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

COG_BLOCK_SIZE = 512


@dataclass(frozen=True)
class RasterDescription:
    """What the raster IO manager records about a stored raster."""

    crs: str
    bounds: tuple[float, float, float, float]
    resolution: tuple[float, float]
    dtype: str
    width: int
    height: int
    band_count: int
    nodata: float | None
    overview_levels: tuple[int, ...]
    layout: str
    block_size: tuple[int, int]

    @property
    def is_cog(self) -> bool:
        return self.layout == "COG"


def describe_raster(path: str | Path, gdal_options: dict[str, str] | None = None) -> RasterDescription:
    """Read the header of a raster (local path or ``/vsis3/``) without reading pixels."""
    import rasterio

    with rasterio.Env(**(gdal_options or {})), rasterio.open(path) as dataset:
        crs = dataset.crs
        epsg = crs.to_epsg() if crs else None
        structure = dataset.tags(ns="IMAGE_STRUCTURE")
        return RasterDescription(
            crs=f"EPSG:{epsg}" if epsg else (crs.to_string() if crs else ""),
            bounds=tuple(dataset.bounds),
            resolution=tuple(dataset.res),
            dtype=dataset.dtypes[0],
            width=dataset.width,
            height=dataset.height,
            band_count=dataset.count,
            nodata=dataset.nodata,
            overview_levels=tuple(dataset.overviews(1)),
            layout=structure.get("LAYOUT", "GTiff" if dataset.driver == "GTiff" else dataset.driver),
            block_size=tuple(dataset.block_shapes[0]),
        )


def cog_creation_options(compress: str = "DEFLATE", predictor: str = "YES") -> dict[str, Any]:
    """The platform's COG profile: 512 blocks, internal overviews, statistics for QGIS styling."""
    return {
        "driver": "COG",
        "BLOCKSIZE": COG_BLOCK_SIZE,
        "COMPRESS": compress,
        "PREDICTOR": predictor,
        "OVERVIEWS": "IGNORE_EXISTING",
        "RESAMPLING": "AVERAGE",
        "STATISTICS": "YES",
        "NUM_THREADS": "ALL_CPUS",
        "BIGTIFF": "IF_SAFER",
    }


def copy_to_cog(source: str | Path | Any, destination: Path, **overrides: Any) -> Path:
    """Copy any GDAL-readable raster (a tiled GTiff written block-wise, a VRT, an open rasterio dataset
    such as a ``WarpedVRT``) into a COG.

    GDAL's COG driver streams block by block, so memory stays near GDAL_CACHEMAX whatever the size.
    """
    import rasterio.shutil

    options = cog_creation_options() | overrides
    readable = str(source) if isinstance(source, str | Path) else source
    rasterio.shutil.copy(readable, str(destination), **options)
    return destination


def tiled_gtiff_profile(
    width: int, height: int, dtype: str, crs: Any, transform: Any, nodata: float
) -> dict[str, Any]:
    """Profile of the intermediate tiled GTiff that assets write block-wise before :func:`copy_to_cog`."""
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": dtype,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": COG_BLOCK_SIZE,
        "blockysize": COG_BLOCK_SIZE,
        "compress": "ZSTD",
        "BIGTIFF": "IF_SAFER",
    }
