"""Issue 14's broken inputs: a station series with a gap longer than the month can carry stops the daily
grids' month (a blocking check naming the stations; the published month stays as it was), and a
catchment outside the grids stops the forcings (an error or a blocking check naming the catchment)."""

import datetime as dt
import hashlib
from dataclasses import replace
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio
import shapely

from landing_zone.defs.features.assets import (
    DAILY_GRID_PARTITIONS,
    FORCINGS_CHECKS,
    STATION_LIST,
    daily_grids,
)
from landing_zone.defs.features.checks import MAX_TOO_FEW_STATIONS_SHARE, MIN_MEAN_VALID_FRACTION
from landing_zone.defs.features.forcings import Catchments, MonthGrids, forcings_table
from landing_zone.defs.features.gridding import VARIABLES
from landing_zone.defs.features.keys import METEO_DAILY_GRIDS
from landing_zone.defs.features.sensors import meteo_months_sensor
from landing_zone.defs.features.zonal import CatchmentOutsideGridError
from shared.assets.landing_zone import CATCHMENT_FORCINGS, DTM_CONSOLIDATED, METEO_POLISHED, REGIONS
from shared.partitions import apply_partition_requests
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, PARQUET, AssetLocation
from tests.features.conftest import MONTH
from tests.features.test_daily_grids_asset import PARTITION, store_inputs

TEMPERATURE = "air_temperature_c"
GAP = (dt.date.fromisoformat(f"{MONTH}-05"), dt.date.fromisoformat(f"{MONTH}-16"))
"""Twelve days: well beyond the 10 % of a month's days that may lack enough stations."""
GRID_UPSTREAM = [
    dg.AssetSpec(METEO_POLISHED),
    dg.AssetSpec(STATION_LIST),
    dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER),
]


def materialise_month(storage: StorageResource, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*GRID_UPSTREAM, daily_grids],
        instance=instance,
        resources=platform_resources(storage),
        partition_key=str(PARTITION),
        selection=[METEO_DAILY_GRIDS],
        raise_on_error=False,
    )


def with_gap(polished: pl.DataFrame, stations: list[str]) -> pl.DataFrame:
    """The polished series without ``stations``' temperature on the gap's days (nothing delivered)."""
    day = pl.col("time").dt.date()
    in_gap = pl.col("station").is_in(stations) & (pl.col("variable") == TEMPERATURE) & day.is_between(*GAP)
    return polished.filter(~in_gap)


def digest(storage: StorageResource, key: str) -> str:
    return hashlib.sha256(storage.get_storage().get_bytes(key)).hexdigest()


@pytest.fixture(scope="module")
def gap_run(sample_meteo, small_region, tmp_path_factory):
    """A good month published, then the same month re-run with all stations but one silent for twelve
    days (temperature needs two)."""
    storage = StorageResource(url=str(tmp_path_factory.mktemp("broken") / "storage"))
    store_inputs(storage, sample_meteo, small_region)
    instance = dg.DagsterInstance.ephemeral()
    sensor = meteo_months_sensor(dg.build_sensor_context(instance=instance, resources={"storage": storage}))
    apply_partition_requests(instance, sensor.dynamic_partitions_requests or [])
    good = materialise_month(storage, instance)
    location = AssetLocation.for_partition(METEO_DAILY_GRIDS, DAILY_GRID_PARTITIONS, str(PARTITION))
    published = {variable: digest(storage, location.key(COG, name=variable)) for variable in VARIABLES}
    silent = sorted(sample_meteo.stations.codes)[:-1]
    broken = with_gap(sample_meteo.polished, silent)
    store_inputs(storage, replace(sample_meteo, polished=broken), small_region)
    return storage, good, materialise_month(storage, instance), published, silent, location


def test_a_long_station_gap_fails_the_month_naming_the_silent_stations(gap_run):
    _, good, bad, _, silent, _ = gap_run
    assert good.success
    assert not bad.success
    evaluations = {e.check_name: e for e in bad.get_asset_check_evaluations()}
    check = evaluations["too_few_stations_share"]
    assert not check.passed
    (row,) = check.metadata["offending_values"].value
    assert row["variable"] == TEMPERATURE and row["marked_days"] >= 12
    named = dict(entry.rsplit(" (", 1) for entry in row["stations_missing"].split(", "))
    for station in silent:
        assert int(named[station].split()[0]) >= 12, (station, row)
    assert row["share"] > MAX_TOO_FEW_STATIONS_SHARE


def test_the_failed_month_leaves_the_published_grids_and_never_reaches_downstream(gap_run):
    storage, _, bad, published, _, location = gap_run
    assert not bad.get_asset_materialization_events()
    for variable, before in published.items():
        assert digest(storage, location.key(COG, name=variable)) == before, variable
    assert storage.get_storage().exists(location.key(PARQUET, name="candidate"))


def box_catchments(shapes: list[shapely.Polygon], crs: str) -> Catchments:
    count = len(shapes)
    return Catchments(
        ids=[f"R{n}" for n in range(count)],
        kinds=["progressive"] * count,
        area_km2=np.array([shape.area / 1e6 for shape in shapes]),
        outlet_ids=[f"R{n}" for n in range(count)],
        geometries=np.array(shapes, dtype=object),
        crs=crs,
    )


@pytest.fixture(scope="module")
def july_grids(gap_run, tmp_path_factory) -> tuple[MonthGrids, tuple[float, float, float, float]]:
    """The good month's published COGs staged locally, and the grid's bounds."""
    storage, *_, location = gap_run
    folder = Path(tmp_path_factory.mktemp("july"))
    paths = storage.get_storage().stage_files([location.key(COG, name=v) for v in sorted(VARIABLES)], folder)

    with rasterio.open(paths[0]) as dataset:
        bounds = tuple(dataset.bounds)
    return MonthGrids(MONTH, dict(zip(sorted(VARIABLES), paths, strict=True))), bounds


def test_a_catchment_wholly_outside_the_grid_is_an_error_naming_it(july_grids, sample_meteo):
    month, (west, south, east, north) = july_grids
    inside = shapely.box(west + 1000, south + 1000, west + 2000, south + 2000)
    outside = shapely.box(east + 5000, north + 5000, east + 6000, north + 6000)
    with pytest.raises(CatchmentOutsideGridError, match="progressive R1"):
        forcings_table(box_catchments([inside, outside], "EPSG:2180"), [month])


def test_a_catchment_half_outside_the_grid_fails_a_blocking_check_naming_it(july_grids, gap_run):
    storage = gap_run[0]
    month, (west, south, east, _) = july_grids
    inside = shapely.box(west + 1000, south + 1000, west + 2000, south + 2000)
    straddling = shapely.box(east - 1000, south + 1000, east + 1000, south + 2000)
    table, _ = forcings_table(box_catchments([inside, straddling], "EPSG:2180"), [month])
    results = {
        r.check_name: r
        for r in DuckDBChecksResource(storage=storage).check_frame(CATCHMENT_FORCINGS, FORCINGS_CHECKS, table)
    }
    covered = results["forcings_catchments_covered"]
    assert not covered.passed and covered.severity == dg.AssetCheckSeverity.ERROR
    offending = covered.metadata["offending_values"].value
    assert [row["catchment_id"] for row in offending] == ["R1"]
    half = table.filter(pl.col("catchment_id") == "R1")["precipitation_mm_valid_fraction"]
    assert half.max() == pytest.approx(0.5, abs=0.01)
    assert half.max() < MIN_MEAN_VALID_FRACTION
