"""The station domain's entry point: the network component that ``meteo/defs.yaml`` and
``hydro/defs.yaml`` instantiate, one per provider network.

A network is ``{network}/sync_plan`` (the provider's listing compared with the raw layer),
``{network}/stations`` (the station list), ``{network}/raw_observations`` (one dynamic partition per
provider file, kept equal to the listing by ``{network}_sync_sensor``) and
``{network}/polished_timeseries`` (every raw partition polished into one daily series). The assets are
built in :mod:`.assets`, the sensor in :mod:`.sensors`, the daily sync schedule in :mod:`.schedules`;
listing, raw layer, plan, formats and polishing are plain modules beside them.
"""

from typing import Annotated

import dagster as dg
from pydantic import Field

from landing_zone.component_attributes import PLAIN_NAME
from landing_zone.defs.stations import assets, schedules, sensors
from landing_zone.defs.stations.keys import station_key
from landing_zone.defs.stations.provider_formats import Network
from landing_zone.defs.stations.sync_plan import NetworkPlan, plan_network
from landing_zone.resources.sources import SourcesResource
from shared.resources.storage import StorageResource


class StationNetwork(dg.Component, dg.Model, dg.Resolvable):
    """Sync plan, station list, raw observations, polished series, sync sensor and schedule of a network."""

    network: Annotated[Network, PLAIN_NAME] = Field(
        description="meteo or hydro: names the asset keys, the source URL and the format."
    )

    def key(self, stage: str) -> dg.AssetKey:
        return station_key(self.network, stage)

    @property
    def partitions_name(self) -> str:
        return f"{self.network}_sources"

    @property
    def sources_partitions(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=self.partitions_name)

    def url(self, sources: SourcesResource) -> str:
        return sources.meteo_url if self.network == "meteo" else sources.hydro_url

    def allowed(self, sources: SourcesResource) -> tuple[str, ...]:
        """Where the provider's listed files may lie: its directory and any configured extras."""
        return sources.allowed_prefixes(self.network)

    def plan(self, sources: SourcesResource, storage: StorageResource) -> NetworkPlan:
        """The provider's listing against this network's raw layer: what the asset shows, the sensor does."""
        return plan_network(
            self.url(sources),
            storage.get_storage(),
            self.key("raw_observations").path,
            self.key("stations").path,
            self.allowed(sources),
        )

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dg.Definitions(
            assets=[
                assets.sync_plan_asset(self),
                assets.stations_asset(self),
                assets.raw_observations_asset(self),
                assets.polished_asset(self),
            ],
            sensors=[sensors.sync_sensor(self)],
            schedules=[schedules.sync_schedule(self)],
        )
