"""Reach and progressive catchments at the DEM's full resolution, against the generator's gauge areas."""

import json

import numpy as np
import pyflwdir
import rasterio

from landing_zone.defs.catchments.conditioning import condition_dem
from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.partial_catchments import (
    RiverShapes,
    cell_counts,
    delineate,
    pour_cells,
    progressive_areas,
)
from landing_zone.defs.catchments.rasters import cell_centres, cell_index
from landing_zone.defs.catchments.reaches import TARGET_LENGTH_M, RiverLine, split_rivers, topological_order
from landing_zone.defs.catchments.river_source import parse_rivers, river_lines


def test_reach_catchments_tile_the_basin_and_progressive_areas_match_the_gauges(small_region, manifest):
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        dem, transform = dataset.read(1), dataset.transform
    grid = Grid(transform.c, transform.f, transform.a)
    offset = np.array(manifest["rivers"]["offset_m"])
    document = json.loads((small_region / "hydrography" / "rivers.geojson").read_text())
    rivers = [
        RiverLine(river.river_id, river.points - offset, river.receiving)
        for river in river_lines(parse_rivers(document, "rivers.geojson"))
    ]
    conditioned = condition_dem(dem, -9999.0, grid, [river.points for river in rivers], "burn_fill").dem
    flw = pyflwdir.from_dem(conditioned, nodata=-9999.0, transform=transform, latlon=False, outlets="edge")
    upstream_km2 = flw.upstream_area(unit="km2")
    shapes = RiverShapes({river.river_id: river.points for river in rivers})
    placed = pour_cells(split_rivers(rivers), grid, upstream_km2, shapes, flw, TARGET_LENGTH_M)
    reaches, cells = placed.reaches, placed.cells
    pours = cell_centres(grid, dem.shape, cells)
    counts = cell_counts(delineate(flw, grid, dem.shape, pours), len(reaches))
    own = {r.reach_id: float(n) * grid.cell**2 / 1e6 for r, n in zip(reaches, counts, strict=True)}
    downstream = {r.reach_id: r.downstream for r in reaches}
    progressive = progressive_areas(downstream, own)

    assert (counts > 0).all(), "every reach has its own catchment"
    # composed along the topology = what the terrain drains through each pour cell
    np.testing.assert_allclose(
        [progressive[r.reach_id] for r in reaches], upstream_km2.ravel()[cells], rtol=1e-4
    )
    outlet = [pour for pour, r in zip(pours, reaches, strict=True) if r.downstream is None]
    basin_km2 = (delineate(flw, grid, dem.shape, np.array(outlet)) > 0).sum() * grid.cell**2 / 1e6
    assert abs(sum(own.values()) - basin_km2) <= 0.005 * basin_km2
    assert len(topological_order(downstream)) == len(reaches)
    for reach in reaches:
        if reach.downstream is not None:
            assert progressive[reach.downstream] >= progressive[reach.reach_id]
    for gauge in manifest["stations"]["gauges"]:
        candidates = [(r, p) for r, p in zip(reaches, pours, strict=True) if r.river_id == gauge["river_id"]]
        nearest, _ = min(candidates, key=lambda rp: np.hypot(rp[1][0] - gauge["x"], rp[1][1] - gauge["y"]))
        area = progressive[nearest.reach_id]
        assert abs(area - gauge["area_km2"]) <= 0.02 * gauge["area_km2"], (gauge["code"], area)


def test_progressive_areas_sum_along_a_confluence():
    downstream = {"a1": "m2", "b1": "m2", "m1": "m2", "m2": "m3", "m3": None}
    own = {"a1": 1.0, "b1": 2.0, "m1": 0.5, "m2": 0.25, "m3": 0.125}
    assert progressive_areas(downstream, own) == {
        "a1": 1.0,
        "b1": 2.0,
        "m1": 0.5,
        "m2": 3.75,
        "m3": 3.875,
    }


def test_cells_outside_the_grid_are_reported_not_clipped_and_get_no_catchment():
    grid = Grid(0.0, 100.0, 10.0)
    points = np.array([[5, 95], [np.nan, np.nan], [-5, 50], [99.9, 0.1], [100, 50]])
    np.testing.assert_array_equal(cell_index(grid, (10, 10), points), [0, -1, -1, 99, -1])
    columns = np.tile(np.arange(10, dtype=np.float32), (10, 1))
    dem = 100.0 - columns  # every row drains east on its own
    flw = pyflwdir.from_dem(dem, transform=rasterio.Affine(10, 0, 0, 0, -10, 100), latlon=False)
    labels = delineate(flw, grid, (10, 10), np.array([[95.0, 55.0], [np.nan, np.nan], [-5.0, 50.0]]))
    upstream = flw.upstream_area(unit="cell").ravel()[cell_index(grid, (10, 10), np.array([[95.0, 55.0]]))]
    counts = cell_counts(labels, 3).tolist()
    assert counts[0] == int(upstream[0]) > 1 and counts[1:] == [0, 0], "off-grid pour points get nothing"
