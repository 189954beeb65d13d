"""The reach layers on a real DEM (SRTM around Mont Ventoux), river lines derived from it on the lattice.

At the native 90 m and resampled to 30 m: every reach gets a catchment, the blocking checks pass, the
progressive areas equal plain pyflwdir basins at the same pour points and the Strahler orders equal
pyflwdir's on the same river cells. One run goes through the Dagster assets as well.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pyflwdir
import pytest
import rasterio

from landing_zone.defs.catchments import assets as catchment_assets
from landing_zone.defs.catchments.checks import audit_reach_catchments
from landing_zone.defs.catchments.flow import AREA_NODATA, D8_NODATA
from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.rasters import GridArray, cell_index
from landing_zone.defs.catchments.reach_layers import (
    outlet_basin_km2,
    progressive_layer,
    reach_catchments_on_grid,
    reaches_on_grid,
)
from landing_zone.defs.catchments.reaches import ReachLengthError, topological_order
from landing_zone.defs.catchments.river_source import parse_rivers
from shared.assets.landing_zone import PROGRESSIVE_CATCHMENTS, REACH_CATCHMENTS, REACHES
from shared.regions import Region
from tests.catchments.conftest import REGION, Chain, run_chain
from tests.support.real_dem import UTM_CRS, real_dem, window_of, write_rivers

BOUNDS = (680000.0, 4900000.0, 710000.0, 4930000.0)
ALIGNED_BOUNDS = (679950.0, 4899960.0, 710010.0, 4930020.0)
"""The window on multiples of 90 m, so the assets' analysis grid is the DEM's own grid."""
RIVER_KM2 = 1.0


def on_terrain(dem: Path, rivers: Path, target_m: float | None = None) -> dict:
    """The reach layers on plain pyflwdir D8 of ``dem``, and pyflwdir's own areas and orders."""
    with rasterio.open(dem) as dataset:
        values, transform, crs = dataset.read(1), dataset.transform, dataset.crs.to_wkt()
    flw = pyflwdir.from_dem(values, nodata=-9999.0, transform=transform, latlon=False, outlets="edge")
    grid = Grid(transform.c, transform.f, transform.a)
    upstream = flw.upstream_area(unit="km2")
    area = GridArray(np.where(flw.mask.reshape(flw.shape), upstream, AREA_NODATA), grid, crs, AREA_NODATA)
    d8 = GridArray(flw.to_array(ftype="d8"), grid, crs, D8_NODATA)
    network = parse_rivers(json.loads(rivers.read_text()), str(rivers))
    reaches, summary = reaches_on_grid(network, area, d8, target_m)
    catchments = reach_catchments_on_grid(reaches, d8)
    pours = cell_index(grid, values.shape, reaches.frame.select("pour_x", "pour_y").to_numpy())
    orders = flw.stream_order(type="strahler", mask=upstream >= RIVER_KM2).ravel()
    return {
        "cell": grid.cell,
        "reaches": reaches,
        "summary": summary,
        "catchments": catchments,
        "progressive": progressive_layer(catchments),
        "audit": audit_reach_catchments(reaches, catchments, outlet_basin_km2(reaches, d8)),
        "pyflwdir_km2": upstream.ravel()[pours],
        "pyflwdir_order": orders[pours],
    }


@pytest.fixture(scope="module", params=[None, 30.0], ids=["native-90m", "30m"])
def terrain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("real-terrain")
    dem = window_of(real_dem("utm"), out / "dem.tif", BOUNDS, request.param)
    return on_terrain(dem, write_rivers(dem, out / "rivers.geojson", RIVER_KM2))


def test_every_reach_gets_a_catchment_and_the_audit_passes(terrain: dict) -> None:
    assert (terrain["catchments"].frame["cells"] > 0).all()
    assert terrain["reaches"].frame["upstream_area_km2"].null_count() == 0
    failed = {r.check_name: r.metadata for r in terrain["audit"] if not r.passed}
    assert not failed


def test_progressive_areas_equal_pyflwdir_basins_at_the_pour_points(terrain: dict) -> None:
    progressive = terrain["progressive"].frame["progressive_area_km2"].to_numpy()
    deviation = np.abs(progressive - terrain["pyflwdir_km2"]) / terrain["pyflwdir_km2"]
    assert (deviation <= 0.02).mean() >= 0.99, np.sort(deviation)[-10:]


def test_the_network_is_a_dag_whose_strahler_orders_are_pyflwdirs(terrain: dict) -> None:
    frame = terrain["reaches"].frame
    downstream = dict(zip(frame["reach_id"], frame["downstream_id"], strict=True))
    assert len(topological_order(downstream)) == frame.height
    assert frame.filter(pl.col("downstream_id").is_null()).height == 1
    ours = frame["strahler_order"].to_numpy()
    np.testing.assert_array_equal(ours, terrain["pyflwdir_order"])
    assert ours.max() >= 3


def test_reaches_span_at_least_three_cells(terrain: dict) -> None:
    length_m = terrain["summary"]["reach_length_m"]
    assert length_m == max(100.0, 3 * terrain["cell"])
    split = terrain["reaches"].frame.filter(pl.col("river_id").is_duplicated())
    assert split["length_m"].min() >= 0.75 * length_m


def test_a_reach_length_the_cells_cannot_resolve_is_refused_saying_what_to_set(tmp_path: Path) -> None:
    dem = window_of(real_dem("utm"), tmp_path / "dem.tif", BOUNDS)
    rivers = write_rivers(dem, tmp_path / "rivers.geojson", 20.0)
    expected = "target_length_m 100 is below 3 analysis cells of 90 m: set at least 270 m"
    with pytest.raises(ReachLengthError, match=expected):
        on_terrain(dem, rivers, 100.0)


@pytest.fixture(scope="module")
def real_chain(tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The assets on the real DEM at 90 m, as the region ``pilica`` with the DEM's CRS (the test's own
    region entry: the sample region's EPSG:2180 does not cover south-east France)."""
    out = tmp_path_factory.mktemp("real-chain")
    dem = window_of(real_dem("utm"), out / "truth" / "dtm.tif", ALIGNED_BOUNDS, 90.0)
    write_rivers(dem, out / "hydrography" / "rivers.geojson", RIVER_KM2)
    place = Region(name=REGION, crs=UTM_CRS, analysis_resolution_m=90.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(catchment_assets, "region", lambda name: place)
        return run_chain(out, out, ("burn_fill",))


def test_the_assets_publish_every_reach_layer_on_real_terrain(real_chain: Chain) -> None:
    run = real_chain.strategy_runs["burn_fill"]
    assert real_chain.region_run.success and run.success
    failed = [c.check_name for c in run.get_asset_check_evaluations() if not c.passed]
    assert not failed
    reaches = real_chain.metadata(REACHES, "burn_fill")
    assert reaches["reach_length_m"] == 270.0 and reaches["unordered_reaches"] == 0
    assert real_chain.metadata(REACH_CATCHMENTS, "burn_fill")["catchments"] == reaches["reaches"]
    assert real_chain.metadata(PROGRESSIVE_CATCHMENTS, "burn_fill")["largest_km2"] > 100.0
