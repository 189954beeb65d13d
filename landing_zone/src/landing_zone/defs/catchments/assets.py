"""Assets of the reach network: reaches with topology and upstream area, one catchment per reach, and
progressive catchments composed from them along the topology.

Each layer is written, audited and only then published (:mod:`shared.publication`): its checks run in
the asset's own step on the candidate, and only a candidate that passes every blocking check reaches the
vector IO manager, which replaces the published GeoParquet and FlatGeobuf. A rejected candidate is kept
as ``candidate.parquet`` beside them for diagnosis, the step fails, and nothing downstream runs on it.
"""

import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from landing_zone.defs.catchments.checks import (
    CATCHMENT_CHECK_SPECS,
    PROGRESSIVE_CHECK_SPECS,
    PROGRESSIVE_CHECKS,
    REACH_CHECK_SPECS,
    REACH_CHECKS,
    audit_reach_catchments,
)
from landing_zone.defs.catchments.terrain import BY_REGION
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    RIVERS_ALIGNED,
    catchment_key,
)
from shared.io_managers.partitions import partition_dimensions
from shared.io_managers.vector import FLATGEOBUF
from shared.k8s.op_tags import K8sOpTags
from shared.publication import drop_candidate, failed_blocking, keep_candidate_file, reject
from shared.rasters.handles import StoredRaster
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import VECTOR_IO_MANAGER
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.vectors.formats import write_geoparquet
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
    check_specs=REACH_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
    op_tags=K8sOpTags.small(),
    kinds={"geoparquet", "flatgeobuf"},
    description="The aligned rivers cut into ~100 m reaches: reach id, downstream reach (the reach of the "
    "receiving river that the D8 flow reaches), Strahler order, length, pour point and D8 upstream area. "
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

    layer, moved = reach_layer(rivers, accumulation, directions, config.target_length_m)
    frame = layer.frame
    metadata = {
        "reaches": frame.height,
        "outlets": frame.filter(frame["downstream_id"].is_null()).height,
        "max_strahler_order": frame["strahler_order"].max(),
        "unordered_reaches": frame["strahler_order"].null_count(),
        "links_moved_by_terrain": moved,
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
    check_specs=CATCHMENT_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
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
    check_specs=PROGRESSIVE_CHECK_SPECS,
    io_manager_key=VECTOR_IO_MANAGER,
    metadata={FLATGEOBUF: True},
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
    """Record the candidate's check results, then publish it, or keep it and fail the step.

    The results are yielded first so they are recorded either way. ``reject`` raises before the
    ``Output``, so a failing candidate never reaches the IO manager; once a candidate is published, an
    older kept one no longer explains what is published and is dropped.
    """
    store = storage.get_storage()
    partition = partition_dimensions(CATCHMENT_PARTITIONS, context.partition_key)
    yield from results
    failed = failed_blocking(results, specs)
    if failed:
        reject(key, failed, _keep_candidate_layer(store, key, partition, layer))
    yield dg.Output(layer, metadata=dict(metadata))
    drop_candidate(store, key.path, partition, "parquet")


def _keep_candidate_layer(
    store: Storage, key: dg.AssetKey, partition: dict[str, str], layer: GeoFrame
) -> str:
    """Store a rejected layer as GeoParquet beside the published one (QGIS opens it); returns its URI."""
    with tempfile.TemporaryDirectory(prefix="candidate-") as scratch:
        path = Path(scratch) / "candidate.parquet"
        write_geoparquet(layer, path)
        return keep_candidate_file(store, key.path, partition, path, "parquet")
