"""A river network whose receiving links form a cycle: the blocking checks reject the new reaches before
they are published, so the last good version stays in place and nothing downstream runs on the candidate."""

import json
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import pytest

from landing_zone.defs.catchments.assets import progressive_catchments, reach_catchments
from landing_zone.defs.catchments.definitions import defs as catchment_defs
from landing_zone.defs.catchments.keys import catchment_key
from shared.assets.landing_zone import (
    DTM_CONSOLIDATED,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.publication import CANDIDATE_NAME
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation
from shared.vectors.formats import read_geoparquet
from tests.catchments.conftest import REGION, Chain, run_chain, strategy_key
from tests.support.sources import sources_with

STRATEGY = "burn_fill"
PARTITION = {"conditioning": STRATEGY, "region": REGION}
LAYERS = (REACHES, REACH_CATCHMENTS, PROGRESSIVE_CATCHMENTS)


def edited_region(small_region: Path, target: Path, edit: Callable[[list[dict]], None]) -> Path:
    """The small region's DTM with its river network changed by ``edit`` (on the GeoJSON features)."""
    (target / "truth").mkdir(parents=True)
    (target / "truth" / "dtm.tif").symlink_to(small_region / "truth" / "dtm.tif")
    document = json.loads((small_region / "hydrography" / "rivers.geojson").read_text())
    edit(document["features"])
    (target / "hydrography").mkdir()
    (target / "hydrography" / "rivers.geojson").write_text(json.dumps(document))
    return target


def make_main_flow_into_its_tributary(features: list[dict]) -> None:
    receiving = {f["properties"]["river_id"]: f["properties"]["receiving"] for f in features}
    tributary = next(river for river, target in receiving.items() if target == "main")
    for feature in features:
        if feature["properties"]["river_id"] == "main":
            feature["properties"]["receiving"] = tributary


def rename_main(features: list[dict]) -> None:
    for feature in features:
        properties = feature["properties"]
        for field in ("river_id", "receiving"):
            if properties[field] == "main":
                properties[field] = "mainstem"


@pytest.fixture(scope="module")
def cyclic_region(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small region with the main river declared a tributary of its own tributary t1."""
    return edited_region(small_region, tmp_path_factory.mktemp("cyclic"), make_main_flow_into_its_tributary)


@pytest.fixture(scope="module")
def renamed_region(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid network whose layers differ from the small region's: the main river renamed."""
    return edited_region(small_region, tmp_path_factory.mktemp("renamed"), rename_main)


def published(storage: Storage) -> dict[str, bytes]:
    """Every published object of the reach layers, GeoParquet and FlatGeobuf, by key."""
    keys = [AssetLocation(layer.path, PARTITION).key(ext) for layer in LAYERS for ext in ("parquet", "fgb")]
    return {key: storage.get_bytes(key) for key in keys}


def candidate_key(layer: dg.AssetKey) -> str:
    return AssetLocation(layer.path, PARTITION).key(PARQUET, name=CANDIDATE_NAME)


def reach_ids(storage: Storage, key: str) -> set[str]:
    with storage.local_copy(key) as path:
        return set(read_geoparquet(path, key).frame["reach_id"])


def materialised(run: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {event.asset_key for event in run.get_asset_materialization_events()}


def assert_rejected_with_nothing_downstream(chain: Chain) -> None:
    """The reaches step failed on its blocking checks, which are recorded; no later step ran."""
    assert chain.region_run.success
    run = chain.strategy_runs[STRATEGY]
    assert not run.success
    checks = chain.checks(STRATEGY)
    assert not checks["acyclic"].passed and not checks["has_outlet"].passed
    assert checks["acyclic"].metadata["offending_rows"].value > 0
    # upstream of reaches, the flow accumulation's own check ran (and passed); nothing below reaches did
    evaluated = {e.asset_key for e in run.get_asset_check_evaluations()}
    assert evaluated == {REACHES, catchment_key("flow_accumulation/dinf")}
    assert not materialised(run) & set(LAYERS)
    started = {event.step_key for event in run.all_events if event.is_step_start}
    assert not started & {reach_catchments.op.name, progressive_catchments.op.name}


def materialise_reach_catchments_alone(storage: StorageResource) -> dg.ExecuteInProcessResult:
    """A later run of the downstream asset only: it reads whatever ``reaches`` has published."""
    sources = sources_with()
    dtm = dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER)
    return dg.materialize(
        [dtm, *(catchment_defs.assets or [])],
        resources={**platform_resources(storage), "sources": sources},
        partition_key=strategy_key(STRATEGY),
        selection=[REACH_CATCHMENTS],
        raise_on_error=False,
    )


@pytest.mark.hostile
def test_a_cycle_fails_the_blocking_checks_and_nothing_is_published(
    cyclic_region: Path, tmp_path: Path
) -> None:
    chain = run_chain(tmp_path, cyclic_region, (STRATEGY,))
    assert_rejected_with_nothing_downstream(chain)
    store = chain.storage.get_storage()
    assert [info.key for info in store.list("catchments/reaches")] == [candidate_key(REACHES)]
    assert list(store.list("catchments/reach_catchments")) == []


@pytest.mark.hostile
def test_a_rejected_version_leaves_the_last_good_one_published_until_the_input_is_fixed(
    small_region: Path, cyclic_region: Path, renamed_region: Path, tmp_path: Path
) -> None:
    storage = StorageResource(url=str(tmp_path / "storage"))
    store = storage.get_storage()
    good = run_chain(tmp_path, small_region, (STRATEGY,), storage)
    assert good.strategy_runs[STRATEGY].success
    before = published(store)

    broken = run_chain(tmp_path, cyclic_region, (STRATEGY,), storage)
    assert_rejected_with_nothing_downstream(broken)
    assert published(store) == before
    offending = broken.checks(STRATEGY)["acyclic"].metadata["offending_values"].value
    kept = reach_ids(store, candidate_key(REACHES))
    assert {row["reach_id"] for row in offending} <= kept
    assert not store.exists(candidate_key(REACH_CATCHMENTS))

    later = materialise_reach_catchments_alone(storage)
    assert later.success
    published_reaches = reach_ids(store, AssetLocation(REACHES.path, PARTITION).key(PARQUET))
    assert reach_ids(store, AssetLocation(REACH_CATCHMENTS.path, PARTITION).key(PARQUET)) == published_reaches

    fixed = run_chain(tmp_path, renamed_region, (STRATEGY,), storage)
    assert fixed.strategy_runs[STRATEGY].success
    assert set(LAYERS) <= materialised(fixed.strategy_runs[STRATEGY])
    after = published(store)
    assert all(after[key] != before[key] for key in before)
    new_reaches = reach_ids(store, AssetLocation(REACHES.path, PARTITION).key(PARQUET))
    assert any(reach.startswith("mainstem-") for reach in new_reaches)
    assert not any(store.exists(candidate_key(layer)) for layer in LAYERS)
