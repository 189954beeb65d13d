"""River-vector offset against the DEM's valley lines, scored against the generator's planted offset."""

import json

import numpy as np
import pyflwdir
import pytest
import rasterio

from landing_zone.defs.catchments.alignment import estimate_offset, valley_depth
from landing_zone.defs.catchments.grid import Grid


def lines(path) -> list[np.ndarray]:
    return [
        np.array(feature["geometry"]["coordinates"]) for feature in json.loads(path.read_text())["features"]
    ]


@pytest.fixture(scope="module")
def valleys(small_region):
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        dem, transform = dataset.read(1), dataset.transform
    return valley_depth(dem, -9999.0), Grid(transform.c, transform.f, transform.a)


def test_planted_offset_is_recovered_within_a_tenth_of_a_cell(small_region, manifest, valleys):
    evidence, grid = valleys
    estimate = estimate_offset(evidence, grid, lines(small_region / "hydrography" / "rivers.geojson"))
    planted = manifest["rivers"]["offset_m"]
    assert np.hypot(estimate.dx - planted[0], estimate.dy - planted[1]) <= grid.cell / 10
    assert estimate.trusted, estimate.doubts()
    assert estimate.prominence > estimate.prominence_threshold > 3.0
    assert estimate.uncertainty_m is not None and estimate.uncertainty_m < 1.0
    assert estimate.correction == (-estimate.dx, -estimate.dy)
    assert estimate.candidates < 500  # 15 m is 8 cells at 2 m: 289 whole-cell candidates, not a metre grid


def test_true_rivers_need_no_shift(small_region, valleys):
    evidence, grid = valleys
    estimate = estimate_offset(evidence, grid, lines(small_region / "truth" / "rivers.geojson"))
    assert abs(estimate.dx) <= 0.5 and abs(estimate.dy) <= 0.5
    assert estimate.trusted, estimate.doubts()


def test_conditioning_removes_every_pit_and_burned_flow_follows_the_aligned_rivers(
    small_region, manifest, valleys
):
    from landing_zone.defs.catchments.conditioning import condition_dem, river_cells

    _, grid = valleys
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        dem, transform = dataset.read(1), dataset.transform
    offset = manifest["rivers"]["offset_m"]
    aligned = [line - offset for line in lines(small_region / "hydrography" / "rivers.geojson")]
    for strategy in ("fill", "burn_fill"):
        result = condition_dem(dem, -9999.0, grid, aligned, strategy)
        flw = pyflwdir.from_dem(result.dem, nodata=-9999.0, transform=transform, latlon=False, outlets="edge")
        pits = flw.idxs_pit
        rows, cols = np.unravel_index(pits, dem.shape)
        on_edge = (rows == 0) | (cols == 0) | (rows == dem.shape[0] - 1) | (cols == dem.shape[1] - 1)
        assert on_edge.all(), f"{strategy}: interior pits remain"
        assert result.max_fill_m >= 1.5  # the planted sinks (2 m deep) were filled
    burned = condition_dem(dem, -9999.0, grid, aligned, "burn_fill")
    assert burned.burned_cells > 5000
    accumulation = pyflwdir.from_dem(
        burned.dem, nodata=-9999.0, transform=transform, latlon=False
    ).upstream_area(unit="cell")
    channel = river_cells(aligned, grid, dem.shape)
    # the burned channel carries the valleys: its median accumulation dwarfs the landscape's
    assert np.median(accumulation[channel]) > 50 * np.median(accumulation)
