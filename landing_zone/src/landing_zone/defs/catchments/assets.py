"""Every asset of the catchments domain, upstream to downstream.

The river network as published (``hydrography/rivers``) and moved onto the DEM's drainage
(``hydrography/rivers_aligned``) by the offset estimated in :mod:`alignment`; the rasters of delineation
(the DEM on the analysis grid, conditioned per strategy, D8 flow directions, and flow accumulation, D8
and D-infinity), each a COG per strategy and region; and the reach layers: reaches with topology and
upstream area, one catchment per reach, and progressive catchments composed from them along the topology.

The computation lives in the pure modules beside this one and is imported inside each asset function, so
loading the code location does not load GDAL. Their tunable numbers are in :mod:`config`.

Each reach layer is written, audited and only then published (:mod:`shared.publication`): its checks run
in the asset's own step on the candidate, and only a candidate that passes every blocking check reaches
the vector IO manager, which replaces the published GeoParquet and FlatGeobuf. A rejected candidate is
kept as ``candidate.parquet`` beside them for diagnosis, the step fails, and nothing downstream runs on it.

Everything below the published rivers follows its inputs by itself
(:func:`shared.automation.when_deps_passed`): a new consolidated DTM rebuilds the region's analysis DEM,
rasters and reach layers of both strategies.
"""

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from landing_zone.defs.catchments import columns
from landing_zone.defs.catchments.checks import (
    CATCHMENT_CHECK_SPECS,
    DINF_CHECK_SPECS,
    PROGRESSIVE_CHECK_SPECS,
    PROGRESSIVE_CHECKS,
    REACH_CHECK_SPECS,
    REACH_CHECKS,
    audit_dinf_outlets,
    audit_reach_catchments,
)
from landing_zone.defs.catchments.config import (
    AlignmentConfig,
    AnalysisGridConfig,
    ConditioningConfig,
    ReachConfig,
)
from landing_zone.defs.catchments.keys import catchment_key, hydrography_key
from landing_zone.resources.sources import SourcesResource
from landing_zone.sources.urls import redact_url
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    DTM_CONSOLIDATED,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
    RIVERS_ALIGNED,
)
from shared.automation import when_deps_passed
from shared.columns import described_columns
from shared.io_managers.vector import FLATGEOBUF
from shared.k8s.op_tags import K8sOpTags
from shared.partitions import BY_REGION
from shared.publication import keep_candidate_file, publish_if_passed
from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB, gdal_cache_step_env
from shared.rasters.handles import CogFile, StoredRaster
from shared.regions import region, regions_file
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import RASTER_IO_MANAGER, TRANSIENT_STEP_RETRY, VECTOR_IO_MANAGER
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation
from shared.vectors.formats import write_geoparquet
from shared.vectors.geoframe import GeoFrame


@dg.asset(
    key=hydrography_key("rivers"),
    metadata=described_columns("hydrography/rivers", columns.RIVERS, columns.DESCRIPTIONS),
    partitions_def=REGIONS,
    io_manager_key=VECTOR_IO_MANAGER,
    op_tags=K8sOpTags.small(),
    kinds={"geoparquet"},
    description="The river network as the provider publishes it: one line per river, source to mouth, "
    "with the river it flows into.",
)
def rivers(context: dg.AssetExecutionContext, sources: SourcesResource) -> GeoFrame:
    from landing_zone.defs.catchments.river_source import read_rivers

    url = sources.region_url("rivers", context.partition_key)
    network = read_rivers(url, sources.allowed_prefixes("rivers", url))
    context.add_output_metadata(
        {"source_url": redact_url(url), "rivers": network.layer.frame.height} | network.metadata()
    )
    return network.layer


