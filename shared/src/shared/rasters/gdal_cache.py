"""The GDAL block cache of a step, in one place: the step's environment and rasterio's ``Env`` agree.

GDAL reads a plain ``GDAL_CACHEMAX`` environment value as megabytes, while rasterio hands an integer
``GDAL_CACHEMAX`` option to ``GDALSetCacheMax64``, which counts bytes: each helper converts for its side.
"""

from __future__ import annotations

DEFAULT_GDAL_CACHE_MB = 256
"""GDAL block cache per step unless a pipeline configures its own."""


def gdal_cache_env(cache_mb: int) -> dict[str, int]:
    """``rasterio.Env`` options for a ``cache_mb`` block cache (in bytes, as rasterio passes it on)."""
    return {"GDAL_CACHEMAX": cache_mb * 1024 * 1024}


def gdal_cache_step_env(cache_mb: int) -> dict[str, str]:
    """The step's environment (``K8sOpTags`` ``env``) for a ``cache_mb`` block cache (GDAL reads MB)."""
    return {"GDAL_CACHEMAX": str(cache_mb)}
