"""The discharge model brings itself up to date when landing_zone's features or polished discharge change
and their blocking checks passed, and waits while one failed.

The graph is the deployed workspace's: landing_zone's own definitions (with their real blocking checks)
joined with discharge_model's, the external ``AssetSpec`` s discharge_model declares for landing-zone keys
replaced by the assets that produce them, as Dagster's workspace does. Materialisations and check results
are recorded by real runs of stand-ins that carry each asset's key, partitions and check names, and the
real automation conditions are evaluated tick by tick with ``dg.evaluate_automation_conditions``.
"""

from collections.abc import Iterable

import dagster as dg
import pytest

from platform_dev.workspace import joined_definitions
from shared.assets.discharge_model import GAUGE_CATCHMENTS, LSTM_MODEL, MODEL_EVALUATION, TRAINING_DATA
from shared.assets.landing_zone import CATCHMENT_FORCINGS, HYDRO_POLISHED
from tests.support.automation import stand_in

REGION = "pilica"
MODEL_ASSETS = (GAUGE_CATCHMENTS, TRAINING_DATA, LSTM_MODEL, MODEL_EVALUATION)
RETRAINED = {TRAINING_DATA, LSTM_MODEL, MODEL_EVALUATION}


class Recorder:
    """Materialises stand-ins of workspace assets into one instance: each run records a materialisation
    of the asset's partition and a result for each of its checks (all passed unless named in ``failing``)."""

    def __init__(self, defs: dg.Definitions) -> None:
        self.graph = defs.resolve_asset_graph()
        self.instance = dg.DagsterInstance.ephemeral()

    def parents_of(self, keys: Iterable[dg.AssetKey]) -> set[dg.AssetKey]:
        """The assets the given ones read (what their conditions look at)."""
        return {parent for key in keys for parent in self.graph.get(key).parent_keys}

    def blocking_checks(self, key: dg.AssetKey) -> list[str]:
        node = self.graph.get(key)
        return sorted(c.name for c in node.check_keys if self.graph.get_check_spec(c).blocking)

    def materialise(self, keys: Iterable[dg.AssetKey], failing: Iterable[str] = ()) -> None:
        """One run over the region's partitions of ``keys`` (which share their partitioning), as a
        person or the automation daemon would launch it."""
        keys, failed = sorted(keys, key=str), set(failing)
        partitions_def = self.graph.get(keys[0]).partitions_def
        partitions = partitions_def.get_partition_keys() if partitions_def else [None]
        for partition in partitions:
            if partition is not None and REGION not in str(partition):
                continue
            result = dg.materialize(
                [stand_in(self.graph, key, failed) for key in keys],
                instance=self.instance,
                partition_key=partition,
                raise_on_error=False,
            )
            assert result.success == (not failed)


class Ticks:
    """The automation daemon's successive evaluations, with its cursor carried from tick to tick."""

    def __init__(self, defs: dg.Definitions, recorder: Recorder) -> None:
        self.defs, self.recorder = defs, recorder
        self.cursor: dg.AssetDaemonCursor | None = None

    def tick(self) -> set[dg.AssetKey]:
        """Evaluate the discharge model's conditions once; the assets requested for the region."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.recorder.instance,
            asset_selection=dg.AssetSelection.assets(*MODEL_ASSETS),
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        requested = set()
        for key in MODEL_ASSETS:
            partitions = result.get_requested_partitions(key)
            assert partitions <= {REGION}, partitions
            if partitions:
                requested.add(key)
        return requested

    def tick_and_run(self) -> set[dg.AssetKey]:
        """A tick, then the run it requests (stand-ins, every check passing), as the daemon launches it."""
        requested = self.tick()
        if requested:
            self.recorder.materialise(requested)
        return requested


@pytest.fixture(scope="module")
def defs() -> dg.Definitions:
    return joined_definitions()


def test_each_model_asset_carries_the_condition(defs: dg.Definitions) -> None:
    from discharge_model.automation import WHEN_UPSTREAM_PASSED

    graph = defs.resolve_asset_graph()
    for key in MODEL_ASSETS:
        assert graph.get(key).automation_condition == WHEN_UPSTREAM_PASSED, key.to_user_string()


def test_the_landing_zone_inputs_carry_blocking_checks_in_the_workspace(defs: dg.Definitions) -> None:
    recorder = Recorder(defs)
    for key in (CATCHMENT_FORCINGS, HYDRO_POLISHED):
        assert recorder.blocking_checks(key), f"{key.to_user_string()} has no blocking check to wait for"


def test_model_updates_when_upstream_passed_and_waits_while_a_check_failed(defs: dg.Definitions) -> None:
    recorder = Recorder(defs)
    for key in sorted(recorder.parents_of(MODEL_ASSETS) | set(MODEL_ASSETS), key=str):
        if recorder.graph.get(key).is_materializable:
            recorder.materialise([key])
    ticks = Ticks(defs, recorder)
    ticks.tick()
    assert ticks.tick() == set(), "nothing changed, nothing to do"

    # new forcings, every landing-zone check passed: dataset, model and evaluation, in one run
    recorder.materialise([CATCHMENT_FORCINGS])
    assert ticks.tick_and_run() == RETRAINED
    assert ticks.tick() == set(), "requested once, not on every tick"

    # new forcings that failed a blocking check: nothing moves, and a passing change elsewhere does not
    # release it either (training would still read the failed forcings)
    (first_check, *_) = recorder.blocking_checks(CATCHMENT_FORCINGS)
    recorder.materialise([CATCHMENT_FORCINGS], failing=[first_check])
    assert ticks.tick() == set()
    recorder.materialise([HYDRO_POLISHED])
    assert ticks.tick() == set()

    # polished discharge whose blocking check failed holds it back too
    recorder.materialise([CATCHMENT_FORCINGS])
    recorder.materialise([HYDRO_POLISHED], failing=recorder.blocking_checks(HYDRO_POLISHED)[:1])
    assert ticks.tick() == set()

    # corrected upstream: the pending change goes through
    recorder.materialise([HYDRO_POLISHED])
    assert ticks.tick_and_run() == RETRAINED
    assert ticks.tick() == set()

    # a dataset rebuilt by hand: the model and its evaluation follow, the dataset itself is not redone
    recorder.materialise([TRAINING_DATA])
    assert ticks.tick_and_run() == {LSTM_MODEL, MODEL_EVALUATION}
    assert ticks.tick() == set()
    # a model trained by hand: only its evaluation
    recorder.materialise([LSTM_MODEL])
    assert ticks.tick_and_run() == {MODEL_EVALUATION}
    assert ticks.tick() == set()
