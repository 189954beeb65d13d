"""``forecast/grib/raw`` and its plain rules: run timing, GRIB2 framing, the copy into the raw layer on
a real S3 server, and retention, all on GRIB2 runs written by the sample-region generator."""

import datetime as dt
import hashlib
from pathlib import Path

import dagster as dg
import pytest

from landing_zone.defs.forecasts.assets import grib_raw
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import (
    ForecastTiming,
    grib_framing,
    late_candidates,
    partition_key,
    run_of,
)
from landing_zone.defs.forecasts.schedules import forecast_retention_job
from platform_dev.sample_region.grib import STEPS_H, write_forecast_runs
from platform_dev.sample_region.spec import RegionSpec
from shared.assets.landing_zone import FORECAST_RUNS
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import AssetLocation
from tests.conftest import SAMPLE_SEED
from tests.elevation.test_floor_plan import imports_dagster
from tests.support.sources import sources_with

DAY = dt.datetime(2023, 12, 30, tzinfo=dt.UTC)
"""A day of the small sample region's record (its runs are at the end of it)."""
GRIB_VARIABLES = 2
"""The generator writes 2 m temperature and accumulated precipitation for every step."""


def runs_of(day: dt.datetime, hours: tuple[int, ...] = (0, 6, 12, 18)) -> list[dt.datetime]:
    return [day.replace(hour=hour) for hour in hours]


def write_runs(folder: Path, runs: list[dt.datetime]) -> list[Path]:
    """The generator's GRIB2 files of ``runs`` under ``folder``, laid out as the forecasts source is."""
    return write_forecast_runs(RegionSpec.for_size("small", SAMPLE_SEED), folder, runs)


def forecast_resources(storage: StorageResource, forecasts: Path) -> dict:
    return {**platform_resources(storage), "sources": sources_with(forecasts_url=f"{forecasts.as_uri()}/")}


def stored_key(run: dt.datetime) -> str:
    return AssetLocation.for_partition(FORECAST_GRIB_RAW, FORECAST_RUNS, partition_key(run)).key("grib2")


def test_the_schedule_ticks_once_per_run_at_its_publication_delay():
    assert ForecastTiming().schedule_cron == "30 4,10,16,22 * * *"
    late = ForecastTiming(publication_delay=dt.timedelta(hours=7, minutes=5))
    assert late.schedule_cron == "5 1,7,13,19 * * *"
    tick = dt.datetime(2023, 12, 31, 1, 5, tzinfo=dt.UTC)
    assert late.run_for_tick(tick) == dt.datetime(2023, 12, 30, 18, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="forecast runs start at"):
        late.run_for_tick(tick + dt.timedelta(hours=1))


def test_timing_comes_from_the_environment_and_refuses_what_cannot_work():
    timing = ForecastTiming.from_environment(
        {"FORECAST_PUBLICATION_DELAY_MINUTES": "300", "FORECAST_RETENTION_DAYS": "10"}
    )
    assert timing == ForecastTiming(dt.timedelta(hours=5), dt.timedelta(hours=48), dt.timedelta(days=10))
    with pytest.raises(ValueError, match="FORECAST_RETENTION_DAYS"):
        ForecastTiming.from_environment({"FORECAST_RETENTION_DAYS": "2"})
    with pytest.raises(ValueError, match="FORECAST_PUBLICATION_DELAY_MINUTES='soon'"):
        ForecastTiming.from_environment({"FORECAST_PUBLICATION_DELAY_MINUTES": "soon"})


def test_partition_keys_are_run_times():
    run = DAY.replace(hour=18)
    assert partition_key(run) == "2023-12-30-18:00"
    assert run_of(partition_key(run)) == run
    assert partition_key(run) in FORECAST_RUNS.get_partition_keys(current_time=run + dt.timedelta(hours=1))
    with pytest.raises(ValueError, match="2023-12-30-03:00"):
        run_of("2023-12-30-03:00")


def test_late_candidates_are_due_runs_within_the_lookback_of_now_and_of_the_newest_stored_run():
    timing = ForecastTiming()
    now = dt.datetime(2026, 3, 1, 11, tzinfo=dt.UTC)  # the 06 run is due (10:30), the 12 run is not
    newest = DAY.replace(hour=18)
    candidates = late_candidates(timing, now, newest)
    per_window = int(timing.late_lookback / dt.timedelta(hours=6))
    assert len(candidates) == 2 * per_window
    assert candidates[-1] == now.replace(hour=6)
    assert candidates[per_window - 1] == newest
    assert late_candidates(timing, now, None) == candidates[per_window:]


