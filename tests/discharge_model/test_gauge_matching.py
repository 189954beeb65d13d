"""Gauges matched to progressive catchments: the rules on a small made-up confluence (nearest reach, ties
to the larger upstream area, the area along the reach, search distances in cells of the data's own
grid), then ``discharge_model/gauge_catchments`` through Dagster on the small sample region's delineated
catchments against the generator's true gauge areas, and a gauge off every river refused at a blocking
check with the published table unchanged."""

from pathlib import Path

import dagster as dg
import polars as pl
import pyproj
import pytest
import shapely

from discharge_model.defs.training_data.definitions import training_data_definitions
from discharge_model.defs.training_data.gauge_matching import (
    MatchingInputError,
    MatchSettings,
    analysis_cell_size,
    match_gauges,
)
from platform_dev.training_inputs import (
    CRS,
    REGION,
    gauge_areas,
    put_layer,
    put_table,
    read_stored,
    station_list,
)
from shared.assets.discharge_model import GAUGE_CATCHMENTS
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    HYDRO_STATIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import PARQUET, AssetLocation
from shared.vectors.geoframe import GeoFrame
from tests.catchments.conftest import Chain, run_chain, strategy_key
from tests.discharge_model.dagster_results import assets_of, offending_rows

X0, Y0 = 560_000.0, 360_000.0
"""The made-up confluence's origin, in the sample region's CRS."""
SETTINGS = MatchSettings(search_cells=5, max_area_ratio=1.2, conditioning="burn_fill")


def confluence(cell_m: float = 4.0, reverse: bool = False) -> tuple[GeoFrame, pl.DataFrame, GeoFrame]:
    """Main river west to east: ``a`` (0-100 m) then ``b`` (100-200 m); tributary ``t`` from the north
    joins at x = 100 m. Reach catchments are 100 m boxes; ``reverse`` stores every line upstream."""
    lines = {
        "a": [(X0, Y0), (X0 + 100, Y0)],
        "t": [(X0 + 100, Y0 + 100), (X0 + 100, Y0)],
        "b": [(X0 + 100, Y0), (X0 + 200, Y0)],
    }
    boxes = {
        "a": shapely.box(X0, Y0 - 50, X0 + 100, Y0 + 50),
        "t": shapely.box(X0 + 100, Y0 + 50, X0 + 200, Y0 + 150),
        "b": shapely.box(X0 + 100, Y0 - 50, X0 + 200, Y0 + 50),
    }
    own = {"a": 1.0, "t": 0.5, "b": 1.0}
    progressive = {"a": 10.0, "t": 5.0, "b": 16.0}
    ids = list(lines)
    reaches = GeoFrame.from_geometries(
        pl.DataFrame(
            {
                "reach_id": ids,
                "pour_x": [lines[i][1][0] for i in ids],
                "pour_y": [lines[i][1][1] for i in ids],
            }
        ),
        [shapely.LineString(lines[i][::-1] if reverse else lines[i]) for i in ids],
        CRS,
    )
    cells = [round(own[i] * 1e6 / cell_m**2) for i in ids]
    catchments = GeoFrame.from_geometries(
        pl.DataFrame({"reach_id": ids, "cells": cells, "area_km2": [c * cell_m**2 / 1e6 for c in cells]}),
        [boxes[i] for i in ids],
        CRS,
    )
    areas = pl.DataFrame(
        {
            "reach_id": ids,
            "progressive_area_km2": [progressive[i] for i in ids],
            "reach_area_km2": [own[i] for i in ids],
        }
    )
    return reaches, areas, catchments


