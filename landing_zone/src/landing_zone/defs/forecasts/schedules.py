"""The forecasts domain's schedules: one tick per weather-model run, and the daily retention.

``forecast_runs_schedule`` ticks at each run hour plus the publication delay (``30 4,10,16,22 * * *``
by default, :class:`~.raw_runs.ForecastTiming`). A tick is for exactly one run, the tick less the delay:
if the provider has published it, the tick requests that run's partition with run key
``schedule:{YYYYMMDDHH}``; if not, the tick is skipped with a reason naming the file it expected, and
``late_forecast_runs_sensor`` fetches the run once it appears. Missed runs can be backfilled from the
UI like any partition of ``forecast/grib/raw``.

``forecast_retention_job`` removes runs older than the retention age (counted from the newest stored
run) from every run-partitioned asset of the domain. A time-window partition set cannot drop a
partition, and Dagster's own event logs (SQLite, Postgres) cannot wipe single partitions
(``wipe_asset_partitions`` is not implemented there). So removal is: delete the run's objects, log a
line per run, and record an observation on the removed partition (``retention: removed``, with the
objects and bytes) in the asset's history, where the UI shows it beside the materialisation it
outdates. The partition stays materialised in Dagster's eyes, so neither the late-run sensor nor
automation fetches it again; a deliberate backfill does, and the next retention removes it again.
"""

import datetime as dt

import dagster as dg
from pydantic import Field

from landing_zone.defs.forecasts.keys import FORECAST_GRIB_RAW, RETAINED_RUN_ASSETS
from landing_zone.defs.forecasts.raw_runs import (
    RUN_INTERVAL,
    ForecastTiming,
    expired_runs,
    not_published_reason,
    partition_key,
    published_run,
    remove_run,
    run_key,
    stored_runs,
)
from landing_zone.resources.sources import SourcesResource
from shared.instigators import schedule_status
from shared.k8s.op_tags import K8sOpTags
from shared.resources.storage import StorageResource

TIMING = ForecastTiming.from_environment()
"""Publication delay, late-run lookback and retention from ``FORECAST_*`` (read when the location loads)."""

forecast_runs_job = dg.define_asset_job(
    "forecast_runs_job",
    selection=[FORECAST_GRIB_RAW],
    description="Fetch one weather-model run into forecast/grib/raw.",
)


@dg.schedule(
    name="forecast_runs_schedule",
    cron_schedule=TIMING.schedule_cron,
    execution_timezone="UTC",
    job=forecast_runs_job,
    default_status=schedule_status(),
    description="Each weather-model run, at its start plus the publication delay; skipped with a reason "
    "while the run's file is not published.",
)
def forecast_runs_schedule(
    context: dg.ScheduleEvaluationContext, sources: SourcesResource
) -> dg.RunRequest | dg.SkipReason:
    run = TIMING.run_for_tick(context.scheduled_execution_time)
    if published_run(sources.forecasts_url, run, sources.allowed_prefixes("forecasts")) is None:
        return dg.SkipReason(not_published_reason(sources.forecasts_url, run))
    return dg.RunRequest(run_key=run_key("schedule", run), partition_key=partition_key(run))


class RetentionConfig(dg.Config):
    """How long runs are kept; the default comes from ``FORECAST_RETENTION_DAYS``."""

    keep_days: float = Field(
        default=TIMING.retention.total_seconds() / 86400,
        gt=(TIMING.late_lookback + RUN_INTERVAL).total_seconds() / 86400,
        description="Runs older than this many days before the newest stored run are removed (it must "
        "exceed the late-run lookback plus one run, or a run fetched late could be removed as it lands).",
    )


@dg.op(
    name="remove_expired_forecast_runs",
    tags=K8sOpTags.small(),
    description="Delete the objects of runs older than the retention age and record their removal.",
)
def remove_expired_forecast_runs(
    context: dg.OpExecutionContext, config: RetentionConfig, storage: StorageResource
) -> dg.Output[None]:
    store = storage.get_storage()
    keep = dt.timedelta(days=config.keep_days)
    removed = []
    for asset in RETAINED_RUN_ASSETS:
        runs = stored_runs(store, asset.path)
        for run in expired_runs(runs, keep):
            gone = remove_run(store, asset.path, run)
            context.log_event(
                dg.AssetObservation(
                    asset_key=asset,
                    partition=partition_key(run),
                    metadata={
                        "retention": "removed",
                        "objects": dg.MetadataValue.int(gone.objects),
                        "bytes": dg.MetadataValue.int(gone.bytes),
                        "keep_days": dg.MetadataValue.float(config.keep_days),
                    },
                )
            )
            context.log.info(
                f"removed {asset.to_user_string()} run {partition_key(run)}: {gone.objects} objects, "
                f"{gone.bytes} bytes (older than {config.keep_days:g} days before the newest stored run, "
                f"{partition_key(runs[-1])})"
            )
            removed.append(f"{asset.to_user_string()} {partition_key(run)}")
    return dg.Output(
        None,
        metadata={
            "removed_runs": dg.MetadataValue.int(len(removed)),
            "removed": "\n".join(removed) or "none",
        },
    )


@dg.job(name="forecast_retention_job", description="Remove forecast runs older than the retention age.")
def forecast_retention_job() -> None:
    remove_expired_forecast_runs()


forecast_retention_schedule = dg.ScheduleDefinition(
    name="forecast_retention_schedule",
    cron_schedule="15 3 * * *",
    execution_timezone="UTC",
    job=forecast_retention_job,
    default_status=schedule_status(),
    description="Daily: remove forecast runs older than the retention age.",
)
