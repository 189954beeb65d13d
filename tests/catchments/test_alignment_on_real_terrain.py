"""River alignment on a real DEM (SRTM around Mont Ventoux) at its native 90 m cells and resampled to 30 m.

The rivers are derived from the DEM itself, so their true offset is zero and a planted shift is the whole
truth: the estimate must recover it within a fraction of a cell and call itself trusted. Rivers that do
not belong to the terrain (another window's, random lines) must be called untrusted and left unshifted.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import shapely

from landing_zone.defs.catchments.alignment import (
    MAX_SEARCH_CELLS,
    OffsetEstimate,
    estimate_offset,
    plan_search,
    valley_depth,
)
from landing_zone.defs.catchments.grid import Grid
from tests.support.real_dem import real_dem, window_of, write_rivers

WINDOW = (680000, 4900000, 710000, 4930000)
OTHER_WINDOW = (650000, 4870000, 680000, 4900000)
PLANTED_CELLS = (1.5, -1.0)
RIVER_AREA_KM2 = 5.0


def lines(path: Path) -> list[np.ndarray]:
    return [np.array(f["geometry"]["coordinates"]) for f in json.loads(path.read_text())["features"]]


class Terrain:
    """A DEM window, its valley depth and grid, and rivers derived from it (and from another window)."""

    def __init__(self, root: Path, resolution_m: float | None) -> None:
        dem_path = window_of(real_dem("utm"), root / "dem.tif", WINDOW, resolution_m)
        other_dem = window_of(real_dem("utm"), root / "other.tif", OTHER_WINDOW, resolution_m)
        with rasterio.open(dem_path) as dataset:
            self.dem, transform = dataset.read(1), dataset.transform
        self.dem_path = dem_path
        self.grid = Grid(transform.c, transform.f, transform.a)
        self.evidence = valley_depth(self.dem, -9999.0)
        self.rivers_path = write_rivers(dem_path, root / "rivers.geojson", RIVER_AREA_KM2, basins=3)
        self.rivers = lines(self.rivers_path)
        other = lines(write_rivers(other_dem, root / "other.geojson", RIVER_AREA_KM2, basins=3))
        moved = np.subtract(WINDOW[:2], OTHER_WINDOW[:2])
        self.foreign_rivers = [line + moved for line in other]

    def estimate(self, rivers: list[np.ndarray]) -> OffsetEstimate:
        return estimate_offset(self.evidence, self.grid, rivers)


@pytest.fixture(scope="module", params=[None, 30.0], ids=["native-90m", "30m"])
def terrain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Terrain:
    return Terrain(tmp_path_factory.mktemp("real-terrain"), request.param)


def test_rivers_derived_from_the_dem_need_no_shift_and_are_trusted(terrain):
    estimate = terrain.estimate(terrain.rivers)
    assert np.hypot(estimate.dx, estimate.dy) <= terrain.grid.cell / 10, estimate
    assert estimate.trusted, estimate.doubts()
    assert estimate.prominence > 2 * estimate.prominence_threshold
    assert estimate.uncertainty_cells is not None and estimate.uncertainty_cells < 0.15


def test_planted_offset_of_a_cell_and_a_half_is_recovered_and_trusted(terrain):
    planted = np.array(PLANTED_CELLS) * terrain.grid.cell
    estimate = terrain.estimate([line + planted for line in terrain.rivers])
    assert np.hypot(estimate.dx - planted[0], estimate.dy - planted[1]) <= terrain.grid.cell / 10, estimate
    assert estimate.trusted, estimate.doubts()
    assert estimate.correction == (-estimate.dx, -estimate.dy)


def test_rivers_of_another_window_are_untrusted_and_not_applied(terrain):
    estimate = terrain.estimate(terrain.foreign_rivers)
    assert not estimate.trusted
    assert estimate.prominence < estimate.prominence_threshold, estimate
    assert estimate.correction == (0.0, 0.0)


def test_random_lines_are_untrusted(terrain):
    rng = np.random.default_rng(13)
    estimate = terrain.estimate(random_walks(terrain, rng, count=20, steps=60))
    assert not estimate.trusted
    assert estimate.prominence < estimate.prominence_threshold, estimate


def random_walks(terrain: Terrain, rng: np.random.Generator, count: int, steps: int) -> list[np.ndarray]:
    """Wandering lines of ``steps`` cells, starting anywhere in the window's inner 80 %."""
    rows, cols = terrain.dem.shape
    walks = []
    for _ in range(count):
        start = (
            terrain.grid.west + rng.uniform(0.1, 0.9) * cols * terrain.grid.cell,
            terrain.grid.north - rng.uniform(0.1, 0.9) * rows * terrain.grid.cell,
        )
        heading = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0.0, 0.3, steps))
        moves = np.column_stack([np.cos(heading), np.sin(heading)]) * terrain.grid.cell
        walks.append(np.vstack([start, start + np.cumsum(moves, axis=0)]))
    return walks


