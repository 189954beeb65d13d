"""The schedule evaluated at fixed ticks with Dagster's test helpers, and the late-run sensor on a real
instance, against GRIB2 runs written by the sample-region generator and a real S3 raw layer."""

import datetime as dt
import json

import dagster as dg

from landing_zone.defs.forecasts.assets import grib_raw
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import partition_key
from landing_zone.defs.forecasts.schedules import TIMING, forecast_runs_schedule
from landing_zone.defs.forecasts.sensors import late_forecast_runs_sensor
from tests.forecasts.test_raw_runs import DAY, forecast_resources, runs_of, write_runs


def tick_of(run: dt.datetime) -> dt.datetime:
    return run + TIMING.publication_delay


def evaluate_schedule(resources: dict, tick: dt.datetime) -> dg.RunRequest | dg.SkipReason:
    with dg.build_schedule_context(scheduled_execution_time=tick, resources=resources) as context:
        return forecast_runs_schedule(context)


def evaluate_sensor(resources: dict, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        return late_forecast_runs_sensor(context)


def test_each_tick_requests_its_run_and_skips_a_run_not_yet_published(local_storage, tmp_path):
    forecasts = tmp_path / "forecasts"
    runs = runs_of(DAY)
    write_runs(forecasts, [run for run in runs if run.hour != 12])
    resources = forecast_resources(local_storage, forecasts)
    answers = {run.hour: evaluate_schedule(resources, tick_of(run)) for run in runs}
    requested = {hour: answer for hour, answer in answers.items() if isinstance(answer, dg.RunRequest)}
    assert sorted(requested) == [0, 6, 18]
    for hour, request in requested.items():
        assert request.partition_key == partition_key(DAY.replace(hour=hour))
        assert request.run_key == f"schedule:20231230{hour:02d}"
    skipped = answers[12]
    assert isinstance(skipped, dg.SkipReason)
    assert skipped.skip_message is not None
    assert "run 2023-12-30 12 UTC is not published yet" in skipped.skip_message
    assert f"{forecasts.as_uri()}/20231230/12/forecast_2023123012.grib2" in skipped.skip_message


def test_the_schedule_ticks_when_runs_are_published():
    schedule = dg.Definitions(schedules=[forecast_runs_schedule]).resolve_schedule_def(
        "forecast_runs_schedule"
    )
    assert schedule.cron_schedule == TIMING.schedule_cron
    assert schedule.execution_timezone == "UTC"


def test_a_run_published_after_its_tick_is_fetched_by_the_sensor_once(s3_storage, tmp_path):
    forecasts = tmp_path / "forecasts"
    runs = runs_of(DAY)
    on_time, late, failed = [runs[0], runs[1], runs[3]], runs[2], DAY - dt.timedelta(hours=6)
    write_runs(forecasts, on_time)
    resources = forecast_resources(s3_storage, forecasts)
    instance = dg.DagsterInstance.ephemeral()
    for run in runs:
        answer = evaluate_schedule(resources, tick_of(run))
        if isinstance(answer, dg.RunRequest):
            assert dg.materialize(
                [grib_raw], partition_key=answer.partition_key, resources=resources, instance=instance
            ).success
    assert instance.get_materialized_partitions(FORECAST_GRIB_RAW) == {partition_key(run) for run in on_time}
    # a run that was launched and failed (its file was missing then) is for someone to rerun, not the sensor
    attempt = dg.materialize(
        [grib_raw],
        partition_key=partition_key(failed),
        resources=resources,
        instance=instance,
        raise_on_error=False,
    )
    assert not attempt.success
    assert evaluate_sensor(resources, instance, None).run_requests == []  # nothing published late yet

    write_runs(forecasts, [late, failed])
    found = evaluate_sensor(resources, instance, None)
    assert [(r.partition_key, r.run_key) for r in found.run_requests] == [
        (partition_key(late), "late:2023123012")
    ]
    assert found.cursor is not None and partition_key(late) in json.loads(found.cursor)
    assert evaluate_sensor(resources, instance, found.cursor).run_requests == []  # requested once

    assert dg.materialize(
        [grib_raw], partition_key=partition_key(late), resources=resources, instance=instance
    ).success
    assert evaluate_sensor(resources, instance, None).run_requests == []
    assert (
        s3_storage.get_storage().get_bytes(f"forecast/grib/raw/partition={partition_key(late)}/part.grib2")
        == (forecasts / "20231230" / "12" / "forecast_2023123012.grib2").read_bytes()
    )
