"""The catchments domain's definitions: river network, delineation rasters, reach layers and checks."""

import dagster as dg

from landing_zone.defs.catchments.checks import catchment_checks
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
        ],
        asset_checks=catchment_checks(),
    )
