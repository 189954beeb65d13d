"""Assets of the reach network: reaches with topology and upstream area, one catchment per reach, and
progressive catchments composed from them along the topology."""

import dagster as dg

from landing_zone.defs.catchments.terrain import BY_REGION
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    RIVERS_ALIGNED,
    catchment_key,
)
from shared.io_managers.vector import FLATGEOBUF
from shared.k8s.op_tags import K8sOpTags
from shared.rasters.handles import StoredRaster
from shared.resources.platform import VECTOR_IO_MANAGER
from shared.vectors.geoframe import GeoFrame


class ReachConfig(dg.Config):
    target_length_m: float = 100.0
    """Reaches are cut to about this length (equal lengths along each river)."""


@dg.asset(
    key=REACHES,
    ins={
        "rivers": dg.AssetIn(key=RIVERS_ALIGNED, partition_mapping=BY_REGION),
        "accumulation": dg.AssetIn(key=catchment_key("flow_accumulation/d8")),
        "directions": dg.AssetIn(key=catchment_key("flow_direction")),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
    op_tags=K8sOpTags.small(),
    kinds={"geoparquet", "flatgeobuf"},
    description="The aligned rivers cut into ~100 m reaches: reach id, downstream reach (the reach of the "
    "receiving river that the D8 flow reaches), Strahler order, length, pour point and D8 upstream area.",
)
def reaches(
    context: dg.AssetExecutionContext,
    config: ReachConfig,
    rivers: GeoFrame,
    accumulation: StoredRaster,
    directions: StoredRaster,
) -> GeoFrame:
    from landing_zone.defs.catchments.reach_layers import reach_layer

    layer, moved = reach_layer(rivers, accumulation, directions, config.target_length_m)
    frame = layer.frame
    context.add_output_metadata(
        {
            "reaches": frame.height,
            "outlets": frame.filter(frame["downstream_id"].is_null()).height,
            "max_strahler_order": frame["strahler_order"].max(),
            "unordered_reaches": frame["strahler_order"].null_count(),
            "links_moved_by_terrain": moved,
        }
    )
    return layer


@dg.asset(
    key=REACH_CATCHMENTS,
    ins={
        "reaches": dg.AssetIn(key=REACHES),
        "directions": dg.AssetIn(key=catchment_key("flow_direction")),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet", "flatgeobuf"},
    description="One catchment polygon per reach, delineated once for all pour points, so they never "
    "overlap and together tile the basin.",
)
def reach_catchments(
    context: dg.AssetExecutionContext, reaches: GeoFrame, directions: StoredRaster
) -> GeoFrame:
    from landing_zone.defs.catchments.reach_layers import reach_catchment_layer

    layer = reach_catchment_layer(reaches, directions)
    context.add_output_metadata({"catchments": layer.frame.height, "area_km2": layer.frame["area_km2"].sum()})
    return layer


@dg.asset(
    key=PROGRESSIVE_CATCHMENTS,
    ins={"catchments": dg.AssetIn(key=REACH_CATCHMENTS)},
    partitions_def=CATCHMENT_PARTITIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet", "flatgeobuf"},
    description="Each reach's whole upstream catchment: its own reach catchment united with the "
    "progressive catchments of the reaches draining into it.",
)
def progressive_catchments(context: dg.AssetExecutionContext, catchments: GeoFrame) -> GeoFrame:
    from landing_zone.defs.catchments.reach_layers import progressive_layer

    layer = progressive_layer(catchments)
    context.add_output_metadata({"largest_km2": layer.frame["progressive_area_km2"].max()})
    return layer
