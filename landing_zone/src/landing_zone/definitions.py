"""The ``landing_zone`` code location: one definitions root, assets from ``defs/`` per domain.

Only light modules are imported here; GDAL/rasterio load inside the asset functions.
"""

from dagster import Definitions

from landing_zone.defs.catchments.definitions import catchment_definitions
from landing_zone.defs.elevation.pipeline import elevation_definitions
from landing_zone.defs.stations.polished import polished_definitions
from landing_zone.defs.stations.sync import station_definitions
from landing_zone.resources.sources import SourcesResource
from shared.resources.platform import platform_executor, platform_resources

defs = Definitions.merge(
    elevation_definitions(),
    catchment_definitions(),
    station_definitions(),
    polished_definitions(),
    Definitions(
        resources={**platform_resources(), "sources": SourcesResource.from_environment()},
        executor=platform_executor(),
    ),
)