@dg.asset(
    key=hydrography_key("rivers_aligned"),
    metadata=described_columns("hydrography/rivers_aligned", columns.RIVERS, columns.DESCRIPTIONS),
    ins={
        "rivers": dg.AssetIn(key=hydrography_key("rivers")),
        "analysis_dem": dg.AssetIn(key=catchment_key("analysis_dem")),
    },
    partitions_def=REGIONS,
    automation_condition=when_deps_passed(),
    io_manager_key=VECTOR_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet"},
    description="Rivers shifted onto the DEM's own drainage: the offset that best puts them on the DEM's "
    "valley lines, applied only when trusted (prominence over the score's noise, jackknife agreement of "
    "the rivers), with both measures and any doubts in the metadata.",
)
def rivers_aligned(
    context: dg.AssetExecutionContext, config: AlignmentConfig, rivers: GeoFrame, analysis_dem: StoredRaster
) -> GeoFrame:
    from landing_zone.defs.catchments.river_alignment import align_rivers

    check_rivers_in_region(rivers, analysis_dem, context)
    aligned, estimate = align_rivers(rivers, analysis_dem, config.min_search_m, config.search_cells)
    context.add_output_metadata(estimate.metadata())
    if not estimate.trusted:
        context.log.warning(f"river offset not applied: {'; '.join(estimate.doubts())}")
    return aligned


def check_rivers_in_region(
    rivers: GeoFrame, analysis_dem: StoredRaster, context: dg.AssetExecutionContext
) -> None:
    """Stop before aligning rivers that lie outside the region (a wrong CRS): the DEM's bounds are the
    region's, and an alignment far from any valley would report a meaningless offset, not fail."""
    from landing_zone.defs.catchments.river_source import check_rivers_reach

    with analysis_dem.open() as dem:
        region_crs, region_bounds = dem.crs.to_wkt(), tuple(dem.bounds)
    where = (
        f"{hydrography_key('rivers').to_user_string()} (partition {context.partition_key}) against the "
        f"analysis DEM {analysis_dem.uri}"
    )
    check_rivers_reach(rivers, where, region_crs, region_bounds)


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
    automation_condition=when_deps_passed(),
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.large(divider=2, env=gdal_cache_step_env(DEFAULT_GDAL_CACHE_MB)),
    kinds={"cog", "gdal"},
    description="The consolidated DTM averaged onto the analysis grid, block-wise, in the region's CRS "
    "(regions file): a DTM in another CRS, geographic included, is reprojected on the way; a region CRS "
    "that is not projected in metres, or a DTM without a CRS, is refused.",
)
def analysis_dem(context: dg.AssetExecutionContext, config: AnalysisGridConfig, dem: StoredRaster) -> CogFile:
    from landing_zone.defs.catchments.rasters import lattice_shift_cells, resample_dem

    place = region(context.partition_key)
    resolution_m = config.resolution_m or place.analysis_resolution_m
    origin = f"region {place.name!r} (the `crs` of its entry in {regions_file()})"
    cog = resample_dem(dem, place.crs, resolution_m, DEFAULT_GDAL_CACHE_MB, origin)
    with dem.open() as source:
        source_crs, reprojected = source.crs.to_string(), source.crs != place.crs
        shift = lattice_shift_cells(source.transform.c, source.transform.f, resolution_m)
    if shift and not reprojected:
        context.log.warning(
            f"the DTM's cells do not nest in the {resolution_m} m analysis cells (grid shifted by {shift} "
            "cells): each analysis cell averages parts of DTM cells, and rivers digitised on the DTM's "
            "lattice sit off the analysis lattice; an analysis resolution dividing the DTM's origin avoids it"
        )
    context.add_output_metadata(
        {
            "analysis_resolution_m": resolution_m,
            "resampling": "average",
            "region_crs": place.crs,
            "source_crs": source_crs,
            "reprojected": reprojected,
            "lattice_shift_cells": list(shift) if shift else [0.0, 0.0],
        }
    )
    return CogFile(cog)


