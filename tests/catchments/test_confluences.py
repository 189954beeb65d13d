"""Tributary mouths anywhere along the receiving river, at any angle: the reach each tributary joins is
the one its water reaches, so progressive areas equal the D8 area at every pour cell."""

import numpy as np
import polars as pl
import pyflwdir
import pytest
import rasterio
import shapely

from landing_zone.defs.catchments.flow import AREA_NODATA, D8_NODATA
from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.partial_catchments import cell_counts, delineate, progressive_areas
from landing_zone.defs.catchments.rasters import GridArray, write_cog
from landing_zone.defs.catchments.reach_layers import reach_layer
from shared.rasters.handles import StoredRaster
from shared.vectors.geoframe import GeoFrame

CELL, WIDTH, HEIGHT = 4.0, 1200.0, 600.0
MAIN_Y = HEIGHT / 4 - CELL / 2


def valley_terrain(mouth_x: float, angle: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A main valley falling east along ``MAIN_Y`` and a tributary valley reaching it at ``mouth_x``."""
    xs = (np.arange(int(WIDTH / CELL)) + 0.5) * CELL
    ys = HEIGHT - (np.arange(int(HEIGHT / CELL)) + 0.5) * CELL
    x, y = np.meshgrid(xs, ys)
    main = 0.01 * (WIDTH - x) + 0.2 * np.abs(y - MAIN_Y)
    source = np.array([mouth_x + (HEIGHT - 10 - MAIN_Y) * np.tan(angle), HEIGHT - 10])
    mouth = np.array([mouth_x, MAIN_Y])
    direction = (mouth - source) / np.hypot(*(mouth - source))
    along = np.clip(
        (x - source[0]) * direction[0] + (y - source[1]) * direction[1], 0, np.hypot(*(mouth - source))
    )
    distance = np.hypot(x - (source[0] + along * direction[0]), y - (source[1] + along * direction[1]))
    tributary = (
        0.01 * (WIDTH - mouth_x) + 0.01 * (np.hypot(*(mouth - source)) - along) + 0.2 * distance + 0.001
    )
    main_line = np.array([[xs[0], MAIN_Y], [xs[-1] - 50, MAIN_Y]])
    return np.minimum(main, tributary).astype(np.float32), main_line, np.array([source, mouth])


@pytest.mark.parametrize("angle", [0.0, 0.6])
@pytest.mark.parametrize("before_boundary_m", [-8.0, -2.0, 1.0, 3.0, 6.0, 12.0, 20.0, 28.0])
def test_progressive_area_equals_the_d8_area_wherever_the_tributary_joins(tmp_path, angle, before_boundary_m):
    # main reaches are 1148 m / 11 ≈ 104.4 m; put the mouth just before (or after) the end of main-0003
    boundary = CELL / 2 + 4 * (WIDTH - 50 - CELL) / 11
    dem, main_line, tributary_line = valley_terrain(boundary - before_boundary_m, angle)
    grid = Grid(0.0, HEIGHT, CELL)
    like = GridArray(dem, grid, rasterio.crs.CRS.from_epsg(2180).to_wkt(), -9999.0)
    flw = pyflwdir.from_dem(dem, transform=like.transform, latlon=False, outlets="edge")
    area = np.where(flw.mask.reshape(flw.shape), flw.upstream_area(unit="km2"), AREA_NODATA).astype(
        np.float32
    )
    stored = {}
    for name, values, nodata in (("area", area, AREA_NODATA), ("d8", flw.to_array(ftype="d8"), D8_NODATA)):
        path = write_cog(values, like, nodata, categorical=name == "d8")
        stored[name] = StoredRaster(str(path), str(path))
    rivers = GeoFrame.from_geometries(
        pl.DataFrame({"river_id": ["main", "t"], "name": [None, None], "receiving": [None, "main"]}),
        [shapely.LineString(main_line), shapely.LineString(tributary_line)],
        "EPSG:2180",
    )
    reaches, _ = reach_layer(rivers, stored["area"], stored["d8"], 100.0)
    frame = reaches.frame
    labels = delineate(flw, grid, dem.shape, frame.select("pour_x", "pour_y").to_numpy())
    own = dict(zip(frame["reach_id"], cell_counts(labels, frame.height) * CELL**2 / 1e6, strict=True))
    progressive = progressive_areas(dict(zip(frame["reach_id"], frame["downstream_id"], strict=True)), own)
    assert (np.array(list(own.values())) > 0).all()
    for reach_id, d8_area in zip(frame["reach_id"], frame["upstream_area_km2"], strict=True):
        assert progressive[reach_id] == pytest.approx(d8_area, rel=1e-4), (reach_id, frame.to_dicts())
