"""The ``discharge_model`` code location: one definitions root, assets from ``defs/`` per domain.

Only light modules are imported here; rasterio and (later) torch load inside the asset functions.
"""

from dagster import Definitions

from discharge_model.defs.model_inputs import assets, landing_zone_assets
from shared.resources.platform import platform_executor, platform_resources

defs = Definitions(
    assets=[landing_zone_assets.terrain, assets.model_grid_elevation, assets.model_cell_attributes],
    resources=platform_resources(),
    executor=platform_executor(),
)
