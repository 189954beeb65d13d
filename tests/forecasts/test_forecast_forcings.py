"""``features/catchment_forecast_forcings`` materialised on a real S3 server from GRIB2 runs the sample-region
generator writes (raw, fields, forecast forcings, each a real Dagster materialisation), checked against the
generator's true per-step fields averaged over the catchments.

The catchments are a small basin made for the test over the small region's 6 x 6 km (two headwater reach
catchments draining into a third, and their progressive catchments), stored where the catchments domain
publishes them: the forecast forcings read them from storage like the observed forcings. A second
strategy's layer (``fill``) holds one catchment reaching past the region, which a blocking check refuses.

One sequence of materialisations per module (:func:`chain`), in the order operations would see them: the
06 UTC run arrives first (its day's first six hours are then scaled), then the 00 UTC run, then the 06
run again (its first hours now come from the 00 run); a run missing a lead time stops at its fields.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import shapely
from pyproj import Transformer
from scipy.interpolate import RegularGridInterpolator

from landing_zone.defs.features.assets import FORECAST_CHECKS, catchment_forecast_forcings
from landing_zone.defs.features.forecast_forcings import RunFields, daily_cells, lead_days
from landing_zone.defs.features.zonal import (
    GridSpec,
    centroid_latitudes,
    extraterrestrial_radiation,
    oudin_pet,
)
from landing_zone.defs.forecasts.assets import grib_raw
from landing_zone.defs.forecasts.fields import grib_fields
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS
from landing_zone.defs.forecasts.raw_runs import partition_key
from platform_dev.sample_region.grib import STEPS_H, PlantedFaults, forecast_truth, write_forecast_runs
from platform_dev.sample_region.spec import RegionSpec
from shared.assets.landing_zone import (
    CATCHMENT_FORECAST_FORCINGS,
    CATCHMENT_PARTITIONS,
    DTM_CONSOLIDATED,
    FORECAST_RUNS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REGIONS,
)
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, PARQUET, AssetLocation, partition_dimensions
from shared.vectors.formats import read_geoparquet, write_geoparquet
from shared.vectors.geoframe import GeoFrame
from tests.catchments.conftest import run_chain, strategy_key
from tests.conftest import SAMPLE_SEED, TEST_BUCKET
from tests.forecasts.test_raw_runs import forecast_resources

REGION = "pilica"
CRS = "EPSG:2180"
DAY = dt.datetime(2023, 12, 11, tzinfo=dt.UTC)
"""Rain on the first two of its 00 run's lead days, and in the first six hours (which the 06 run lacks)."""
MIDNIGHT, MORNING, NOON = (DAY.replace(hour=hour) for hour in (0, 6, 12))
MISSING_STEP_H = 45
FAULTS = PlantedFaults(
    truncated_run=DAY.replace(hour=18),  # not written: only the gap run is broken here
    complete_messages=7,
    gap_run=NOON,
    missing_step_h=MISSING_STEP_H,
    late_run=DAY.replace(hour=18),
)
STEP = dt.timedelta(hours=STEPS_H[1])
LEAD_DAYS = 3
"""A 72 h horizon covers three whole UTC days from a 00 or a 06 UTC start."""
REACHES = {
    "a": (shapely.box(560_500, 363_000, 563_000, 365_500), "c"),
    "b": (shapely.box(563_000, 363_000, 565_500, 365_500), "c"),
    "c": (shapely.box(560_500, 360_500, 565_500, 363_000), None),
}
"""Reach catchments (EPSG:2180, the small region is 560-566 km E, 360-366 km N) and their downstream
reach: ``a`` and ``b`` drain into the outlet ``c``."""
PROGRESSIVE = {
    "a": REACHES["a"][0],
    "b": REACHES["b"][0],
    "c": shapely.box(560_500, 360_500, 565_500, 365_500),
}
OUTSIDE = shapely.box(564_000, 361_000, 568_000, 364_000)
"""The ``fill`` layer's only catchment: half of it east of the region's grid."""


