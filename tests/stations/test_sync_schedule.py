"""The daily station sync schedule, evaluated as the scheduler evaluates a tick, on a copy of the sample
region's provider directory (one station, one year): it requests exactly what the sync sensor requests,
registers the partitions itself, and skips once everything listed is stored."""

import datetime as dt
from collections.abc import Sequence

import dagster as dg
from dagster._core.definitions.schedule_definition import ScheduleExecutionData

from platform_dev.demo import materialize_selection
from tests.stations.test_sync import REVISED_STATION, definitions, evaluate, provider_copy, stems

TICK = dt.datetime(2026, 3, 2, 6, 0, tzinfo=dt.UTC)
Request = tuple[str | None, str | None, tuple[str, ...]]
"""A run request as (partition, run key, selected assets)."""


def schedule_tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> ScheduleExecutionData:
    """One tick of ``meteo_sync_schedule`` at 06:00 UTC, its partitioned requests resolved as the daemon
    resolves them (against the repository)."""
    schedule = defs.resolve_schedule_def("meteo_sync_schedule")
    with dg.build_schedule_context(
        instance=instance,
        resources=dict(defs.resources or {}),
        scheduled_execution_time=TICK,
        repository_def=defs.get_repository_def(),
    ) as context:
        return schedule.evaluate_tick(context)


def requests(run_requests: Sequence[dg.RunRequest] | None) -> set[Request]:
    return {
        (r.partition_key, r.run_key, tuple(k.to_user_string() for k in r.asset_selection or []))
        for r in run_requests or []
    }


def test_the_daily_tick_requests_what_the_sensor_does_then_skips(small_region, local_storage, tmp_path):
    provider = provider_copy(small_region, "meteo", 1, (REVISED_STATION,), (2021,), tmp_path / "meteo")
    defs = definitions("meteo", provider, local_storage)
    sensor = evaluate(defs, dg.DagsterInstance.ephemeral(), "meteo")
    with dg.instance_for_test() as scheduled:  # a schedule context needs a persistent instance
        tick = schedule_tick(defs, scheduled)
        assert tick.skip_message is None
        assert requests(tick.run_requests) == requests(sensor.run_requests)
        assert {r.partition_key for r in tick.run_requests} == stems((REVISED_STATION,), (2021,)) | {None}
        assert set(scheduled.get_dynamic_partitions("meteo_sources")) == stems((REVISED_STATION,), (2021,))

        for run in tick.run_requests:
            assert materialize_selection(
                defs, scheduled, run.asset_selection or [], run.partition_key
            ).success
        quiet = schedule_tick(defs, scheduled)
    assert quiet.run_requests == []
    assert quiet.skip_message == "the meteo provider lists no new or changed file"