def test_cost_is_counted_in_cells_not_metres(terrain):
    """Two cells each way whatever the cell size: 25 whole-cell candidates, four 3 x 3 refinements, a
    5 x 5 jackknife patch and 48 null shifts (a fixed metre lattice tested 8443 at 90 m)."""
    estimate = terrain.estimate(terrain.rivers)
    assert estimate.search_m == 2 * terrain.grid.cell
    assert estimate.candidates == 25 + 4 * 9 + 25 + 48


def test_aligned_rivers_return_onto_the_lattice_through_the_geoframe_path(terrain, tmp_path):
    from landing_zone.defs.catchments.river_alignment import align_rivers
    from landing_zone.defs.catchments.river_source import parse_rivers
    from shared.rasters.handles import StoredRaster

    collection = json.loads(terrain.rivers_path.read_text())
    planted = np.array(PLANTED_CELLS) * terrain.grid.cell
    for feature in collection["features"]:
        feature["geometry"]["coordinates"] = (np.array(feature["geometry"]["coordinates"]) + planted).tolist()
    shifted = tmp_path / "shifted.geojson"
    shifted.write_text(json.dumps(collection))
    rivers = parse_rivers(collection, str(shifted))
    aligned, estimate = align_rivers(rivers, StoredRaster(str(terrain.dem_path), str(terrain.dem_path)))
    assert estimate.trusted, estimate.doubts()
    moved = np.concatenate([shapely.get_coordinates(line) for line in aligned.geometries()])
    original = np.concatenate(terrain.rivers)
    assert np.abs(moved - original).max() <= terrain.grid.cell / 10


@pytest.mark.parametrize(
    ("cell", "shape", "settings", "names"),
    [
        (2.0, (3000, 3000), {"min_search_m": 100.0}, "min_search_m"),
        (2.0, (3000, 3000), {"search_cells": 0}, "search_cells"),
        (90.0, (333, 333), {"search_cells": MAX_SEARCH_CELLS + 1}, "search_cells"),
        (90.0, (40, 40), {"search_cells": 2}, "larger region"),
    ],
)
def test_a_search_the_resolution_cannot_serve_is_refused_naming_what_to_change(cell, shape, settings, names):
    with pytest.raises(ValueError, match=names):
        plan_search(cell, shape, **settings)


def test_the_metre_minimum_widens_the_radius_on_fine_cells():
    assert plan_search(2.0, (3000, 3000)).radius_cells == 8  # 15 m at 2 m cells
    assert plan_search(90.0, (333, 333)).radius_cells == 2


def test_metadata_holds_only_plain_values_dagster_can_record(terrain):
    for estimate in (terrain.estimate(terrain.rivers), terrain.estimate(terrain.foreign_rivers)):
        metadata = estimate.metadata()
        assert all(type(value) in (int, float, bool, str, type(None)) for value in metadata.values()), (
            metadata
        )
        assert metadata["trusted"] is estimate.trusted