def stations(*gauges: tuple[str, float, float], area: float | None = None) -> pl.DataFrame:
    """A station list (WGS84, like the provider's) with gauges at ``(code, dx, dy)`` from the origin."""
    to_wgs84 = pyproj.Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    rows = []
    for code, dx, dy in gauges:
        lon, lat = to_wgs84.transform(X0 + dx, Y0 + dy)
        rows.append(
            {
                "code": code,
                "name": f"gauge {code}",
                "river": "r",
                "lon": lon,
                "lat": lat,
                "elevation_m": 150.0,
            }
        )
    table = pl.DataFrame(rows)
    return table.with_columns(area_km2=pl.lit(area, pl.Float64)) if area is not None else table


def matched(table: pl.DataFrame, gauge: str) -> dict:
    return table.filter(pl.col("gauge") == gauge).row(0, named=True)


@pytest.mark.parametrize("reverse", [False, True])
def test_a_gauge_matches_its_reach_with_the_area_above_its_position(reverse: bool) -> None:
    reaches, areas, catchments = confluence(reverse=reverse)
    table = match_gauges(stations(("g", 60.0, 1.0)), reaches, areas, catchments, SETTINGS).table
    row = matched(table, "g")
    assert row["catchment_id"] == "a" and row["match_distance_m"] == pytest.approx(1.0, abs=0.01)
    # a's inflow (10 - 1 km2) plus 60 % of its own 1 km2, whichever way the line is stored
    assert row["area_at_gauge_km2"] == pytest.approx(9.6, abs=1e-3)
    assert row["area_ratio"] == pytest.approx(10.0 / 9.6, abs=1e-4)
    assert row["area_ratio_basis"] == "along_reach" and row["tied_reaches"] == 1
    assert row["cell_size_m"] == pytest.approx(4.0) and row["search_distance_m"] == pytest.approx(20.0)


def test_a_gauge_at_the_confluence_goes_to_the_larger_upstream_area() -> None:
    reaches, areas, catchments = confluence()
    # 0.5 m from t and b, 0.7 m from a: within half a cell of each other, so they tie
    table = match_gauges(stations(("g", 100.5, 0.5)), reaches, areas, catchments, SETTINGS).table
    row = matched(table, "g")
    assert row["catchment_id"] == "b" and row["tied_reaches"] == 3
    assert row["area_ratio"] == pytest.approx(16.0 / 15.0, abs=0.01)  # at b's upstream end: 15 km2 flow in


def test_the_search_distance_is_counted_in_the_data_own_cells() -> None:
    gauge = stations(("g", 150.0, 15.0))  # 15 m from b
    for cell_m, found in ((4.0, "b"), (2.0, None)):  # 5 cells: 20 m, then 10 m
        reaches, areas, catchments = confluence(cell_m)
        row = matched(match_gauges(gauge, reaches, areas, catchments, SETTINGS).table, "g")
        assert row["catchment_id"] == found
        assert row["match_distance_m"] == pytest.approx(15.0, abs=0.01)
        assert row["search_distance_m"] == pytest.approx(5 * cell_m)


def test_gauges_away_from_the_region_or_unplaced_are_listed_apart() -> None:
    reaches, areas, catchments = confluence()
    listed = pl.concat(
        [
            stations(("near", 50.0, 0.0), ("far", 5_000.0, 5_000.0)),
            stations(("nowhere", 0.0, 0.0)).with_columns(lon=None),
        ]
    )
    matches = match_gauges(listed, reaches, areas, catchments, SETTINGS)
    assert matches.table["gauge"].to_list() == ["near"]
    assert matches.outside_region == ["far"] and matches.unplaced == ["nowhere"]


def test_a_provider_area_is_preferred_to_the_area_along_the_reach() -> None:
    reaches, areas, catchments = confluence()
    row = matched(
        match_gauges(stations(("g", 60.0, 0.0), area=12.5), reaches, areas, catchments, SETTINGS).table, "g"
    )
    assert row["area_ratio_basis"] == "provider" and row["area_ratio"] == pytest.approx(10.0 / 12.5)


