"""Freshness as Dagster's freshness daemon evaluates it, on the landing zone's assets as loaded.

Dagster 1.13 offers no public entry point to evaluate a freshness policy, so each step here is the
daemon's own per-asset step (``FreshnessDaemon._evaluate_asset``: compute the state from the latest
materialisation, record a state change on the instance) on the real asset node, with the clock frozen;
the recorded state is what the UI's asset health and catalogue show.
"""

import asyncio
import datetime as dt

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph, AssetNode
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.loader import LoadingContextForTest
from dagster._core.test_utils import freeze_time
from dagster._daemon.freshness import FreshnessDaemon

from shared.assets.landing_zone import CATCHMENT_FORECAST_FORCINGS

POLISHED_METEO = dg.AssetKey(["meteo", "polished_timeseries"])
SYNCED = dt.datetime(2026, 3, 2, 6, 20, tzinfo=dt.UTC)
"""A daily sync's polished series, 20 minutes after the 06:00 UTC tick."""
RUN_PUBLISHED = dt.datetime(2026, 3, 2, 4, 30, tzinfo=dt.UTC)
"""The 00 UTC run's forcings, published at its default 4 h 30 delay."""


@pytest.fixture(scope="module")
def asset_graph() -> AssetGraph:
    from landing_zone.definitions import defs

    return defs.resolve_asset_graph()


def state_at(instance: dg.DagsterInstance, node: AssetNode, at: dt.datetime) -> FreshnessState:
    """The daemon's evaluation of ``node`` at ``at``, read back from the instance as the UI reads it."""
    with freeze_time(at):
        asyncio.run(FreshnessDaemon()._evaluate_asset(LoadingContextForTest(instance), node))
    return instance.get_freshness_state_records([node.key])[node.key].freshness_state


def materialise(
    instance: dg.DagsterInstance, key: dg.AssetKey, at: dt.datetime, partition: str | None
) -> None:
    with freeze_time(at):
        instance.report_runless_asset_event(dg.AssetMaterialization(key, partition=partition))


def test_polished_observations_go_stale_a_day_and_the_syncs_slack_after_their_update(asset_graph):
    instance = dg.DagsterInstance.ephemeral()
    node = asset_graph.get(POLISHED_METEO)
    assert state_at(instance, node, SYNCED) == FreshnessState.UNKNOWN
    materialise(instance, POLISHED_METEO, SYNCED, None)
    hours = [24, 25.4, 25.6, 26.9, 27.1]
    states = [state_at(instance, node, SYNCED + dt.timedelta(hours=h)) for h in hours]
    assert states == [FreshnessState.PASS] * 2 + [FreshnessState.WARN] * 2 + [FreshnessState.FAIL]
    materialise(instance, POLISHED_METEO, SYNCED + dt.timedelta(hours=28), None)
    assert state_at(instance, node, SYNCED + dt.timedelta(hours=28, minutes=5)) == FreshnessState.PASS


def test_forecasts_go_stale_one_run_and_one_publication_delay_after_the_last_run(asset_graph):
    """The next run is due 6 h after the last; a warning once it is 2 h 15 late, a failure at 4 h 30."""
    instance = dg.DagsterInstance.ephemeral()
    node = asset_graph.get(CATCHMENT_FORECAST_FORCINGS)
    materialise(instance, CATCHMENT_FORECAST_FORCINGS, RUN_PUBLISHED, "2026-03-02-00:00")
    hours = [6, 8.2, 8.3, 10.4, 10.6]
    states = [state_at(instance, node, RUN_PUBLISHED + dt.timedelta(hours=h)) for h in hours]
    assert states == [FreshnessState.PASS] * 2 + [FreshnessState.WARN] * 2 + [FreshnessState.FAIL]
