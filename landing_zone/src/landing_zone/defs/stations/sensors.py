"""``{network}_sync_sensor``: keeps a network's dynamic partitions ``{network}_sources`` (one per provider
file) equal to the provider's listing and requests runs for new and changed files only.

It evaluates the same plan as the ``sync_plan`` asset (:mod:`.sync_plan`); its run keys carry each
file's size and ETag, so a revised file runs again and an unchanged one never does. The daily
``{network}_sync_schedule`` (:mod:`.schedules`) requests the same runs (:func:`sync_run_requests`).
"""

from typing import TYPE_CHECKING

import dagster as dg

from landing_zone.defs.stations.provider_listing import source_key
from landing_zone.defs.stations.sync_plan import NetworkPlan, run_key
from landing_zone.resources.sources import SourcesResource
from shared.instigators import sensor_status
from shared.partitions import partition_requests
from shared.resources.storage import StorageResource

if TYPE_CHECKING:
    from landing_zone.defs.stations.definitions import StationNetwork


def sync_sensor(network: "StationNetwork") -> dg.SensorDefinition:
    """One sensor per network: it and the ``sync_plan`` asset evaluate the same plan, so they agree."""
    partitions = network.sources_partitions

    @dg.sensor(
        name=f"{network.network}_sync_sensor",
        minimum_interval_seconds=3600,
        asset_selection=sync_targets(network),
        default_status=sensor_status(),
        description=f"Keeps {partitions.name} equal to the provider's files; runs new or changed ones.",
    )
    def sync_sensor(
        context: dg.SensorEvaluationContext, sources: SourcesResource, storage: StorageResource
    ) -> dg.SensorResult:
        plan = network.plan(sources, storage)
        registered = set(context.instance.get_dynamic_partitions(network.partitions_name))
        return dg.SensorResult(
            run_requests=sync_run_requests(network, plan),
            dynamic_partitions_requests=partition_requests(partitions, plan.listed_sources(), registered),
        )

    return sync_sensor


def sync_targets(network: "StationNetwork") -> list[dg.AssetKey]:
    """What a sync runs: the raw observation files and the station list."""
    return [network.key("raw_observations"), network.key("stations")]


def sync_run_requests(network: "StationNetwork", plan: NetworkPlan) -> list[dg.RunRequest]:
    """One run per new or changed provider file (its raw partition), one for a new or changed station
    list; each run key names the file's size and ETag."""
    raw_key, stations_key = sync_targets(network)
    return [
        *(
            dg.RunRequest(run_key=run_key(f), asset_selection=[raw_key], partition_key=source_key(f.name))
            for f in plan.to_fetch()
        ),
        *(
            dg.RunRequest(run_key=run_key(f), asset_selection=[stations_key])
            for f in (*plan.station_list.new, *plan.station_list.changed)
        ),
    ]
