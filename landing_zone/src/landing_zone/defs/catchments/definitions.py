"""The catchments domain's definitions: river network, delineation rasters and reach layers.

The reach layers' checks are declared by the assets themselves (``check_specs``): they run on each
candidate before it is published, so there are no separate asset checks to register here.
"""

import dagster as dg

from landing_zone.defs.catchments.assets import (
    analysis_dem,
    condition_dem_and_route_flow,
    flow_accumulation_d8,
    flow_accumulation_dinf,
    progressive_catchments,
    reach_catchments,
    reaches,
    rivers,
    rivers_aligned,
)

defs = dg.Definitions(
    assets=[
        rivers,
        rivers_aligned,
        analysis_dem,
        condition_dem_and_route_flow,
        flow_accumulation_d8,
        flow_accumulation_dinf,
        reaches,
        reach_catchments,
        progressive_catchments,
    ]
)
"""The domain's one entry point: the defs-folder loader takes this module-level ``Definitions``."""
