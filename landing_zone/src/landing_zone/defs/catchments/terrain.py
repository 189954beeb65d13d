"""Rasters of delineation: the DEM on the analysis grid, conditioned per strategy, D8 flow directions,
and flow accumulation (D8 and D-infinity), each a COG per strategy and region."""

import dagster as dg

from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    DTM_CONSOLIDATED,
    REGIONS,
    RIVERS_ALIGNED,
    catchment_key,
)
from shared.k8s.op_tags import K8sOpTags
from shared.rasters.handles import CogFile, StoredRaster
from shared.resources.platform import RASTER_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.vectors.geoframe import GeoFrame

BY_REGION = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="region")
"""Strategy x region assets read region-only upstream assets through this mapping."""

GDAL_CACHEMAX_MB = 256


class AnalysisGridConfig(dg.Config):
    resolution_m: float = 4.0
    """Cell size delineation runs at (the DEM is averaged onto it block-wise); e.g. 10 m on large regions."""


class ConditioningConfig(dg.Config):
    burn_depth_m: float = 5.0
    """How far river cells are lowered before filling (``burn_fill``)."""


def strategy_of(context: dg.AssetExecutionContext) -> str:
    """The conditioning strategy of the partition being materialised."""
    partition = context.partition_key
    if not isinstance(partition, dg.MultiPartitionKey):
        raise TypeError(f"expected a conditioning x region partition, got {partition!r}")
    return partition.keys_by_dimension["conditioning"]


@dg.asset(
    key=catchment_key("analysis_dem"),
    retry_policy=TRANSIENT_STEP_RETRY,
    ins={"dem": dg.AssetIn(key=DTM_CONSOLIDATED)},
    partitions_def=REGIONS,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.large(divider=2, env={"GDAL_CACHEMAX": str(GDAL_CACHEMAX_MB)}),
    kinds={"cog", "gdal"},
    description="The consolidated DTM averaged onto the analysis grid, block-wise.",
)
def analysis_dem(context: dg.AssetExecutionContext, config: AnalysisGridConfig, dem: StoredRaster) -> CogFile:
    from landing_zone.defs.catchments.rasters import resample_dem

    cog = resample_dem(dem, config.resolution_m, GDAL_CACHEMAX_MB)
    context.add_output_metadata({"analysis_resolution_m": config.resolution_m, "resampling": "average"})
    return CogFile(cog)


@dg.multi_asset(
    name="condition_dem_and_route_flow",
    retry_policy=TRANSIENT_STEP_RETRY,
    outs={
        "conditioned_dem": dg.AssetOut(
            key=catchment_key("conditioned_dem"),
            io_manager_key=RASTER_IO_MANAGER,
            kinds={"cog", "pyflwdir"},
            description="The analysis DEM conditioned for delineation, one COG per strategy: burn_fill "
            "(aligned rivers burned in, then priority-flood filled) or fill (priority-flood only).",
        ),
        "flow_direction": dg.AssetOut(
            key=catchment_key("flow_direction"),
            io_manager_key=RASTER_IO_MANAGER,
            kinds={"cog", "pyflwdir"},
            description="D8 flow directions of the conditioned DEM, from the same priority flood (pyflwdir "
            "codes: 1 E, 2 SE, 4 S, 8 SW, 16 W, 32 NW, 64 N, 128 NE, 0 outlet, 247 nodata).",
        ),
    },
    ins={
        "analysis_dem": dg.AssetIn(key=catchment_key("analysis_dem"), partition_mapping=BY_REGION),
        "rivers": dg.AssetIn(key=RIVERS_ALIGNED, partition_mapping=BY_REGION),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    op_tags=K8sOpTags.medium(),
)
def condition_dem_and_route_flow(
    context: dg.AssetExecutionContext,
    config: ConditioningConfig,
    analysis_dem: StoredRaster,
    rivers: GeoFrame,
) -> tuple[CogFile, CogFile]:
    """One priority flood gives both the conditioned DEM and its D8 directions."""
    from landing_zone.defs.catchments.conditioning import condition_with_rivers
    from landing_zone.defs.catchments.flow import D8_NODATA
    from landing_zone.defs.catchments.rasters import read_grid, write_cog

    dem = read_grid(analysis_dem)
    strategy = strategy_of(context)
    result = condition_with_rivers(dem.values, dem.nodata, dem.grid, rivers, strategy, config.burn_depth_m)
    context.add_output_metadata(
        {
            "strategy": strategy,
            "burn_depth_m": config.burn_depth_m if strategy == "burn_fill" else 0.0,
            "burn_depth_rule": "halved per level below the main river",
            "burned_cells": result.burned_cells,
            "filled_cells": result.filled_cells,
            "max_fill_m": round(result.max_fill_m, 3),
            "analysis_resolution_m": dem.grid.cell,
        },
        output_name="conditioned_dem",
    )
    outlets = int((result.d8 == 0).sum())
    context.add_output_metadata(
        {"outlets": outlets, "analysis_resolution_m": dem.grid.cell}, output_name="flow_direction"
    )
    return (
        CogFile(write_cog(result.dem, dem, dem.nodata)),
        CogFile(write_cog(result.d8, dem, D8_NODATA, categorical=True)),
    )


@dg.asset(
    key=catchment_key("flow_accumulation/d8"),
    retry_policy=TRANSIENT_STEP_RETRY,
    ins={"directions": dg.AssetIn(key=catchment_key("flow_direction"))},
    partitions_def=CATCHMENT_PARTITIONS,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    kinds={"cog", "pyflwdir"},
    description="D8 upstream area of every cell in km² (the cell included).",
)
def flow_accumulation_d8(context: dg.AssetExecutionContext, directions: StoredRaster) -> CogFile:
    from landing_zone.defs.catchments.flow import AREA_NODATA, d8_upstream_area_km2, flow_from_d8
    from landing_zone.defs.catchments.rasters import read_grid, write_cog

    grid = read_grid(directions)
    area = d8_upstream_area_km2(flow_from_d8(grid))
    context.add_output_metadata({"max_upstream_area_km2": round(float(area.max()), 4), "unit": "km2"})
    return CogFile(write_cog(area, grid, AREA_NODATA))


@dg.asset(
    key=catchment_key("flow_accumulation/dinf"),
    retry_policy=TRANSIENT_STEP_RETRY,
    ins={"dem": dg.AssetIn(key=catchment_key("conditioned_dem"))},
    partitions_def=CATCHMENT_PARTITIONS,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    kinds={"cog", "whitebox"},
    description="D-infinity contributing area of every cell in km² (flow split between two neighbours by "
    "slope direction; WhiteboxTools).",
)
def flow_accumulation_dinf(context: dg.AssetExecutionContext, dem: StoredRaster) -> CogFile:
    from landing_zone.defs.catchments.flow import AREA_NODATA, dinf_upstream_area_km2
    from landing_zone.defs.catchments.rasters import write_cog

    area = dinf_upstream_area_km2(dem)
    context.add_output_metadata({"max_upstream_area_km2": round(float(area.values.max()), 4), "unit": "km2"})
    return CogFile(write_cog(area.values, area, AREA_NODATA))
