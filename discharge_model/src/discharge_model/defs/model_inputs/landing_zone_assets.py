"""Landing-zone assets this location reads, declared by their registry keys only.

They are materialised by the other code location; declaring them here with the right IO manager lets
assets load them as inputs without importing any landing-zone code.
"""

from dagster import AssetSpec

from shared.assets.landing_zone import DEMO_TERRAIN
from shared.resources.platform import RASTER_IO_MANAGER

terrain = AssetSpec(
    DEMO_TERRAIN, description="Terrain COG from the landing_zone location."
).with_io_manager_key(RASTER_IO_MANAGER)
