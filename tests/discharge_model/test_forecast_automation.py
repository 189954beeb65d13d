"""The discharge forecast of a run is requested when that run's catchment forecast forcings are updated and
passed their blocking checks, in any time window, once; an update of the region's observed forcings
re-issues no forecast; verification follows any new forecast.

The graph is discharge_model's own, with the external forecast forcings replaced by a stand-in that
carries their key, run partitions and a blocking check (as landing_zone's asset does in the workspace);
the real automation conditions are evaluated tick by tick with ``dg.evaluate_automation_conditions``.
"""

import dagster as dg

from shared.assets.discharge_model import DISCHARGE_FORECAST, FORECAST_VERIFICATION
from shared.assets.landing_zone import CATCHMENT_FORCINGS, CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS

OLD_RUN = "2023-11-15-06:00"
"""A run far from the latest time window (a backfill, or a run published late)."""
BROKEN_RUN = "2023-11-16-06:00"
CHECK = "complete"


class Graph:
    """discharge_model's definitions with a stand-in for the forecast forcings, and one instance."""

    def __init__(self) -> None:
        from discharge_model.definitions import defs as model

        own = [a for a in model.assets or [] if getattr(a, "key", None) != CATCHMENT_FORECAST_FORCINGS]
        self.defs = dg.Definitions(assets=[*own, self.forcings()], resources=model.resources)
        self.instance = dg.DagsterInstance.ephemeral()
        self.cursor: dg.AssetDaemonCursor | None = None

    @staticmethod
    def forcings() -> dg.AssetsDefinition:
        class Outcome(dg.Config):
            passed: bool = True

        @dg.asset(
            key=CATCHMENT_FORECAST_FORCINGS,
            partitions_def=FORECAST_RUNS,
            check_specs=[dg.AssetCheckSpec(CHECK, asset=CATCHMENT_FORECAST_FORCINGS, blocking=True)],
        )
        def stand_in(config: Outcome):  # type: ignore[no-untyped-def]
            yield dg.Output(None)
            yield dg.AssetCheckResult(check_name=CHECK, passed=config.passed)

        return stand_in

    def publish_forcings(self, run: str, passed: bool = True) -> None:
        result = dg.materialize(
            [self.forcings()],
            instance=self.instance,
            partition_key=run,
            run_config={"ops": {"features__catchment_forecast_forcings": {"config": {"passed": passed}}}},
            raise_on_error=False,
        )
        assert result.success == passed

    def tick(self) -> dict[dg.AssetKey, set[str]]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.instance,
            asset_selection=dg.AssetSelection.assets(DISCHARGE_FORECAST, FORECAST_VERIFICATION),
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        keys = (DISCHARGE_FORECAST, FORECAST_VERIFICATION)
        requested = {key: {str(p) for p in result.get_requested_partitions(key)} for key in keys}
        return {key: partitions for key, partitions in requested.items() if partitions}


def test_a_runs_forecast_follows_its_passed_forcings_once_in_any_time_window() -> None:
    graph = Graph()
    assert graph.tick() == {}, "new run partitions without forcings are not forecast"

    graph.publish_forcings(OLD_RUN)
    assert graph.tick() == {DISCHARGE_FORECAST: {OLD_RUN}}
    assert graph.tick() == {}, "requested once, not on every tick"

    graph.publish_forcings(BROKEN_RUN, passed=False)
    assert graph.tick() == {}, "forcings that failed a blocking check are not forecast"

    graph.instance.report_runless_asset_event(dg.AssetMaterialization(CATCHMENT_FORCINGS, partition="pilica"))
    assert graph.tick() == {}, "new observed forcings re-issue no stored run's forecast"


def test_verification_follows_a_new_forecast() -> None:
    graph = Graph()
    graph.tick()
    graph.instance.report_runless_asset_event(dg.AssetMaterialization(DISCHARGE_FORECAST, partition=OLD_RUN))
    assert graph.tick() == {FORECAST_VERIFICATION: {"pilica"}}
    assert graph.tick() == {}
