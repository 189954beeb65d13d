"""A run's catchment forecast forcings are requested when that run's fields are newly published with their
blocking checks passed, for any run (not only the newest), and not when a failed run or the catchments
change.

The graph is the deployed landing_zone code location's; materialisations and check results are recorded by
real runs of stand-ins that carry each asset's key, partitions and check names, and the real automation
condition (:func:`shared.automation.when_dep_passed`) is evaluated tick by tick with
``dg.evaluate_automation_conditions``, its cursor carried as the daemon carries it.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS, FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import partition_key
from shared.assets.landing_zone import CATCHMENT_FORECAST_FORCINGS, REACH_CATCHMENTS
from shared.automation import when_dep_passed
from tests.support.automation import stand_in

NOW = dt.datetime(2023, 12, 31, 12, 30, tzinfo=dt.UTC)
NEWEST, OLDER, BROKEN = (partition_key(dt.datetime(2023, 12, 31, hour, tzinfo=dt.UTC)) for hour in (12, 0, 6))
HISTORICAL = partition_key(dt.datetime(2023, 12, 1, 18, tzinfo=dt.UTC))
"""A backfilled run a month back: far from the latest time window that ``eager()`` looks at."""


class Workspace:
    """The code location's graph, one instance, and the daemon's cursor."""

    def __init__(self) -> None:
        from landing_zone.definitions import defs

        self.defs = defs
        self.graph = defs.resolve_asset_graph()
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: dg.AssetDaemonCursor | None = None

    def materialise(self, key: dg.AssetKey, partition: str, failing: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        result = dg.materialize(
            [stand_in(self.graph, key, set(failing))],
            instance=self.instance,
            partition_key=partition,
            raise_on_error=False,
        )
        assert result.success == (not failing)

    def tick(self) -> set[str]:
        """One evaluation of the forecast forcings' condition: the run partitions it requests."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.instance,
            asset_selection=dg.AssetSelection.assets(CATCHMENT_FORECAST_FORCINGS),
            evaluation_time=NOW,
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        return set(result.get_requested_partitions(CATCHMENT_FORECAST_FORCINGS))


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    return Workspace()


def test_the_run_chain_carries_the_shared_condition(workspace):
    """Fields follow the stored raw file, forecast forcings the fields (tested below: same condition)."""
    assert workspace.graph.get(FORECAST_GRIB_FIELDS).automation_condition == when_dep_passed(
        FORECAST_GRIB_RAW
    )
    condition = workspace.graph.get(CATCHMENT_FORECAST_FORCINGS).automation_condition
    assert condition == when_dep_passed(FORECAST_GRIB_FIELDS)


def test_runs_are_requested_when_their_fields_pass_and_only_then(workspace):
    """One sequence of ticks, as the daemon sees them (each step depends on the cursor so far)."""
    assert workspace.tick() == set()

    workspace.materialise(FORECAST_GRIB_FIELDS, NEWEST)
    assert workspace.tick() == {NEWEST}
    assert workspace.tick() == set(), "requested once per update"

    fields_check = sorted(c.name for c in workspace.graph.get(FORECAST_GRIB_FIELDS).check_keys)[0]
    workspace.materialise(FORECAST_GRIB_FIELDS, OLDER)
    workspace.materialise(FORECAST_GRIB_FIELDS, HISTORICAL)
    workspace.materialise(FORECAST_GRIB_FIELDS, BROKEN, failing={fields_check})
    assert workspace.tick() == {OLDER, HISTORICAL}, (
        "every run partition, not only the latest window; a run whose fields failed a blocking check "
        "waits, and holds back no other run (the checks are per run)"
    )

    for strategy in ("burn_fill", "fill"):
        workspace.materialise(
            REACH_CATCHMENTS, str(dg.MultiPartitionKey({"conditioning": strategy, "region": "pilica"}))
        )
    assert workspace.tick() == set(), "new catchments do not request every stored run again"
    assert workspace.tick() == set(), "nor on a later tick"

    workspace.materialise(FORECAST_GRIB_FIELDS, BROKEN)
    assert workspace.tick() == {BROKEN}, "the run's corrected fields pass: its forcings follow"
