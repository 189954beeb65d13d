"""River-vector offset against the DEM's drainage, scored against the generator's planted offset."""

import json

import numpy as np
import pyflwdir
import pytest
import rasterio

from landing_zone.defs.catchments.alignment import Grid, estimate_offset


def lines(path) -> list[np.ndarray]:
    return [
        np.array(feature["geometry"]["coordinates"]) for feature in json.loads(path.read_text())["features"]
    ]


@pytest.fixture(scope="module")
def drainage(small_region):
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        dem, transform = dataset.read(1), dataset.transform
    flw = pyflwdir.from_dem(dem, nodata=-9999.0, transform=transform, latlon=False, outlets="edge")
    return flw.upstream_area(unit="cell"), Grid(transform.c, transform.f, transform.a)


def test_planted_offset_is_recovered_within_a_quarter_of_a_cell(small_region, manifest, drainage):
    accumulation, grid = drainage
    estimate = estimate_offset(accumulation, grid, lines(small_region / "hydrography" / "rivers.geojson"))
    planted = manifest["rivers"]["offset_m"]
    assert abs(estimate.dx - planted[0]) <= grid.cell / 4 and abs(estimate.dy - planted[1]) <= grid.cell / 4
    assert estimate.confidence > 3.0
    assert estimate.correction == (-estimate.dx, -estimate.dy)


def test_true_rivers_need_no_shift(small_region, drainage):
    accumulation, grid = drainage
    estimate = estimate_offset(accumulation, grid, lines(small_region / "truth" / "rivers.geojson"))
    assert abs(estimate.dx) <= 0.5 and abs(estimate.dy) <= 0.5
