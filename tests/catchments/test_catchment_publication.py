"""Write-audit-publish of the reach layers, on layers small enough to write by hand.

The whole chain on the sample region is in ``test_broken_topology``; here each piece is pinned down on
its own: which checks each asset declares, what the reach-catchment audit reports, and how
``progressive_catchments`` publishes a passing candidate and keeps a failing one.
"""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import shapely

from landing_zone.defs.catchments.assets import progressive_catchments
from landing_zone.defs.catchments.checks import audit_reach_catchments
from landing_zone.defs.catchments.definitions import defs as catchment_defs
from landing_zone.defs.catchments.keys import catchment_key
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
)
from shared.publication import CANDIDATE_NAME
from shared.resources.platform import VECTOR_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation, partition_dimensions
from shared.vectors.formats import read_geoparquet, write_geoparquet
from shared.vectors.geoframe import GeoFrame

PARTITION = dg.MultiPartitionKey({"conditioning": "burn_fill", "region": "pilica"})
CRS = "EPSG:2180"
KM = 1000.0
"""Side of a 1 km² square, in the CRS's metres."""


def square(x: float, y: float, width: float = 1.0) -> shapely.Polygon:
    """A ``width`` x 1 km rectangle with its south-west corner ``(x, y)`` km from the origin."""
    west, south = 500_000 + x * KM, 300_000 + y * KM
    return shapely.box(west, south, west + width * KM, south + KM)


def reach_catchments_layer(outlet_upstream_km2: float = 4.0) -> GeoFrame:
    """Headwaters ``a`` and ``b`` drain into outlet ``c``: three catchments tiling a 2 x 2 km basin.

    ``outlet_upstream_km2`` is the D8 upstream area recorded at ``c``'s pour cell; anything but 4 km²
    means the topology disagrees with the terrain.
    """
    attributes = pl.DataFrame(
        {
            "reach_id": ["a", "b", "c"],
            "river_id": ["t", "t2", "main"],
            "downstream_id": ["c", "c", None],
            "upstream_area_km2": [1.0, 1.0, outlet_upstream_km2],
            "cells": [100, 100, 200],
            "area_km2": [1.0, 1.0, 2.0],
        },
        schema_overrides={"downstream_id": pl.String},
    )
    return GeoFrame.from_geometries(attributes, [square(0, 1), square(1, 1), square(0, 0, 2)], CRS)


def partition() -> dict[str, str]:
    """The partition every test here writes, as storage keys name it."""
    return partition_dimensions(CATCHMENT_PARTITIONS, PARTITION)


def store_reach_catchments(storage: Storage, layer: GeoFrame, scratch: Path) -> None:
    """Publish ``layer`` as the upstream asset's GeoParquet, as its IO manager would."""
    path = scratch / "reach_catchments.parquet"
    write_geoparquet(layer, path)
    storage.put_file(path, AssetLocation(REACH_CATCHMENTS.path, partition()).key(PARQUET))


def materialise_progressive(storage: StorageResource) -> dg.ExecuteInProcessResult:
    upstream = dg.AssetSpec(REACH_CATCHMENTS, partitions_def=CATCHMENT_PARTITIONS).with_io_manager_key(
        VECTOR_IO_MANAGER
    )
    return dg.materialize(
        [upstream, progressive_catchments],
        resources=platform_resources(storage),
        partition_key=PARTITION,
        selection=[PROGRESSIVE_CATCHMENTS],
        raise_on_error=False,
    )


def published_bytes(storage: Storage, key: dg.AssetKey) -> dict[str, bytes]:
    return {
        ext: storage.get_bytes(AssetLocation(key.path, partition()).key(ext)) for ext in ("parquet", "fgb")
    }


def candidate_key(key: dg.AssetKey) -> str:
    return AssetLocation(key.path, partition()).key(PARQUET, name=CANDIDATE_NAME)


