"""The catchments domain's definitions: river network, delineation rasters and reach layers.

The reach layers' checks are declared by the assets themselves (``check_specs``): they run on each
candidate before it is published, so there are no separate asset checks to register here.
"""

import dagster as dg

from landing_zone.defs.catchments.hydrography import rivers, rivers_aligned
from landing_zone.defs.catchments.network import progressive_catchments, reach_catchments, reaches
from landing_zone.defs.catchments.terrain import (
    analysis_dem,
    condition_dem_and_route_flow,
    flow_accumulation_d8,
    flow_accumulation_dinf,
)


def catchment_definitions() -> dg.Definitions:
    return dg.Definitions(
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
