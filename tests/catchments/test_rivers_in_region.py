"""``hydrography/rivers_aligned`` refuses rivers that miss the region, before estimating any offset."""

import re
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from landing_zone.defs.catchments.assets import rivers_aligned
from landing_zone.defs.catchments.keys import catchment_key, hydrography_key
from landing_zone.defs.catchments.river_source import RiverSourceError
from shared.assets.landing_zone import REGIONS
from shared.resources.platform import RASTER_IO_MANAGER, VECTOR_IO_MANAGER, platform_resources
from shared.storage.layout import AssetLocation, partition_dimensions
from shared.vectors.formats import write_geoparquet
from shared.vectors.geoframe import GeoFrame

REGION = "pilica"
CELL = 10.0
DEM_ORIGIN = (700_000.0, 600_500.0)
"""North-west corner of a 50 x 50 cell DEM in EPSG:2180, 140 km from the rivers below."""


def store(storage, key: dg.AssetKey, path: Path, extension: str) -> None:
    storage.get_storage().put_file(
        path, AssetLocation(key.path, partition_dimensions(REGIONS, REGION)).key(extension)
    )


def write_dem(path: Path) -> Path:
    profile = {
        "driver": "GTiff",
        "width": 50,
        "height": 50,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:2180",
    }
    with rasterio.open(path, "w", **profile, transform=from_origin(*DEM_ORIGIN, CELL, CELL)) as dataset:
        dataset.write(np.full((1, 50, 50), 100.0, dtype=np.float32))
    return path


@pytest.mark.hostile
def test_rivers_outside_the_analysis_dem_fail_naming_asset_crs_and_both_extents(tmp_path, local_storage):
    line = shapely.LineString([(560_000, 360_000), (560_100, 360_000)])
    rivers = GeoFrame.from_geometries(
        pl.DataFrame(
            {"river_id": ["main"], "receiving": [None]},
            schema={"river_id": pl.String, "receiving": pl.String},
        ),
        [line],
        "EPSG:2180",
    )
    write_geoparquet(rivers, tmp_path / "rivers.parquet")
    store(local_storage, hydrography_key("rivers"), tmp_path / "rivers.parquet", "parquet")
    store(local_storage, catchment_key("analysis_dem"), write_dem(tmp_path / "dem.tif"), "tif")
    upstream = [
        dg.AssetSpec(hydrography_key("rivers"), partitions_def=REGIONS).with_io_manager_key(
            VECTOR_IO_MANAGER
        ),
        dg.AssetSpec(catchment_key("analysis_dem"), partitions_def=REGIONS).with_io_manager_key(
            RASTER_IO_MANAGER
        ),
    ]

    with pytest.raises(RiverSourceError) as raised:
        dg.materialize(
            [*upstream, rivers_aligned],
            selection=[rivers_aligned.key],
            partition_key=REGION,
            resources=platform_resources(local_storage),
        )

    message = str(raised.value)
    assert message.startswith("hydrography/rivers (partition pilica) against the analysis DEM ")
    assert re.search(r"catchments/analysis_dem/\S*pilica/part.tif: no river reaches the region", message)
    assert "declared in EPSG:2180 with extent (560000, 360000, 560100, 360000)" in message
    assert "but the region covers (700000, 600000, 700500, 600500)" in message
