"""A stand-in for the region's consolidated DTM (only its CRS and bounds matter to the satellite assets).
The catalogue in both versions is the session's ``catalogues`` fixture (``tests/conftest.py``), shared
with the generator's tests."""

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from platform_dev.sample_region.spec import CRS
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from tests.support.satellite_catalogues import Catalogues as Catalogues

REGION = "pilica"
DTM_CELL_M = 50.0
"""The stand-in DTM's cell: coarser than the scenes' 10 m, so the composite's cell must come from them."""


def write_dtm(directory: Path, bounds: tuple[float, float, float, float], cell: float = DTM_CELL_M) -> Path:
    """A COG in the region's CRS covering ``bounds`` (a gentle slope, as terrain would be)."""
    west, south, east, north = bounds
    width, height = round((east - west) / cell), round((north - south) / cell)
    staging = directory / "dtm-staging.tif"
    profile = tiled_gtiff_profile(
        width, height, "float32", CRS, from_origin(west, north, cell, cell), -9999.0
    )
    slope = np.linspace(180.0, 220.0, width, dtype=np.float32)
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(np.broadcast_to(slope, (height, width)), 1)
    cog = copy_to_cog(staging, directory / "dtm.tif")
    staging.unlink()
    return cog


def store_dtm(storage: StorageResource, dtm: Path) -> None:
    """Put the stand-in where ``elevation/dtm/consolidated`` publishes the region's DTM."""
    key = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG)
    storage.get_storage().put_file(dtm, key)
