"""A river network whose receiving links form a cycle: the blocking checks stop everything downstream."""

import json
from pathlib import Path

import pytest

from shared.assets.landing_zone import PROGRESSIVE_CATCHMENTS, REACH_CATCHMENTS, REACHES
from tests.catchments.conftest import run_chain


@pytest.fixture(scope="module")
def cyclic_region(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small region with the main river declared a tributary of its own tributary t1."""
    region = tmp_path_factory.mktemp("cyclic")
    (region / "truth").mkdir()
    (region / "truth" / "dtm.tif").symlink_to(small_region / "truth" / "dtm.tif")
    document = json.loads((small_region / "hydrography" / "rivers.geojson").read_text())
    receiving = {f["properties"]["river_id"]: f["properties"]["receiving"] for f in document["features"]}
    tributary = next(river for river, target in receiving.items() if target == "main")
    for feature in document["features"]:
        if feature["properties"]["river_id"] == "main":
            feature["properties"]["receiving"] = tributary
    (region / "hydrography").mkdir()
    (region / "hydrography" / "rivers.geojson").write_text(json.dumps(document))
    return region


def test_a_cycle_fails_the_blocking_checks_and_nothing_downstream_materialises(cyclic_region, tmp_path):
    chain = run_chain(tmp_path, cyclic_region, ("burn_fill",))
    assert chain.region_run.success
    run = chain.strategy_runs["burn_fill"]
    assert not run.success
    checks = chain.checks("burn_fill")
    assert not checks["acyclic"].passed and not checks["has_outlet"].passed
    assert checks["acyclic"].metadata["offending_rows"].value > 0
    materialised = {event.asset_key for event in run.get_asset_materialization_events()}
    assert REACHES in materialised
    assert not materialised & {REACH_CATCHMENTS, PROGRESSIVE_CATCHMENTS}
    assert list(chain.storage.get_storage().list("catchments/reach_catchments")) == []
