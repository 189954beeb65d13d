"""Two forecast cycles end to end, as ``make demo`` runs them after the discharge model is promoted.

Each cycle is what operations sees on a day: ``forecast_runs_schedule`` is evaluated for real at the
run's tick time (``build_schedule_context``) and its run request carried out (the run's GRIB2 file into
``forecast/grib/raw``); then the automation conditions of the joined workspace
(:func:`platform_dev.workspace.joined_definitions`) are evaluated tick after tick with
``evaluate_automation_conditions``, as the automation daemon does, and every partition they request is
materialised, until they request nothing: fields, catchment forecast forcings, the discharge forecast
and its verification follow from the new run alone. Only the forecast chain's conditions are evaluated:
the model's own assets (training data, LSTM, evaluation) are up to date after the demo's training, and
evaluating them here would only show that.

The cycles are the sample region's last two runs, whose files the generator keeps clean; runs land in
the ``DAGSTER_HOME`` instance, so ``make dev`` shows them.

``--hindcast HOURS`` instead runs every published run of the source at those hours (e.g. ``0,12``) through
raw, fields, forecast forcings and forecast in one run each (a run that fails its checks is reported and
skipped), then the verification, and prints its medians per lead day as one JSON line: the forecast
skill the closing notes quote. About 10 s per run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections import defaultdict
from pathlib import Path

import dagster as dg

from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS, FORECAST_GRIB_RAW
from landing_zone.defs.forecasts.raw_runs import partition_key
from landing_zone.defs.forecasts.schedules import TIMING
from platform_dev.workspace import joined_definitions
from shared.assets.discharge_model import DISCHARGE_FORECAST, FORECAST_VERIFICATION
from shared.assets.landing_zone import CATCHMENT_FORECAST_FORCINGS

log = logging.getLogger(__name__)

CYCLES = (dt.datetime(2023, 12, 31, 0, tzinfo=dt.UTC), dt.datetime(2023, 12, 31, 6, tzinfo=dt.UTC))
"""The sample region's last runs (its record ends on 2023-12-31): the 06 run takes the hours of its own
day before its start from the 00 run."""

FORECAST_CHAIN = (
    FORECAST_GRIB_FIELDS,
    CATCHMENT_FORECAST_FORCINGS,
    DISCHARGE_FORECAST,
    FORECAST_VERIFICATION,
)
"""The assets whose automation conditions carry a new run to its verified forecast."""

MAX_TICKS = 10


def schedule_tick(defs: dg.Definitions, instance: dg.DagsterInstance, run: dt.datetime) -> dg.RunRequest:
    """``forecast_runs_schedule`` of the landing zone's ``defs`` evaluated at the run's tick (its start plus
    the publication delay)."""
    schedule = defs.resolve_schedule_def("forecast_runs_schedule")
    tick_time = run + TIMING.publication_delay
    with dg.build_schedule_context(
        instance=instance, scheduled_execution_time=tick_time, resources=dict(defs.resources or {})
    ) as context:
        result = schedule(context)
    if not isinstance(result, dg.RunRequest):
        raise RuntimeError(
            f"the schedule's tick at {tick_time:%Y-%m-%d %H:%M} UTC gave {result}, not a run request"
        )
    return result


def materialise(
    defs: dg.Definitions, instance: dg.DagsterInstance, keys: list[dg.AssetKey], partition: str, tags: dict
) -> None:
    """The assets' partition (with their checks) in one run, as the daemon or a schedule launches it."""
    assets = [asset for asset in defs.assets or [] if isinstance(asset, dg.AssetsDefinition)]
    result = dg.materialize(
        assets,
        selection=keys,
        partition_key=partition,
        instance=instance,
        resources=dict(defs.resources or {}),
        tags=tags,
        raise_on_error=False,
    )
    names = [key.to_user_string() for key in keys]
    if not result.success:
        raise RuntimeError(f"materialising {names} {partition} failed: see run {result.run_id}")
    log.info("materialised %s %s", names, partition)


def propagate(
    defs: dg.Definitions, instance: dg.DagsterInstance, cursor: dg.AssetDaemonCursor | None
) -> tuple[dg.AssetDaemonCursor | None, list[str]]:
    """Automation ticks until nothing is requested; what each tick requested, and the cursor."""
    requested_log: list[str] = []
    for _ in range(MAX_TICKS):
        result = dg.evaluate_automation_conditions(
            defs=defs,
            instance=instance,
            asset_selection=dg.AssetSelection.assets(*FORECAST_CHAIN),
            cursor=cursor,
        )
        cursor = result.cursor
        by_partition: dict[str, list[dg.AssetKey]] = defaultdict(list)
        for key in FORECAST_CHAIN:
            for partition in result.get_requested_partitions(key):
                by_partition[str(partition)].append(key)
        if not by_partition:
            return cursor, requested_log
        for partition, keys in sorted(by_partition.items()):
            requested_log.append(f"{[key.to_user_string() for key in keys]} {partition}")
            materialise(defs, instance, keys, partition, {"dagster/from_automation_condition": "true"})
    raise RuntimeError(f"automation still requested runs after {MAX_TICKS} ticks: {requested_log}")


def hindcast(defs: dg.Definitions, instance: dg.DagsterInstance, hours: set[int]) -> dict[str, object]:
    """Every published run at ``hours`` to its forecast, then the verification's medians per lead day."""
    from landing_zone.resources.sources import SourcesResource
    from shared.regions import platform_regions

    folder = SourcesResource.from_environment().forecasts_url.removeprefix("file://")
    runs = sorted(
        dt.datetime.strptime(path.stem.removeprefix("forecast_"), "%Y%m%d%H").replace(tzinfo=dt.UTC)
        for path in Path(folder).glob("*/*/forecast_*.grib2")
    )
    chain = [FORECAST_GRIB_RAW, FORECAST_GRIB_FIELDS, CATCHMENT_FORECAST_FORCINGS, DISCHARGE_FORECAST]
    chosen = [run for run in runs if run.hour in hours]
    failed = []
    for run in chosen:
        try:
            materialise(defs, instance, chain, partition_key(run), {})
        except RuntimeError as error:
            failed.append(str(error))
    (region,) = platform_regions()
    materialise(defs, instance, [FORECAST_VERIFICATION], region, {})
    event = instance.get_latest_materialization_event(FORECAST_VERIFICATION)
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return {
        "runs": len(chosen),
        "failed": failed,
        **{name: value.value for name, value in metadata.items() if "median" in name},
    }


def main() -> None:
    from landing_zone.definitions import defs as landing

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hindcast", help="run hours (UTC), comma-separated: every such run of the source")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    defs = joined_definitions()
    instance = dg.DagsterInstance.get()
    if args.hindcast:
        hours = {int(hour) for hour in args.hindcast.split(",")}
        print(json.dumps(hindcast(defs, instance, hours), default=str), flush=True)
        return
    # the daemon is running before the first cycle: its first tick only records where the event log stands
    # (an update it has not seen happen is not "new" to it)
    cursor, _ = propagate(defs, instance, None)
    for run in CYCLES:
        request = schedule_tick(landing, instance, run)
        if request.partition_key != partition_key(run):
            raise RuntimeError(
                f"the schedule asked for {request.partition_key}, not the run {partition_key(run)}"
            )
        materialise(defs, instance, [FORECAST_GRIB_RAW], partition_key(run), dict(request.tags))
        cursor, requested = propagate(defs, instance, cursor)
        log.info("cycle %s: automation requested %s", partition_key(run), requested)


if __name__ == "__main__":
    main()