def geo_layers(
    reaches: dict[str, tuple[shapely.Geometry, str | None]], progressive: dict[str, shapely.Geometry]
) -> tuple[GeoFrame, GeoFrame]:
    """Reach and progressive catchment layers with the columns the forcings read."""
    ids = list(reaches)
    downstream = [reaches[i][1] for i in ids]
    reach = GeoFrame.from_geometries(
        pl.DataFrame(
            {
                "reach_id": ids,
                "downstream_id": downstream,
                "area_km2": [reaches[i][0].area / 1e6 for i in ids],
            },
            schema_overrides={"downstream_id": pl.String},
        ),
        [reaches[i][0] for i in ids],
        CRS,
    )
    upstream = GeoFrame.from_geometries(
        pl.DataFrame(
            {
                "reach_id": ids,
                "downstream_id": downstream,
                "progressive_area_km2": [progressive[i].area / 1e6 for i in ids],
            },
            schema_overrides={"downstream_id": pl.String},
        ),
        [progressive[i] for i in ids],
        CRS,
    )
    return reach, upstream


def put_layer(storage: StorageResource, key: dg.AssetKey, strategy: str, layer: GeoFrame) -> None:
    partition = str(dg.MultiPartitionKey({"conditioning": strategy, "region": REGION}))
    location = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, partition)
    with storage.get_storage().writer(location.key(PARQUET)) as path:
        write_geoparquet(layer, path)


def store_inputs(storage: StorageResource, small_region: Path) -> None:
    """The region's DTM (the fields' analysis grid) and both strategies' catchment layers."""
    dtm = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG)
    storage.get_storage().put_file(small_region / "truth" / "dtm.tif", dtm)
    for strategy, layers in (
        ("burn_fill", geo_layers(REACHES, PROGRESSIVE)),
        ("fill", geo_layers({"x": (OUTSIDE, None)}, {"x": OUTSIDE})),
    ):
        put_layer(storage, REACH_CATCHMENTS, strategy, layers[0])
        put_layer(storage, PROGRESSIVE_CATCHMENTS, strategy, layers[1])


def forecast_key(run: dt.datetime, name: str = "part") -> str:
    location = AssetLocation.for_partition(CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS, partition_key(run))
    return location.key(PARQUET, name=name)


@dataclass
class Chain:
    """The module's materialisations, in order, and what storage held after some of them."""

    storage: StorageResource
    resources: dict
    scaled: pl.DataFrame
    """The 06 run's forecast forcings before the 00 run was stored."""
    refused: dg.ExecuteInProcessResult
    refused_published: bool
    refused_candidate: bool
    midnight: pl.DataFrame
    morning: dg.ExecuteInProcessResult
    gap_fields: dg.ExecuteInProcessResult
    gap_forcings: dg.ExecuteInProcessResult

    def table(self, run: dt.datetime) -> pl.DataFrame:
        with self.storage.get_storage().local_copy(forecast_key(run)) as path:
            return pl.read_parquet(path)


def fields(resources: dict, run: dt.datetime, resolution_m: float = 250.0) -> dg.ExecuteInProcessResult:
    """The run's raw file fetched, then its fields on the region's grid of ``resolution_m`` cells."""
    assert dg.materialize([grib_raw], partition_key=partition_key(run), resources=resources).success
    return dg.materialize(
        [grib_fields],
        partition_key=partition_key(run),
        resources=resources,
        raise_on_error=False,
        selection=[FORECAST_GRIB_FIELDS],
        run_config=dg.RunConfig({"forecast__grib__fields": {"config": {"resolution_m": resolution_m}}}),
    )


def forcings(resources: dict, run: dt.datetime, conditioning: str = "burn_fill") -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [catchment_forecast_forcings],
        partition_key=partition_key(run),
        resources=resources,
        raise_on_error=False,
        selection=[CATCHMENT_FORECAST_FORCINGS],
        run_config=dg.RunConfig(
            {"features__catchment_forecast_forcings": {"config": {"conditioning": conditioning}}}
        ),
    )


