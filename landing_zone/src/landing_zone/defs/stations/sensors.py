"""``{network}_sync_sensor``: keeps a network's dynamic partitions ``{network}_sources`` (one per provider
file) equal to the provider's listing and requests runs for new and changed files only.

It evaluates the same plan as the ``sync_plan`` asset (:mod:`.sync_plan`); its run keys carry each
file's size and ETag, so a revised file runs again and an unchanged one never does.
"""

from typing import TYPE_CHECKING

import dagster as dg

from landing_zone.defs.stations.provider_listing import source_key
from landing_zone.defs.stations.sync_plan import run_key
from landing_zone.resources.sources import SourcesResource
from shared.partitions import partition_requests
from shared.resources.storage import StorageResource

if TYPE_CHECKING:
    from landing_zone.defs.stations.definitions import StationNetwork


def sync_sensor(network: "StationNetwork") -> dg.SensorDefinition:
    """One sensor per network: it and the ``sync_plan`` asset evaluate the same plan, so they agree."""
    partitions = network.sources_partitions
    raw_key, stations_key = network.key("raw_observations"), network.key("stations")

    @dg.sensor(
        name=f"{network.network}_sync_sensor",
        minimum_interval_seconds=3600,
        asset_selection=[raw_key, stations_key],
        description=f"Keeps {partitions.name} equal to the provider's files; runs new or changed ones.",
    )
    def sync_sensor(
        context: dg.SensorEvaluationContext, sources: SourcesResource, storage: StorageResource
    ) -> dg.SensorResult:
        plan = network.plan(sources, storage)
        listed = plan.listed_sources()
        registered = set(context.instance.get_dynamic_partitions(network.partitions_name))
        return dg.SensorResult(
            run_requests=[
                *(
                    dg.RunRequest(
                        run_key=run_key(f), asset_selection=[raw_key], partition_key=source_key(f.name)
                    )
                    for f in plan.to_fetch()
                ),
                *(
                    dg.RunRequest(run_key=run_key(f), asset_selection=[stations_key])
                    for f in (*plan.station_list.new, *plan.station_list.changed)
                ),
            ],
            dynamic_partitions_requests=partition_requests(partitions, listed, registered),
        )

    return sync_sensor