def test_each_layer_declares_its_checks_and_no_separate_check_remains() -> None:
    defs = catchment_defs
    assert not defs.asset_checks
    declared = {
        spec.asset_key: {spec.name: spec.blocking for spec in asset.check_specs}
        for asset in defs.assets or []
        for spec in asset.check_specs
    }
    assert declared == {
        catchment_key("flow_accumulation/dinf"): {"dinf_agrees_with_d8_at_outlets": True},
        REACHES: {"links_resolve": True, "acyclic": True, "has_outlet": True, "reach_lengths": False},
        REACH_CATCHMENTS: {"one_catchment_per_reach": True, "no_overlap": True, "union_equals_basin": True},
        PROGRESSIVE_CATCHMENTS: {
            "equals_sum_of_upstream": True,
            "agrees_with_d8_accumulation": True,
            "never_shrinks_downstream": True,
        },
    }


def test_a_tiling_of_the_basin_passes_the_reach_catchment_audit() -> None:
    layer = reach_catchments_layer()
    results = audit_reach_catchments(layer, layer, basin_km2=4.0)
    assert {r.check_name: r.passed for r in results} == {
        "one_catchment_per_reach": True,
        "no_overlap": True,
        "union_equals_basin": True,
    }


@pytest.mark.hostile
def test_overlapping_and_missing_catchments_fail_the_audit_with_the_values_found() -> None:
    good = reach_catchments_layer()
    overlapping = GeoFrame.from_geometries(
        good.attributes, [square(0, 1), square(0.5, 1), square(0, 0, 2)], CRS
    )
    reaches = GeoFrame.from_geometries(
        pl.DataFrame({"reach_id": ["a", "b", "c", "d"]}), [square(0, 0)] * 4, CRS
    )
    results = {r.check_name: r for r in audit_reach_catchments(reaches, overlapping, basin_km2=4.0)}
    assert not results["no_overlap"].passed
    assert results["no_overlap"].metadata["overlap_km2"].value == pytest.approx(0.5)
    assert not results["union_equals_basin"].passed
    assert not results["one_catchment_per_reach"].passed
    assert results["one_catchment_per_reach"].metadata["offending_values"].value == [
        {"reach_id": "d", "catchments": 0, "cells": 0}
    ]


@pytest.mark.hostile
def test_a_failing_candidate_is_kept_and_the_published_layer_stays(tmp_path: Path) -> None:
    storage = StorageResource(url=str(tmp_path / "storage"))
    store = storage.get_storage()
    store_reach_catchments(store, reach_catchments_layer(), tmp_path)
    good = materialise_progressive(storage)
    assert good.success
    before = published_bytes(store, PROGRESSIVE_CATCHMENTS)

    store_reach_catchments(store, reach_catchments_layer(outlet_upstream_km2=3.0), tmp_path)
    bad = materialise_progressive(storage)

    assert not bad.success
    assert not bad.get_asset_materialization_events()
    failure = bad.get_step_failure_events()[0].step_failure_data.user_failure_data
    assert failure.metadata["failed_checks"].value == ["agrees_with_d8_accumulation"]
    checks = {e.check_name: e for e in bad.get_asset_check_evaluations()}
    assert {name for name, e in checks.items() if not e.passed} == {"agrees_with_d8_accumulation"}
    offending = checks["agrees_with_d8_accumulation"].metadata["offending_values"].value
    assert [row["reach_id"] for row in offending] == ["c"]
    assert published_bytes(store, PROGRESSIVE_CATCHMENTS) == before
    with store.local_copy(candidate_key(PROGRESSIVE_CATCHMENTS)) as path:
        kept = read_geoparquet(path, "candidate")
    assert kept.crs == CRS
    assert kept.frame.filter(pl.col("reach_id") == "c")["upstream_area_km2"].to_list() == [3.0]

    store_reach_catchments(store, reach_catchments_layer(), tmp_path)
    fixed = materialise_progressive(storage)
    assert fixed.success
    assert [e.asset_key for e in fixed.get_asset_materialization_events()] == [PROGRESSIVE_CATCHMENTS]
    assert not store.exists(candidate_key(PROGRESSIVE_CATCHMENTS))
