"""Small real rasters for tests, written with rasterio."""

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile


def write_noise_cog(directory: Path, size: int = 2048, crs: str | None = "EPSG:2180", seed: int = 1) -> Path:
    """A float32 COG of random values (barely compressible, so its size is honest for range-read tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / "staging.tif"
    transform = from_origin(500_000.0, 400_000.0, 2.0, 2.0)
    profile = tiled_gtiff_profile(size, size, "float32", crs, transform, -9999.0)
    values = np.random.default_rng(seed).normal(150.0, 20.0, size=(size, size)).astype(np.float32)
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(values, 1)
    cog = copy_to_cog(staging, directory / "noise.tif")
    staging.unlink()
    return cog


def write_plain_gtiff(directory: Path, crs: str | None = "EPSG:2180") -> Path:
    """A striped, non-COG GeoTIFF: what a careless asset might hand over."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "plain.tif"
    profile = {
        "driver": "GTiff",
        "width": 64,
        "height": 64,
        "count": 1,
        "dtype": "float32",
        "transform": from_origin(0, 64, 1, 1),
    }
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.ones((64, 64), dtype=np.float32), 1)
    return path