@dg.multi_asset(
    name="condition_dem_and_route_flow",
    retry_policy=TRANSIENT_STEP_RETRY,
    outs={
        "conditioned_dem": dg.AssetOut(
            key=catchment_key("conditioned_dem"),
            automation_condition=when_deps_passed(),
            io_manager_key=RASTER_IO_MANAGER,
            kinds={"cog", "pyflwdir"},
            description="The analysis DEM conditioned for delineation, one COG per strategy: burn_fill "
            "(aligned rivers burned in, then priority-flood filled) or fill (priority-flood only).",
        ),
        "flow_direction": dg.AssetOut(
            key=catchment_key("flow_direction"),
            automation_condition=when_deps_passed(),
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
    automation_condition=when_deps_passed(),
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
    ins={
        "dem": dg.AssetIn(key=catchment_key("conditioned_dem")),
        "directions": dg.AssetIn(key=catchment_key("flow_direction")),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    automation_condition=when_deps_passed(),
    check_specs=DINF_CHECK_SPECS,
    io_manager_key=RASTER_IO_MANAGER,
    op_tags=K8sOpTags.medium(),
    kinds={"cog", "numba"},
    description="D-infinity contributing area of every cell in km² (Tarboton: flow split between two "
    "neighbours by slope direction), on the same conditioned DEM as D8: filled flats drain along the D8 "
    "directions, the grid edge and nodata are outlets. Checked against D8 at every large basin's outlet.",
)
def flow_accumulation_dinf(
    context: dg.AssetExecutionContext, dem: StoredRaster, directions: StoredRaster
) -> Iterator[Any]:
    from landing_zone.defs.catchments.flow import (
        AREA_NODATA,
        d8_upstream_area_km2,
        dinf_upstream_area_km2,
        flow_from_d8,
        outlet_areas_km2,
    )
    from landing_zone.defs.catchments.rasters import read_grid, write_cog

    conditioned, d8 = read_grid(dem), read_grid(directions)
    area = dinf_upstream_area_km2(conditioned, d8.values)
    outlets = outlet_areas_km2(d8_upstream_area_km2(flow_from_d8(d8)), area, d8.values)
    metadata: dict[str, Any] = {"max_upstream_area_km2": round(float(area.max()), 4), "unit": "km2"}
    yield dg.Output(CogFile(write_cog(area, conditioned, AREA_NODATA)), metadata=metadata)
    yield audit_dinf_outlets(outlets, conditioned.grid.cell)


@dg.asset(
    key=REACHES,
    ins={
        "rivers": dg.AssetIn(key=RIVERS_ALIGNED, partition_mapping=BY_REGION),
        "accumulation": dg.AssetIn(key=catchment_key("flow_accumulation/d8")),
        "directions": dg.AssetIn(key=catchment_key("flow_direction")),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    automation_condition=when_deps_passed(),
    check_specs=REACH_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True}
    | described_columns(REACHES.to_user_string(), columns.REACHES, columns.DESCRIPTIONS),
    op_tags=K8sOpTags.small(),
    kinds={"geoparquet", "flatgeobuf"},
    description="The aligned rivers cut into ~100 m reaches (at least three analysis cells): reach id, "
    "downstream reach (the reach of the receiving river that the D8 flow reaches), Strahler order, length, "
    "pour point, D8 upstream area and the reaches merged into it for want of a pour cell of their own. "
    "Published only when its blocking checks pass.",
)
def reaches(
    context: dg.AssetExecutionContext,
    config: ReachConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
    rivers: GeoFrame,
    accumulation: StoredRaster,
    directions: StoredRaster,
) -> Iterator[Any]:
    from landing_zone.defs.catchments.reach_layers import reach_layer

    layer, summary = reach_layer(rivers, accumulation, directions, config.target_length_m)
    frame = layer.frame
    metadata = {
        "reaches": frame.height,
        "outlets": frame.filter(frame["downstream_id"].is_null()).height,
        "max_strahler_order": frame["strahler_order"].max(),
        "unordered_reaches": frame["strahler_order"].null_count(),
        **summary,
    }
    results = list(duckdb.check_frame(REACHES, REACH_CHECKS, layer.attributes))
    yield from _publish_if_passed(context, storage, REACHES, layer, results, REACH_CHECK_SPECS, metadata)


@dg.asset(
    key=REACH_CATCHMENTS,
    ins={
        "reaches": dg.AssetIn(key=REACHES),
        "directions": dg.AssetIn(key=catchment_key("flow_direction")),
    },
    partitions_def=CATCHMENT_PARTITIONS,
    automation_condition=when_deps_passed(),
    check_specs=CATCHMENT_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True}
    | described_columns(REACH_CATCHMENTS.to_user_string(), columns.REACH_CATCHMENTS, columns.DESCRIPTIONS),
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet", "flatgeobuf"},
    description="One catchment polygon per reach, delineated once for all pour points, so they never "
    "overlap and together tile the basin. Published only when its blocking checks pass.",
)
def reach_catchments(
    context: dg.AssetExecutionContext, storage: StorageResource, reaches: GeoFrame, directions: StoredRaster
) -> Iterator[Any]:
    from landing_zone.defs.catchments.rasters import read_grid
    from landing_zone.defs.catchments.reach_layers import outlet_basin_km2, reach_catchments_on_grid

    grid = read_grid(directions)
    layer = reach_catchments_on_grid(reaches, grid)
    metadata = {"catchments": layer.frame.height, "area_km2": layer.frame["area_km2"].sum()}
    results = audit_reach_catchments(reaches, layer, outlet_basin_km2(reaches, grid))
    yield from _publish_if_passed(
        context, storage, REACH_CATCHMENTS, layer, results, CATCHMENT_CHECK_SPECS, metadata
    )


@dg.asset(
    key=PROGRESSIVE_CATCHMENTS,
    ins={"catchments": dg.AssetIn(key=REACH_CATCHMENTS)},
    partitions_def=CATCHMENT_PARTITIONS,
    automation_condition=when_deps_passed(),
    check_specs=PROGRESSIVE_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True}
    | described_columns(
        PROGRESSIVE_CATCHMENTS.to_user_string(), columns.PROGRESSIVE_CATCHMENTS, columns.DESCRIPTIONS
    ),
    op_tags=K8sOpTags.medium(),
    kinds={"geoparquet", "flatgeobuf"},
    description="Each reach's whole upstream catchment: its own reach catchment united with the "
    "progressive catchments of the reaches draining into it. Published only when its blocking checks pass.",
)
def progressive_catchments(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
    catchments: GeoFrame,
) -> Iterator[Any]:
    from landing_zone.defs.catchments.reach_layers import progressive_layer

    layer = progressive_layer(catchments)
    metadata = {"largest_km2": layer.frame["progressive_area_km2"].max()}
    results = list(duckdb.check_frame(PROGRESSIVE_CATCHMENTS, PROGRESSIVE_CHECKS, layer.attributes))
    yield from _publish_if_passed(
        context, storage, PROGRESSIVE_CATCHMENTS, layer, results, PROGRESSIVE_CHECK_SPECS, metadata
    )


def _publish_if_passed(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    key: dg.AssetKey,
    layer: GeoFrame,
    results: Sequence[dg.AssetCheckResult],
    specs: Sequence[dg.AssetCheckSpec],
    metadata: Mapping[str, Any],
) -> Iterator[Any]:
    """A reach layer through :func:`shared.publication.publish_if_passed`, a rejected one kept as
    GeoParquet (QGIS opens it)."""
    store = storage.get_storage()
    location = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, context.partition_key)
    yield from publish_if_passed(
        key,
        results,
        specs,
        dg.Output(layer, metadata=dict(metadata)),
        lambda: _keep_candidate_layer(store, location, layer),
        store,
        location,
        PARQUET,
    )


def _keep_candidate_layer(store: Storage, location: AssetLocation, layer: GeoFrame) -> str:
    """Store a rejected layer as GeoParquet beside the published one (QGIS opens it); returns its URI."""
    with tempfile.TemporaryDirectory(prefix="candidate-") as scratch:
        path = Path(scratch) / f"candidate.{PARQUET}"
        write_geoparquet(layer, path)
        return keep_candidate_file(store, location, path, PARQUET)
