"""The sample region's satellite catalogue in both versions, built once per session, and a stand-in for
the region's consolidated DTM (only its CRS and bounds matter to the satellite assets)."""

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from platform_dev.sample_region.satellite import default_months, write_satellite
from platform_dev.sample_region.spec import CRS, RegionSpec
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from tests.conftest import SAMPLE_SEED

REGION = "pilica"
DTM_CELL_M = 50.0
"""The stand-in DTM's cell: coarser than the scenes' 10 m, so the composite's cell must come from them."""


@dataclass(frozen=True)
class Catalogues:
    """Version 1 and version 2 of the catalogue in folders of their own, as a provider republishes."""

    spec: RegionSpec
    v1: Path
    v2: Path


@pytest.fixture(scope="session")
def catalogues(tmp_path_factory: pytest.TempPathFactory) -> Catalogues:
    spec = RegionSpec.for_size("small", SAMPLE_SEED)
    root = tmp_path_factory.mktemp("satellite")
    v1 = write_satellite(spec, root / "v1", default_months(spec, 1))
    shutil.copytree(root / "v1", root / "v2")
    return Catalogues(spec, v1, write_satellite(spec, root / "v2", default_months(spec, 2)))


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