def test_grib_framing_counts_messages_and_finds_a_truncated_file(tmp_path):
    (path,) = write_runs(tmp_path / "forecasts", [DAY])
    whole = grib_framing(path)
    assert (whole.messages, whole.complete) == (GRIB_VARIABLES * len(STEPS_H), True)
    data = path.read_bytes()
    truncated = tmp_path / "truncated.grib2"
    truncated.write_bytes(data[: len(data) - 100])
    cut = grib_framing(truncated)
    assert cut.messages == whole.messages - 1
    assert cut.problem is not None and cut.problem.startswith("truncated")
    html = tmp_path / "error.grib2"
    html.write_bytes(b"<html>502 Bad Gateway</html>")
    assert grib_framing(html).problem == "no GRIB2 message starts at byte 0 of 28"


def test_a_run_is_copied_unchanged_into_the_raw_layer(s3_storage, tmp_path):
    forecasts = tmp_path / "forecasts"
    run = DAY.replace(hour=6)
    (source,) = write_runs(forecasts, [run])
    resources = forecast_resources(s3_storage, forecasts)
    results = [
        dg.materialize([grib_raw], partition_key=partition_key(run), resources=resources) for _ in (1, 2)
    ]
    assert all(result.success for result in results)  # re-running a run overwrites it idempotently
    store = s3_storage.get_storage()
    stored = store.get_bytes(stored_key(run))
    assert stored == source.read_bytes()
    (event,) = results[-1].get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["sha256"].value == hashlib.sha256(stored).hexdigest()
    assert metadata["bytes"].value == len(stored)
    assert metadata["grib_messages"].value == GRIB_VARIABLES * len(STEPS_H)
    assert metadata["grib_framing"].value == "complete"
    assert metadata["uri"].value == store.uri(stored_key(run))


def test_a_run_not_published_fails_naming_it_and_stores_nothing(s3_storage, tmp_path):
    forecasts = tmp_path / "forecasts"
    write_runs(forecasts, [DAY])
    missing = DAY.replace(hour=12)
    result = dg.materialize(
        [grib_raw],
        partition_key=partition_key(missing),
        resources=forecast_resources(s3_storage, forecasts),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "forecast run 2023-12-30-12:00 is not published" in failure.message
    assert not s3_storage.get_storage().exists(stored_key(missing))


def test_retention_removes_old_runs_and_records_it_on_their_partitions(s3_storage, tmp_path):
    forecasts = tmp_path / "forecasts"
    runs = [DAY - dt.timedelta(days=6), DAY - dt.timedelta(days=3), DAY - dt.timedelta(days=1), DAY]
    write_runs(forecasts, runs)
    resources = forecast_resources(s3_storage, forecasts)
    instance = dg.DagsterInstance.ephemeral()
    for run in runs:
        assert dg.materialize(
            [grib_raw], partition_key=partition_key(run), resources=resources, instance=instance
        ).success
    keep_days = 2.5
    result = forecast_retention_job.execute_in_process(
        run_config={"ops": {"remove_expired_forecast_runs": {"config": {"keep_days": keep_days}}}},
        resources=resources,
        instance=instance,
    )
    assert result.success
    expired = [run for run in runs if run < runs[-1] - dt.timedelta(days=keep_days)]
    kept = [run for run in runs if run not in expired]
    assert len(expired) == 2
    store = s3_storage.get_storage()
    assert [store.exists(stored_key(run)) for run in runs] == [run in kept for run in runs]
    observed = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=FORECAST_GRIB_RAW), limit=10
    ).records
    removals = {record.partition_key: record.asset_observation.metadata for record in observed}
    assert set(removals) == {partition_key(run) for run in expired}
    assert all(metadata["retention"].value == "removed" for metadata in removals.values())
    assert all(metadata["bytes"].value > 0 for metadata in removals.values())
    output = result.events_for_node("remove_expired_forecast_runs")
    metadata = next(event for event in output if event.is_successful_output).step_output_data.metadata
    assert metadata["removed_runs"].value == len(expired)
    assert partition_key(expired[0]) in metadata["removed"].value


def test_retention_refuses_an_age_within_the_late_run_lookback(local_storage, tmp_path):
    result = forecast_retention_job.execute_in_process(
        run_config={"ops": {"remove_expired_forecast_runs": {"config": {"keep_days": 1}}}},
        resources=forecast_resources(local_storage, tmp_path),
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "keep_days" in failure.cause.message


def test_the_run_rules_import_no_dagster():
    """The floor plan: the plain module beside the domain's Dagster files is computation only."""
    assert not imports_dagster("landing_zone.defs.forecasts.raw_runs")
