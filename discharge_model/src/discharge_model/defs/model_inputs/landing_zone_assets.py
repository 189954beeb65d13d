"""Landing-zone assets this location reads, declared by their registry keys only.

They are materialised by the other code location; declaring them here with the right IO manager lets
assets load them as inputs without importing any landing-zone code.
"""

from dagster import AssetSpec

from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.resources.platform import RASTER_IO_MANAGER

terrain = AssetSpec(
    DTM_CONSOLIDATED, partitions_def=REGIONS, description="Consolidated DTM per region from landing_zone."
).with_io_manager_key(RASTER_IO_MANAGER)