def test_reach_catchments_of_two_grids_are_refused_by_name() -> None:
    _, _, catchments = confluence()
    assert analysis_cell_size(catchments.frame, "x") == pytest.approx(4.0)
    mixed = catchments.frame.with_columns(cells=pl.col("cells") * pl.Series([1, 1, 4]))
    with pytest.raises(MatchingInputError, match=r"reach catchments.*not those of one grid"):
        match_gauges(stations(("g", 60.0, 1.0)), *confluence()[:2], GeoFrame(mixed, CRS), SETTINGS)


# --- through Dagster ------------------------------------------------------------------------------------


def materialise(storage: StorageResource) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets_of(training_data_definitions()),
        resources=platform_resources(storage),
        partition_key=REGION,
        selection=[GAUGE_CATCHMENTS],
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def burn_fill_chain(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    """The sample region's catchments delineated on its true DTM (burn_fill only: what gauges match to)."""
    chain = run_chain(tmp_path_factory.mktemp("gauge-chain"), small_region, ("burn_fill",))
    assert all(run.success for run in chain.strategy_runs.values())
    return chain


def test_on_the_sample_region_every_gauge_matches_its_true_catchment(
    burn_fill_chain: Chain, small_region: Path, manifest: dict, tmp_path: Path
) -> None:
    """The delineated burn_fill catchments of the sample region: each gauge's matched catchment is the
    generator's gauge area within 15 % (in fact well within 1 %)."""
    storage = StorageResource(url=str(tmp_path / "storage"))
    source, target = burn_fill_chain.storage.get_storage(), storage.get_storage()
    partition = str(strategy_key("burn_fill"))
    for key in (REACHES, REACH_CATCHMENTS, PROGRESSIVE_CATCHMENTS):
        object_key = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, partition).key(PARQUET)
        target.put_bytes(source.get_bytes(object_key), object_key)
    put_table(storage, HYDRO_STATIONS, station_list(small_region), None)
    result = materialise(storage)
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    table = read_stored(storage, GAUGE_CATCHMENTS)
    truth = gauge_areas(manifest)
    assert sorted(table["gauge"]) == sorted(truth)
    for row in table.iter_rows(named=True):
        assert row["match_distance_m"] < 2 * row["cell_size_m"], row
        assert row["catchment_area_km2"] == pytest.approx(truth[row["gauge"]], rel=0.15), row
        assert row["area_at_gauge_km2"] == pytest.approx(truth[row["gauge"]], rel=0.01), row


@pytest.mark.hostile
def test_a_gauge_off_every_river_is_refused_and_the_published_table_stays(tmp_path: Path) -> None:
    storage = StorageResource(url=str(tmp_path / "storage"))
    reaches, areas, catchments = confluence()
    put_layer(storage, REACHES, reaches)
    put_layer(storage, REACH_CATCHMENTS, catchments)
    put_layer(storage, PROGRESSIVE_CATCHMENTS, GeoFrame.from_geometries(areas, catchments.geometries(), CRS))
    put_table(storage, HYDRO_STATIONS, stations(("good", 60.0, 1.0)), None)
    assert materialise(storage).success
    published = storage.get_storage().get_bytes(
        AssetLocation.for_partition(GAUGE_CATCHMENTS, REGIONS, REGION).key(PARQUET)
    )

    put_table(storage, HYDRO_STATIONS, stations(("good", 60.0, 1.0), ("astray", 150.0, 40.0)), None)
    result = materialise(storage)
    assert not result.success
    evaluation = {e.check_name: e for e in result.get_asset_check_evaluations()}["every_gauge_matched"]
    (row,) = offending_rows(evaluation)
    assert row["gauge"] == "astray" and row["match_distance_m"] == pytest.approx(40.0, abs=0.01)
    assert "gauge=astray" in str(evaluation.description)
    location = AssetLocation.for_partition(GAUGE_CATCHMENTS, REGIONS, REGION)
    assert storage.get_storage().get_bytes(location.key(PARQUET)) == published
    assert storage.get_storage().exists(location.key(PARQUET, name="candidate"))
