"""``late_forecast_runs_sensor``: fetches the runs that were published after their schedule tick.

A run is late when its tick has passed, no run was ever launched for its partition (the tick was
skipped: the file was not there yet) and the provider lists its file now. A run whose fetch was
launched and failed is not late: it shows as failed, for someone to look at and rerun, and is not
fetched again behind their back.

Which runs it looks at (:func:`~.raw_runs.late_candidates`): those due within the lookback before
now, and those within the lookback before the newest stored run, so a replayed past source (the sample
region) has its gaps found too. The cursor holds the runs it has requested that are still within that
window, so a run is requested once even before its run shows in the instance; the run keys
(``late:{YYYYMMDDHH}``) say the same to the daemon.
"""

import datetime as dt
import json

import dagster as dg

from landing_zone.defs.forecasts.keys import FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import (
    late_candidates,
    partition_key,
    published_run,
    run_key,
    run_of,
)
from landing_zone.defs.forecasts.schedules import TIMING, forecast_runs_job
from landing_zone.resources.sources import SourcesResource
from shared.instigators import sensor_status


@dg.sensor(
    name="late_forecast_runs_sensor",
    job=forecast_runs_job,
    minimum_interval_seconds=600,
    default_status=sensor_status(),
    description="Fetches weather-model runs published after their forecast_runs_schedule tick.",
)
def late_forecast_runs_sensor(
    context: dg.SensorEvaluationContext, sources: SourcesResource
) -> dg.SensorResult:
    requested = set(json.loads(context.cursor)) if context.cursor else set()
    materialized = context.instance.get_materialized_partitions(FORECAST_GRIB_RAW)
    newest = max((run_of(key) for key in materialized), default=None)
    candidates = late_candidates(TIMING, dt.datetime.now(dt.UTC), newest)
    late = [
        run
        for run in candidates
        if partition_key(run) not in materialized | requested
        and context.instance.get_latest_planned_materialization_info(FORECAST_GRIB_RAW, partition_key(run))
        is None
        and published_run(sources.forecasts_url, run, sources.allowed_prefixes("forecasts")) is not None
    ]
    watched = {partition_key(run) for run in candidates}
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=run_key("late", run),
                partition_key=partition_key(run),
                asset_selection=[FORECAST_GRIB_RAW],
            )
            for run in late
        ],
        cursor=json.dumps(sorted((requested & watched) | {partition_key(run) for run in late})),
    )