@pytest.fixture(scope="module")
def chain(seaweedfs, small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    storage = StorageResource(url=f"s3://{TEST_BUCKET}/forecast-forcings-{uuid.uuid4().hex[:8]}")
    folder = tmp_path_factory.mktemp("forecasts")
    write_forecast_runs(RegionSpec.for_size("small", SAMPLE_SEED), folder, [MIDNIGHT, MORNING, NOON], FAULTS)
    store_inputs(storage, small_region)
    resources = forecast_resources(storage, folder)
    store = storage.get_storage()
    assert fields(resources, MORNING).success
    assert forcings(resources, MORNING).success
    with store.local_copy(forecast_key(MORNING)) as path:
        scaled = pl.read_parquet(path)
    assert fields(resources, MIDNIGHT).success
    refused = forcings(resources, MIDNIGHT, conditioning="fill")
    refused_published = store.exists(forecast_key(MIDNIGHT))
    refused_candidate = store.exists(forecast_key(MIDNIGHT, "candidate"))
    assert forcings(resources, MIDNIGHT).success
    with store.local_copy(forecast_key(MIDNIGHT)) as path:
        midnight = pl.read_parquet(path)
    morning = forcings(resources, MORNING)
    gap_fields = fields(resources, NOON)
    return Chain(
        storage,
        resources,
        scaled,
        refused,
        refused_published,
        refused_candidate,
        midnight,
        morning,
        gap_fields,
        forcings(resources, NOON),
    )


# --- the truth: the generator's per-step fields averaged over each catchment ----------------------------


@dataclass(frozen=True)
class TrueSteps:
    """One run's true per-step catchment means: ``{catchment: (steps,)}`` of precipitation (per step) and
    temperature (C), and per catchment the (steps, points) temperatures for the daily extremes."""

    precipitation: dict[str, np.ndarray]
    temperature: dict[str, np.ndarray]
    temperature_points: dict[str, np.ndarray]


def points_in(polygon: shapely.Geometry, spacing_m: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of a dense lattice inside the polygon."""
    west, south, east, north = polygon.bounds
    x, y = np.meshgrid(
        np.arange(west + spacing_m / 2, east, spacing_m), np.arange(south + spacing_m / 2, north, spacing_m)
    )
    inside = shapely.contains_xy(polygon, x, y)
    return Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(x[inside], y[inside])


def true_steps(run: dt.datetime, catchments: dict[str, shapely.Geometry]) -> TrueSteps:
    """Precipitation as the model boxes' amounts (the conservative remapping's limit), temperature
    bilinear between grid points (as the fields interpolate it), averaged over each catchment."""
    truth = forecast_truth(RegionSpec.for_size("small", SAMPLE_SEED), run)
    lats, lons = truth.grid.lats, truth.grid.lons
    step_deg = lons[1] - lons[0]
    precipitation, temperature, points = {}, {}, {}
    for name, polygon in catchments.items():
        lon, lat = points_in(polygon)
        rows = np.rint((lats[0] - lat) / step_deg).astype(int)
        columns = np.rint((lon - lons[0]) / step_deg).astype(int)
        precipitation[name] = truth.precipitation_mm[:, rows, columns].mean(axis=1)
        values = np.stack(
            [
                RegularGridInterpolator((lats[::-1], lons), field[::-1] - 273.15)(np.column_stack([lat, lon]))
                for field in truth.temperature_k
            ]
        )
        temperature[name], points[name] = values.mean(axis=1), values
    return TrueSteps(precipitation, temperature, points)


def catchment_shapes(kind: str) -> dict[str, shapely.Geometry]:
    return {name: shape for name, (shape, _) in REACHES.items()} if kind == "reach" else PROGRESSIVE


def true_days(
    run: dt.datetime, earlier: dt.datetime | None, kind: str
) -> dict[tuple[str, int], dict[str, float]]:
    """``{(catchment, lead_day): variables}`` from the runs' true steps, day 1's early slots from
    ``earlier`` (None: scaled from the run's own slots), as the module docstring of the forcings says."""
    shapes = catchment_shapes(kind)
    own = true_steps(run, shapes)
    before = true_steps(earlier, shapes) if earlier else None
    first = DAY
    days = {}
    for name in shapes:
        for lead_day in range(1, LEAD_DAYS + 1):
            start = first + (lead_day - 1) * dt.timedelta(days=1)
            slots = [start + k * STEP for k in range(24 // STEPS_H[1])]
            amounts, samples = [], []
            for slot in slots:
                source, origin = (own, run) if slot >= run else (before, earlier)
                if source is None or origin is None:
                    continue
                index = (slot - origin) // STEP
                amounts.append(source.precipitation[name][index + 1])
                samples.append(source.temperature_points[name][index])
            stack = np.stack(samples)
            days[name, lead_day] = {
                "precipitation_mm": float(np.sum(amounts)) * len(slots) / len(amounts),
                "air_temperature_c": float(stack.mean()),
                "air_temperature_max_c": float(stack.max(axis=0).mean()),
                "air_temperature_min_c": float(stack.min(axis=0).mean()),
            }
    return days


def compare(table: pl.DataFrame, run: dt.datetime, earlier: dt.datetime | None) -> dict[str, float]:
    """Largest error per variable against the truth: precipitation relative to the day's amount, the
    temperatures in degrees."""
    errors: dict[str, list[float]] = {}
    for kind in ("reach", "progressive"):
        truth = true_days(run, earlier, kind)
        for row in table.filter(pl.col("catchment_kind") == kind).iter_rows(named=True):
            expected = truth[row["catchment_id"], row["lead_day"]]
            for variable, value in expected.items():
                error = abs(row[variable] - value)
                if variable == "precipitation_mm":
                    error /= max(value, 0.1)
                errors.setdefault(variable, []).append(error)
    return {variable: max(values) for variable, values in errors.items()}


PRECIPITATION_RELATIVE_ERROR = 0.01
"""The fields average model boxes onto 250 m cells (cells on a box edge mix two boxes) and the catchment
edges cut cells; on the generator's smooth fields that costs about 1e-4 of a day's amount (measured),
while a day's window shifted by one 3-hour step misses or adds a step's rain (tens of per cent on a wet
day)."""
TEMPERATURE_ERROR_C = 0.01
"""Bilinear at 250 m cell centres against bilinear at 25 m points: about 2e-4 C (measured); a window
shifted by one step moves the daily mean by a tenth of a degree or more."""


# --- the tests ------------------------------------------------------------------------------------------


def test_the_columns_are_the_contract(chain):
    table = chain.midnight
    assert table.columns[:7] == [
        "catchment_id",
        "catchment_kind",
        "date",
        "lead_day",
        "run_time",
        "area_km2",
        "outlet_id",
    ]
    assert table.columns[-2:] == ["earlier_run_hours", "scaled_hours"]
    variables = ["precipitation_mm", "air_temperature_c", "air_temperature_max_c", "air_temperature_min_c"]
    expected = {*variables, "pet_mm", *(f"{v}_valid_fraction" for v in variables)}
    assert set(table.columns[7:-2]) == expected
    assert table.schema["lead_day"] == pl.Int32 and table.schema["date"] == pl.Date
    assert table.schema["run_time"] == pl.Datetime("us", "UTC")
    assert table.height == 2 * len(REACHES) * LEAD_DAYS
    assert table["run_time"].unique().to_list() == [MIDNIGHT]
    for (catchment, kind), days in table.group_by("catchment_id", "catchment_kind"):
        assert days.sort("lead_day")["lead_day"].to_list() == [1, 2, 3], (catchment, kind)
        assert days.sort("lead_day")["date"].to_list() == [
            DAY.date() + dt.timedelta(days=d) for d in range(3)
        ]
    assert table.select(pl.col("^.*_valid_fraction$").min()).row(0) == pytest.approx((1.0,) * 4)
    outlets = dict(table.select("catchment_id", "outlet_id").unique().iter_rows())
    assert outlets == {"a": "c", "b": "c", "c": "c"}


def test_pet_is_oudin_of_the_catchment_mean_temperature(chain):
    table = chain.midnight.filter(pl.col("catchment_kind") == "progressive").sort("catchment_id", "date")
    shapes = [PROGRESSIVE[name] for name in table["catchment_id"]]
    dates = table["date"].to_list()
    radiation = np.diag(extraterrestrial_radiation(centroid_latitudes(np.asarray(shapes), CRS), dates))
    expected = oudin_pet(table["air_temperature_c"].to_numpy(), radiation)
    assert np.allclose(table["pet_mm"].to_numpy(), expected, rtol=1e-12)


def test_a_00_run_covers_its_days_by_itself_and_matches_the_truth(chain):
    table = chain.midnight
    assert table["earlier_run_hours"].unique().to_list() == [0.0]
    assert table["scaled_hours"].unique().to_list() == [0.0]
    errors = compare(table, MIDNIGHT, None)
    assert errors["precipitation_mm"] < PRECIPITATION_RELATIVE_ERROR, errors
    assert max(errors[v] for v in errors if v != "precipitation_mm") < TEMPERATURE_ERROR_C, errors
    assert table["precipitation_mm"].sum() > 0.0


def test_the_06_run_takes_its_first_six_hours_from_the_00_run(chain):
    assert chain.morning.success
    table = chain.table(MORNING)
    first, later = table.filter(pl.col("lead_day") == 1), table.filter(pl.col("lead_day") > 1)
    assert first["earlier_run_hours"].unique().to_list() == [6.0]
    assert first["scaled_hours"].unique().to_list() == [0.0]
    assert later.select("earlier_run_hours", "scaled_hours").unique().rows() == [(0.0, 0.0)]
    (event,) = chain.morning.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["earlier_run_hours"].value == {partition_key(MIDNIGHT): 6.0}
    assert metadata["scaled_hours"].value == 0.0
    assert metadata["lead_days"].value == [(DAY + dt.timedelta(days=d)).date().isoformat() for d in range(3)]
    assert metadata["region"].value == REGION and metadata["conditioning"].value == "burn_fill"
    errors = compare(table, MORNING, MIDNIGHT)
    assert errors["precipitation_mm"] < PRECIPITATION_RELATIVE_ERROR, errors
    assert max(errors[v] for v in errors if v != "precipitation_mm") < TEMPERATURE_ERROR_C, errors
    # the later days are the 06 run's own, whatever supplied day 1's first hours
    assert later.equals(chain.scaled.filter(pl.col("lead_day") > 1))


def test_a_06_run_without_an_earlier_run_scales_its_first_day(chain):
    table = chain.scaled
    first = table.filter(pl.col("lead_day") == 1)
    assert first.select("earlier_run_hours", "scaled_hours").unique().rows() == [(0.0, 6.0)]
    errors = compare(table, MORNING, None)
    assert errors["precipitation_mm"] < PRECIPITATION_RELATIVE_ERROR, errors
    assert max(errors[v] for v in errors if v != "precipitation_mm") < TEMPERATURE_ERROR_C, errors
    # the scaled day differs from the one completed by the 00 run: the scaling is not a no-op
    completed = chain.table(MORNING).filter(pl.col("lead_day") == 1)
    assert not np.allclose(first["precipitation_mm"].to_numpy(), completed["precipitation_mm"].to_numpy())


def test_every_check_passes_on_a_whole_run(chain):
    evaluations = chain.morning.get_asset_check_evaluations()
    assert sorted(e.check_name for e in evaluations) == sorted(check.name for check in FORECAST_CHECKS)
    assert all(e.passed for e in evaluations)


def test_a_run_missing_a_lead_time_gets_no_forecast_forcings(chain):
    assert not chain.gap_fields.success
    assert not chain.gap_forcings.success
    (failure,) = chain.gap_forcings.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None and "has no published fields" in error.message
    assert partition_key(NOON) in error.message
    assert not chain.storage.get_storage().exists(forecast_key(NOON))


def test_a_failing_check_publishes_nothing(chain):
    assert not chain.refused.success
    evaluations = {e.check_name: e for e in chain.refused.get_asset_check_evaluations()}
    covered = evaluations["forecast_forcings_catchments_covered"]
    assert not covered.passed
    assert chain.refused.get_asset_materialization_events() == []
    assert not chain.refused_published and chain.refused_candidate


# --- the real catchments on a coarser grid --------------------------------------------------------------

COARSE_M = 500.0
"""The fields on 500 m cells: the other analysis-grid size, against the delineated network's small reach
catchments (many smaller than a cell)."""
TRUTH_CATCHMENTS = 5
"""Progressive catchments compared with the truth, spread over the sizes from four 500 m cells to the
whole network (dense points in every catchment would cost more than the rest of the test)."""
SMALLEST_COMPARED_KM2 = 4 * (COARSE_M / 1000) ** 2
COARSE_TEMPERATURE_ERROR_C = 0.03
"""On 500 m cells a catchment of four cells averages four bilinear samples of the field: 0.008 C from the
dense-point mean (measured; 3e-4 of the day's rain for precipitation, within the 250 m tolerance)."""


@dataclass(frozen=True)
class RealChain:
    result: dg.ExecuteInProcessResult
    table: pl.DataFrame
    progressive: dict[str, shapely.Geometry]


@pytest.fixture(scope="module")
def real_chain(seaweedfs, small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> RealChain:
    """The catchments chain's burn_fill layers delineated from the region's DTM, the 00 run's fields on
    500 m cells, and its forecast forcings."""
    root = tmp_path_factory.mktemp("real-catchments")
    storage = StorageResource(url=f"s3://{TEST_BUCKET}/forecast-real-{uuid.uuid4().hex[:8]}")
    chain = run_chain(root, small_region, ("burn_fill",), storage=storage)
    assert all(run.success for run in chain.strategy_runs.values())
    folder = root / "forecasts"
    write_forecast_runs(RegionSpec.for_size("small", SAMPLE_SEED), folder, [MIDNIGHT])
    resources = forecast_resources(storage, folder)
    assert fields(resources, MIDNIGHT, COARSE_M).success
    result = forcings(resources, MIDNIGHT)
    store = storage.get_storage()
    with store.local_copy(forecast_key(MIDNIGHT)) as path:
        table = pl.read_parquet(path)
    partition = str(strategy_key("burn_fill"))
    key = AssetLocation.for_partition(PROGRESSIVE_CATCHMENTS, CATCHMENT_PARTITIONS, partition).key(PARQUET)
    with store.local_copy(key) as path:
        layer = read_geoparquet(path, key)
    shapes = dict(zip(layer.frame["reach_id"].to_list(), layer.geometries(), strict=True))
    return RealChain(result, table, shapes)


def test_the_delineated_network_passes_every_check_on_500_m_fields(real_chain):
    assert real_chain.result.success
    evaluations = real_chain.result.get_asset_check_evaluations()
    assert len(evaluations) == len(FORECAST_CHECKS) and all(e.passed for e in evaluations)
    table = real_chain.table
    assert set(table.filter(pl.col("catchment_kind") == "progressive")["catchment_id"]) == set(
        real_chain.progressive
    )
    assert table.group_by("catchment_id", "catchment_kind").len()["len"].unique().to_list() == [LEAD_DAYS]
    assert table.select(pl.col("^.*_valid_fraction$").min()).row(0) == pytest.approx((1.0,) * 4)


def test_catchments_of_every_size_match_the_truth_on_500_m_fields(real_chain):
    by_area = sorted(
        (shape.area, name)
        for name, shape in real_chain.progressive.items()
        if shape.area >= SMALLEST_COMPARED_KM2 * 1e6
    )
    picks = np.unique(np.linspace(0, len(by_area) - 1, TRUTH_CATCHMENTS).round().astype(int))
    chosen = {by_area[i][1]: real_chain.progressive[by_area[i][1]] for i in picks}
    assert len(chosen) == TRUTH_CATCHMENTS
    steps = true_steps(MIDNIGHT, chosen)
    table = real_chain.table.filter(pl.col("catchment_kind") == "progressive")
    for name in chosen:
        rows = table.filter(pl.col("catchment_id") == name).sort("lead_day")
        for lead_day, row in enumerate(rows.iter_rows(named=True), start=1):
            window = slice(8 * (lead_day - 1), 8 * lead_day)
            rain = steps.precipitation[name][1:][window].sum()
            temperature = steps.temperature[name][window].mean()
            assert abs(row["precipitation_mm"] - rain) <= PRECIPITATION_RELATIVE_ERROR * max(rain, 0.1), name
            assert abs(row["air_temperature_c"] - temperature) <= COARSE_TEMPERATURE_ERROR_C, name


# --- which run each slot comes from (no storage: runs made in memory) ----------------------------------

GRID = GridSpec(west=0.0, north=0.0, cell=250.0, height=1, width=1)


def run_in_memory(start: dt.datetime, grid: GridSpec = GRID) -> RunFields:
    """A 72 h run of 3-hourly slots whose values are the run's start hour plus the slot's lead in days:
    each slot tells which run it came from."""
    slots = [start + k * STEP for k in range(72 // STEPS_H[1])]
    tag = {slot: np.full((1, 1), start.hour + (slot - start) / dt.timedelta(days=1)) for slot in slots}
    return RunFields(start, f"memory:{start:%d %H}", grid, CRS, STEP, tag, tag)


def sources_of(run: RunFields, stored: dict[dt.datetime, RunFields]) -> dict[int, list[str]]:
    """Per lead day, the run (``dd HH``) each slot comes from, ``-`` where none."""
    days = lead_days(run, stored.get)
    return {
        day.lead_day: [source.source[7:] if source else "-" for source in day.sources.values()]
        for day in days
    }


def test_each_early_slot_comes_from_the_newest_earlier_run_holding_it():
    noon = run_in_memory(NOON)
    stored = {start: run_in_memory(start) for start in (MIDNIGHT, MORNING)}
    days = sources_of(noon, stored)
    assert days[1] == ["11 00"] * 2 + ["11 06"] * 2 + ["11 12"] * 4
    assert days[2] == days[3] == ["11 12"] * 8
    assert len(days) == LEAD_DAYS


def test_a_run_of_the_day_before_covers_the_early_hours_when_the_days_runs_are_missing():
    evening = run_in_memory(DAY.replace(hour=18))
    yesterday = DAY - dt.timedelta(days=1)
    stored = {yesterday.replace(hour=18): run_in_memory(yesterday.replace(hour=18))}
    assert sources_of(evening, stored)[1] == ["10 18"] * 6 + ["11 18"] * 2


def test_no_stored_run_scales_the_day_and_a_run_on_another_grid_is_passed_over():
    morning = run_in_memory(MORNING)
    coarse = GridSpec(west=0.0, north=0.0, cell=500.0, height=1, width=1)
    (day, *_) = lead_days(morning, {MIDNIGHT: run_in_memory(MIDNIGHT, coarse)}.get)
    assert day.hours(STEP, MORNING) == (0.0, 6.0)
    cells = daily_cells(day, STEP)
    own = [morning.precipitation[slot][0, 0] for slot in day.sources if slot >= MORNING]
    assert cells["precipitation_mm"][0, 0] == pytest.approx(sum(own) * 24 / 18)
    assert cells["air_temperature_c"][0, 0] == pytest.approx(np.mean(own))
