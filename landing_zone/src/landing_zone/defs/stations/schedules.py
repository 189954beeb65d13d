"""``{network}_sync_schedule``: the station sync once a day, at :data:`DAILY_SYNC_CRON` (06:00 UTC), so a
network is synced daily whatever the hourly sensor does (stopped, paused, failing).

A tick evaluates the same plan as ``{network}_sync_sensor`` and requests the same runs
(:func:`.sensors.sync_run_requests`): one per new or changed provider file and one for a changed station
list, with the same run keys. A schedule cannot return partition requests, so the tick registers (and
retires) the network's ``{network}_sources`` partitions itself before requesting runs for them. A tick
whose plan has nothing new is skipped with that reason. Sensor and schedule never run a file twice once it
is stored: the plan compares the listing with the raw layer, so a file is planned until its run stored it.
A file whose run failed is therefore tried again at the next daily tick, where the sensor (whose run keys
Dagster deduplicates across all its ticks) does not retry it.

The polished series is expected to update once a day: :data:`POLISHED_FRESHNESS` gives it a day plus
:data:`SYNC_SLACK` before Dagster shows it as stale.
"""

import datetime as dt
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from landing_zone.defs.stations.sensors import sync_run_requests, sync_targets
from landing_zone.resources.sources import SourcesResource
from shared.freshness import late_by
from shared.instigators import schedule_status
from shared.partitions import apply_partition_requests, partition_requests
from shared.resources.storage import StorageResource

if TYPE_CHECKING:
    from landing_zone.defs.stations.definitions import StationNetwork

DAILY_SYNC_CRON = "0 6 * * *"
"""06:00 UTC: after the providers' overnight publication of the previous day, before Europe's working day."""

SYNC_INTERVAL = dt.timedelta(days=1)
"""How often the schedule syncs (one tick of :data:`DAILY_SYNC_CRON`)."""

SYNC_SLACK = dt.timedelta(hours=3)
"""How long after its tick a daily sync may take to reach the polished series: the raw runs of the changed
files (one per file, fetched and parsed), then the polishing their automation requests."""

POLISHED_FRESHNESS = late_by(SYNC_INTERVAL, SYNC_SLACK)
"""Polished observations: stale after a day plus the sync's slack (27 h), a warning at 25 h 30 min."""


def sync_schedule(network: "StationNetwork") -> dg.ScheduleDefinition:
    """One daily schedule per network, requesting what its sync sensor would."""

    @dg.schedule(
        name=f"{network.network}_sync_schedule",
        cron_schedule=DAILY_SYNC_CRON,
        execution_timezone="UTC",
        target=sync_targets(network),
        default_status=schedule_status(),
        description=f"Daily at 06:00 UTC: syncs {network.partitions_name} with the provider's files and "
        "runs the new or changed ones, as the sync sensor does.",
    )
    def sync_schedule(
        context: dg.ScheduleEvaluationContext, sources: SourcesResource, storage: StorageResource
    ) -> Iterator[dg.RunRequest | dg.SkipReason]:
        plan = network.plan(sources, storage)
        registered = context.instance.get_dynamic_partitions(network.partitions_name)
        apply_partition_requests(
            context.instance,
            partition_requests(network.sources_partitions, plan.listed_sources(), registered),
        )
        requests = sync_run_requests(network, plan)
        if not requests:
            yield dg.SkipReason(f"the {network.network} provider lists no new or changed file")
        yield from requests

    return sync_schedule
