"""``features/catchment_attributes`` materialised through Dagster on the small sample region's burn_fill
catchments, compared with independent computations: polygon areas, brute-force DTM means over the cells
whose centres lie inside each catchment, and drainage densities from a walk up the reaches layer."""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from landing_zone.defs.features.assets import DSM_CONSOLIDATED, catchment_attributes
from landing_zone.defs.features.checks import catchment_attribute_sql_checks
from landing_zone.defs.features.static_attributes import ATTRIBUTE_SCHEMA, horn_slope_deg
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_PARTITIONS,
    DTM_CONSOLIDATED,
    PROGRESSIVE_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.storage.layout import COG, PARQUET, AssetLocation, partition_dimensions
from shared.vectors.formats import read_geoparquet
from shared.vectors.geoframe import GeoFrame
from tests.catchments.conftest import REGION, Chain, run_chain, strategy_key

STRATEGY = "burn_fill"


@dataclass
class Materialised:
    chain: Chain
    result: dg.ExecuteInProcessResult
    table: pl.DataFrame
    catchments: GeoFrame
    reaches: GeoFrame


def stored_layer(chain: Chain, key: dg.AssetKey) -> GeoFrame:
    store = chain.storage.get_storage()
    object_key = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, str(strategy_key(STRATEGY))).key(
        PARQUET
    )
    with store.local_copy(object_key) as path:
        return read_geoparquet(path, object_key)


@pytest.fixture(scope="module")
def materialised(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Materialised:
    chain = run_chain(tmp_path_factory.mktemp("attributes"), small_region, (STRATEGY,))
    store = chain.storage.get_storage()
    store.put_file(
        small_region / "truth" / "dsm.tif",
        AssetLocation(DSM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG),
    )
    rasters = [
        dg.AssetSpec(key, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER)
        for key in (DTM_CONSOLIDATED, DSM_CONSOLIDATED)
    ]
    layers = [
        dg.AssetSpec(key, partitions_def=CATCHMENT_PARTITIONS) for key in (PROGRESSIVE_CATCHMENTS, REACHES)
    ]
    result = dg.materialize(
        [*rasters, *layers, catchment_attributes],
        instance=chain.instance,
        resources=platform_resources(chain.storage),
        partition_key=REGION,
        selection=[CATCHMENT_ATTRIBUTES],
    )
    location = AssetLocation.for_partition(CATCHMENT_ATTRIBUTES, REGIONS, REGION)
    with store.local_copy(location.key(PARQUET)) as path:
        table = pl.read_parquet(path)
    return Materialised(
        chain, result, table, stored_layer(chain, PROGRESSIVE_CATCHMENTS), stored_layer(chain, REACHES)
    )


def test_every_check_passes_and_the_strategy_is_recorded(materialised: Materialised) -> None:
    evaluations = {e.check_name: e for e in materialised.result.get_asset_check_evaluations()}
    assert set(evaluations) == {check.name for check in catchment_attribute_sql_checks()}
    assert all(e.passed for e in evaluations.values())
    event = materialised.result.get_asset_materialization_events()[0].materialization
    assert event.metadata["conditioning"].value == STRATEGY
    assert materialised.table.schema == pl.Schema(ATTRIBUTE_SCHEMA)
    assert materialised.table.height == materialised.catchments.frame.height


def aligned(materialised: Materialised) -> pl.DataFrame:
    """The table in the catchment layer's row order."""
    ids = materialised.catchments.frame.select(pl.col("reach_id").alias("catchment_id"))
    return ids.join(materialised.table, on="catchment_id", how="left", maintain_order="left")


def test_area_is_the_polygon_area(materialised: Materialised) -> None:
    import shapely

    table = aligned(materialised)
    polygons = materialised.catchments.geometries()
    np.testing.assert_allclose(table["area_km2"], shapely.area(polygons) / 1e6, rtol=1e-12)
    np.testing.assert_allclose(
        table["area_km2"], materialised.catchments.frame["progressive_area_km2"], rtol=1e-6
    )


def test_elevation_and_slope_match_a_brute_force_over_the_cells_inside(
    materialised: Materialised, small_region: Path
) -> None:
    """The catchments follow the analysis grid, which nests the 2 m DTM: every DTM cell is wholly in or
    out, so the coverage-weighted statistics equal plain ones over the cells whose centres are inside."""
    import rasterio
    from rasterio.features import geometry_mask

    table = aligned(materialised)
    with rasterio.open(small_region / "truth" / "dtm.tif") as dtm:
        z = dtm.read(1, masked=True).astype(float).filled(np.nan)
        transform, shape = dtm.transform, dtm.shape
        padded = np.pad(z, 1, constant_values=np.nan)
        slope = horn_slope_deg(padded, abs(transform.a), abs(transform.e)).astype(float)
    for row, polygon in enumerate(materialised.catchments.geometries()):
        inside = geometry_mask([polygon], shape, transform, invert=True) & np.isfinite(z)
        assert table["elevation_mean_m"][row] == pytest.approx(z[inside].mean(), rel=1e-6)
        assert table["elevation_std_m"][row] == pytest.approx(z[inside].std(), rel=1e-4, abs=1e-3)
        with_slope = inside & np.isfinite(slope)
        assert table["slope_mean_deg"][row] == pytest.approx(slope[with_slope].mean(), rel=1e-4)


def test_drainage_density_and_order_from_a_walk_up_the_reaches(materialised: Materialised) -> None:
    reaches = materialised.reaches.frame
    length = dict(zip(reaches["reach_id"], reaches["length_m"], strict=True))
    order = dict(zip(reaches["reach_id"], reaches["strahler_order"], strict=True))
    upstream_of: dict[str, list[str]] = {}
    for reach, target in zip(reaches["reach_id"], reaches["downstream_id"], strict=True):
        upstream_of.setdefault(target, []).append(reach)
    table = aligned(materialised)
    for row, outlet in enumerate(table["catchment_id"]):
        seen, stack = set(), [outlet]
        while stack:
            reach = stack.pop()
            seen.add(reach)
            stack.extend(upstream_of.get(reach, []))
        expected = sum(length[r] for r in seen) / 1000.0 / table["area_km2"][row]
        assert table["drainage_density_km_per_km2"][row] == pytest.approx(expected, rel=1e-12)
        assert table["strahler_order"][row] == order[outlet]
    basin = table.filter(pl.col("area_km2") == pl.col("area_km2").max())
    assert basin["strahler_order"].item() == reaches["strahler_order"].max()


def test_canopy_compactness_and_slope_are_physical(materialised: Materialised) -> None:
    table = {name: materialised.table[name].to_numpy() for name in materialised.table.columns}
    assert table["canopy_height_mean_m"].min() >= 0
    assert table["canopy_height_mean_m"].max() < 50  # taller than any Polish forest on average
    assert table["compactness"].min() >= 1
    assert table["slope_mean_deg"].min() > 0 and table["slope_mean_deg"].max() < 45
