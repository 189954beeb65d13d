"""Reach and progressive catchments on the small region, against the generator's true gauge areas."""

import json

import numpy as np
import pyflwdir
import rasterio

from landing_zone.defs.catchments.alignment import Grid
from landing_zone.defs.catchments.conditioning import condition_dem
from landing_zone.defs.catchments.partial_catchments import delineate
from landing_zone.defs.catchments.reaches import RiverLine, split_rivers


def test_reach_catchments_tile_the_basin_and_progressive_areas_match_the_gauges(small_region, manifest):
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        dem, transform = dataset.read(1), dataset.transform
    grid = Grid(transform.c, transform.f, transform.a)
    offset = np.array(manifest["rivers"]["offset_m"])
    features = json.loads((small_region / "hydrography" / "rivers.geojson").read_text())["features"]
    rivers = [
        RiverLine(
            f["properties"]["river_id"],
            np.array(f["geometry"]["coordinates"]) - offset,
            f["properties"]["receiving"],
        )
        for f in features
    ]
    conditioned = condition_dem(dem, -9999.0, grid, [river.points for river in rivers], "burn_fill").dem
    flw = pyflwdir.from_dem(conditioned, nodata=-9999.0, transform=transform, latlon=False, outlets="edge")
    reaches = split_rivers(rivers)
    result = delineate(flw, grid, dem.shape, reaches)

    assert all(area > 0 for area in result.reach_area_km2.values()), "every reach has its own catchment"
    outlet = next(r for r in reaches if r.downstream is None)
    basin_cells = int(
        (
            flw.basins(
                idxs=np.array(
                    [
                        np.ravel_multi_index(
                            (
                                int((grid.north - outlet.points[-1][1]) // grid.cell),
                                int((outlet.points[-1][0] - grid.west) // grid.cell),
                            ),
                            dem.shape,
                        )
                    ]
                )
            )
            > 0
        ).sum()
    )
    union_km2 = sum(result.reach_area_km2.values())
    assert abs(union_km2 - basin_cells * grid.cell**2 / 1e6) <= 0.005 * union_km2
    for reach in reaches:
        if reach.downstream is not None:
            assert (
                result.progressive_area_km2[reach.downstream] >= result.progressive_area_km2[reach.reach_id]
            )
    for gauge in manifest["stations"]["gauges"]:
        point = np.array([gauge["x"], gauge["y"]])
        candidates = [r for r in reaches if r.river_id == gauge["river_id"]]
        nearest = min(candidates, key=lambda r: np.hypot(*(r.points[-1] - point)))
        area = result.progressive_area_km2[nearest.reach_id]
        assert abs(area - gauge["area_km2"]) <= 0.02 * gauge["area_km2"], (
            gauge["code"],
            area,
            gauge["area_km2"],
        )
