"""``features/catchment_vegetation`` materialised through Dagster on the small sample region's burn_fill
progressive catchments, with synthetic NDVI composites stored where ``satellite/ndvi`` stores them.

Each month's NDVI is a constant plus a west-east ramp, ``c + SLOPE * (x - west)``, at 10 m and at 30 m.
The coverage-weighted mean of a linear field over a polygon is the field at the polygon's centroid, up
to the half cell by which a partly covered cell's centre can miss the covered part's centroid: that is
the tolerance. One month is nodata west of a cut (its catchments there have no mean), one registered
month has no composite and one has a composite in the wrong CRS (both skipped with their reasons).
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from landing_zone.defs.features.assets import catchment_vegetation
from landing_zone.defs.features.checks import catchment_vegetation_sql_checks
from landing_zone.defs.features.keys import CATCHMENT_VEGETATION
from landing_zone.defs.features.vegetation import MIN_VALID_FRACTION, VEGETATION_SCHEMA, vegetation_table
from landing_zone.defs.satellite.keys import SATELLITE_MONTHS, SATELLITE_NDVI, SATELLITE_PARTITIONS
from shared.assets.landing_zone import (
    CATCHMENT_PARTITIONS,
    PROGRESSIVE_CATCHMENTS,
    REGIONS,
)
from shared.publication import CandidateRejected
from shared.resources.platform import platform_resources
from shared.storage.layout import COG, PARQUET, AssetLocation
from shared.vectors.formats import read_geoparquet
from shared.vectors.geoframe import GeoFrame
from tests.catchments.conftest import REGION, Chain, run_chain, strategy_key

STRATEGY = "burn_fill"
NODATA = -9999.0
SLOPE_SPAN = 0.2
"""NDVI the ramp adds from the region's west edge to its east edge."""
CONSTANTS = {"2023-07": 0.3, "2023-08": 0.7, "2023-09": -0.2}
"""Each stored month's constant; 2023-09 is nodata west of the cut."""
MISSING, WRONG_CRS = "2023-10", "2023-11"
"""Registered months without a usable composite."""
WEST_NODATA_SHARE = 0.7
"""2023-09 is nodata on this share of the region's width from the west: mostly nodata."""
RESOLUTIONS = (10.0, 30.0)


@dataclass(frozen=True)
class Frame:
    """The composites' common extent: the DTM's bounds snapped outward to 30 m (so to 10 m too)."""

    west: float
    south: float
    east: float
    north: float

    @property
    def slope(self) -> float:
        return SLOPE_SPAN / (self.east - self.west)

    @property
    def cut(self) -> float:
        return self.west + round(WEST_NODATA_SHARE * (self.east - self.west) / 30.0) * 30.0


@dataclass
class Materialised:
    result: dg.ExecuteInProcessResult
    table: pl.DataFrame


@dataclass
class Setup:
    chain: Chain
    catchments: GeoFrame
    frame: Frame
    runs: dict[float, Materialised]


def ndvi_key(month: str) -> str:
    return AssetLocation(SATELLITE_NDVI.path, {"month": month, "region": REGION}).key(COG)


def write_composite(path: Path, frame: Frame, resolution: float, month: str, crs: str = "EPSG:2180") -> None:
    """A two-band float32 composite as the contract lays it out: NDVI (nodata -9999) and the count of
    observations (0 where none)."""
    import rasterio
    from rasterio.transform import from_origin

    width = round((frame.east - frame.west) / resolution)
    height = round((frame.north - frame.south) / resolution)
    x = frame.west + (np.arange(width) + 0.5) * resolution
    ndvi = np.broadcast_to(CONSTANTS[month] + frame.slope * (x - frame.west), (height, width)).copy()
    if month == "2023-09":
        ndvi[:, x < frame.cut] = NODATA
    observations = np.where(ndvi == NODATA, 0.0, 3.0)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 2,
        "dtype": "float32",
        "crs": crs,
        "transform": from_origin(frame.west, frame.north, resolution, resolution),
        "nodata": NODATA,
        "tiled": True,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as out:
        out.write(ndvi.astype(np.float32), 1)
        out.write(observations.astype(np.float32), 2)
        out.set_band_description(1, "ndvi")
        out.set_band_description(2, "valid_observations")


def dtm_frame(region: Path) -> Frame:
    import rasterio

    with rasterio.open(region / "truth" / "dtm.tif") as dtm:
        b = dtm.bounds
    return Frame(
        np.floor(b.left / 30) * 30,
        np.floor(b.bottom / 30) * 30,
        np.ceil(b.right / 30) * 30,
        np.ceil(b.top / 30) * 30,
    )


def materialise(chain: Chain, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [
            dg.AssetSpec(PROGRESSIVE_CATCHMENTS, partitions_def=CATCHMENT_PARTITIONS),
            dg.AssetSpec(SATELLITE_NDVI, partitions_def=SATELLITE_PARTITIONS),
            catchment_vegetation,
        ],
        instance=instance,
        resources=platform_resources(chain.storage),
        partition_key=REGION,
        selection=[CATCHMENT_VEGETATION],
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def setup(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    chain = run_chain(tmp_path_factory.mktemp("vegetation"), small_region, (STRATEGY,))
    store = chain.storage.get_storage()
    object_key = AssetLocation.for_partition(
        PROGRESSIVE_CATCHMENTS, CATCHMENT_PARTITIONS, str(strategy_key(STRATEGY))
    ).key(PARQUET)
    with store.local_copy(object_key) as path:
        catchments = read_geoparquet(path, object_key)
    frame = dtm_frame(small_region)
    chain.instance.add_dynamic_partitions(SATELLITE_MONTHS.name or "", [*CONSTANTS, MISSING, WRONG_CRS])
    scratch = tmp_path_factory.mktemp("composites")
    runs = {}
    for resolution in RESOLUTIONS:
        for month in CONSTANTS:
            write_composite(scratch / f"{month}.tif", frame, resolution, month)
            store.put_file(scratch / f"{month}.tif", ndvi_key(month))
        write_composite(scratch / "utm.tif", frame, resolution, "2023-07", crs="EPSG:32634")
        store.put_file(scratch / "utm.tif", ndvi_key(WRONG_CRS))
        result = materialise(chain, chain.instance)
        runs[resolution] = Materialised(result, published_table(chain))
    return Setup(chain, catchments, frame, runs)


def published_table(chain: Chain) -> pl.DataFrame:
    location = AssetLocation.for_partition(CATCHMENT_VEGETATION, REGIONS, REGION)
    with chain.storage.get_storage().local_copy(location.key(PARQUET)) as path:
        return pl.read_parquet(path)


def expected_month(setup: Setup, month: str, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """(valid fraction, mean or NaN) of every catchment, layer order, computed from the polygons."""
    import shapely

    frame = setup.frame
    polygons = setup.catchments.geometries()
    if month == "2023-09":
        east = shapely.box(frame.cut, frame.south - 1, frame.east + 1, frame.north + 1)
        parts = shapely.intersection(polygons, east)
    else:
        parts = polygons
    fraction = shapely.area(parts) / shapely.area(polygons)
    centroid_x = np.full(len(parts), np.nan)
    present = ~shapely.is_empty(parts)
    centroid_x[present] = shapely.get_x(shapely.centroid(parts[present]))
    mean = CONSTANTS[month] + frame.slope * (centroid_x - frame.west)
    return fraction, np.where(fraction >= MIN_VALID_FRACTION, mean, np.nan)


def rows_of(setup: Setup, resolution: float, month: str) -> pl.DataFrame:
    """The table's rows of ``month`` in the catchment layer's order."""
    ids = setup.catchments.frame.select(pl.col("reach_id").alias("catchment_id"))
    table = setup.runs[resolution].table.filter(pl.col("month") == dt.date.fromisoformat(f"{month}-01"))
    return ids.join(table, on="catchment_id", how="left", maintain_order="left")


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_every_check_passes_and_the_months_are_recorded(setup: Setup, resolution: float) -> None:
    run = setup.runs[resolution]
    assert run.result.success
    evaluations = {e.check_name: e for e in run.result.get_asset_check_evaluations()}
    assert set(evaluations) == {check.name for check in catchment_vegetation_sql_checks()}
    assert all(e.passed for e in evaluations.values())
    metadata = run.result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["conditioning"].value == STRATEGY
    assert metadata["months_used"].value == sorted(CONSTANTS)
    skipped = metadata["months_skipped"].value
    assert isinstance(skipped, dict)
    assert set(skipped) == {MISSING, WRONG_CRS}
    assert "no composite at" in skipped[MISSING] and ndvi_key(MISSING) in skipped[MISSING]
    assert "CRS EPSG:32634 is not the catchments' EPSG:2180" in skipped[WRONG_CRS]
    assert run.table.schema == pl.Schema(VEGETATION_SCHEMA)
    assert run.table.height == setup.catchments.frame.height * len(CONSTANTS)
    assert metadata["rows"].value == run.table.height


@pytest.mark.parametrize("resolution", RESOLUTIONS)
@pytest.mark.parametrize("month", sorted(CONSTANTS))
def test_means_and_valid_fractions_follow_the_field(setup: Setup, resolution: float, month: str) -> None:
    fraction, mean = expected_month(setup, month, resolution)
    rows = rows_of(setup, resolution, month)
    tolerance = setup.frame.slope * resolution / 2 + 1e-6
    np.testing.assert_allclose(rows["ndvi_valid_fraction"], fraction, atol=1e-6)
    got = rows["ndvi_mean"].fill_null(np.nan).to_numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(mean))
    np.testing.assert_allclose(got, mean, atol=tolerance, equal_nan=True)


def test_the_mostly_nodata_month_nulls_the_catchments_mostly_in_it(setup: Setup) -> None:
    """The cut leaves catchments on both sides: some get no mean, some a mean of their eastern part."""
    fraction, _ = expected_month(setup, "2023-09", RESOLUTIONS[0])
    assert (fraction < MIN_VALID_FRACTION).any() and (fraction >= MIN_VALID_FRACTION).any()
    rows = rows_of(setup, RESOLUTIONS[0], "2023-09")
    assert rows.filter(pl.col("ndvi_valid_fraction") < MIN_VALID_FRACTION)["ndvi_mean"].null_count() == (
        (fraction < MIN_VALID_FRACTION).sum()
    )


@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_amplitude_and_months_observed(setup: Setup, resolution: float) -> None:
    means = np.column_stack([expected_month(setup, month, resolution)[1] for month in sorted(CONSTANTS)])
    observed = np.isfinite(means).sum(axis=1)
    amplitude = np.nanmax(means, axis=1) - np.nanmin(means, axis=1)
    rows = rows_of(setup, resolution, "2023-07")
    tolerance = setup.frame.slope * resolution + 1e-6
    np.testing.assert_array_equal(rows["ndvi_months_observed"], observed)
    np.testing.assert_allclose(rows["ndvi_seasonal_amplitude"], amplitude, atol=tolerance)
    # July and August share the ramp's weights exactly: where September has no mean, only they count
    two_months = observed == 2
    assert two_months.any() and (~two_months).any()
    np.testing.assert_allclose(rows["ndvi_seasonal_amplitude"].to_numpy()[two_months], 0.4, atol=1e-9)


def test_a_composite_out_of_range_fails_its_check_and_is_not_published(setup: Setup, tmp_path: Path) -> None:
    chain, store = setup.chain, setup.chain.storage.get_storage()
    before = published_table(chain)
    month = "2024-01"
    path = tmp_path / "bright.tif"
    write_composite(path, setup.frame, 30.0, "2023-07")
    import rasterio

    with rasterio.open(path, "r+") as dataset:
        dataset.write(np.full(dataset.shape, 1.5, dtype=np.float32), 1)
    store.put_file(path, ndvi_key(month))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SATELLITE_MONTHS.name or "", [month])
    result = materialise(chain, instance)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["vegetation_ndvi_mean_within_range"].passed
    assert evaluations["vegetation_valid_fraction_within_0_1"].passed
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and failure.cls_name == CandidateRejected.__name__
    assert published_table(chain).equals(before)


def test_no_usable_month_is_a_clear_error(setup: Setup) -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SATELLITE_MONTHS.name or "", [MISSING])
    result = materialise(setup.chain, instance)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert "no usable NDVI composite" in failure.message and ndvi_key(MISSING) in failure.message


def test_one_observed_month_has_no_amplitude() -> None:
    month = [dt.date(2023, 7, 1), dt.date(2023, 8, 1)]
    frames = [
        pl.DataFrame(
            {
                "catchment_id": ["a", "b"],
                "month": [day, day],
                "ndvi_mean": [0.2 if day.month == 7 else 0.6, None if day.month == 7 else 0.5],
                "ndvi_valid_fraction": [1.0, 0.1 if day.month == 7 else 1.0],
            }
        )
        for day in month
    ]
    table = vegetation_table(frames)
    assert table.schema == pl.Schema(VEGETATION_SCHEMA)
    by_id = {row["catchment_id"]: row for row in table.filter(pl.col("month") == month[1]).to_dicts()}
    assert by_id["a"]["ndvi_seasonal_amplitude"] == pytest.approx(0.4)
    assert by_id["a"]["ndvi_months_observed"] == 2
    assert by_id["b"]["ndvi_seasonal_amplitude"] is None
    assert by_id["b"]["ndvi_months_observed"] == 1


def test_the_amplitude_is_the_range_of_the_climatology(tmp_path: Path) -> None:
    """Two Julys count as one July, their mean: ``a``'s Julys 0.2 and 0.4 make July 0.3, so with August
    0.7 its amplitude is 0.4, not the 0.5 of its rows' range. ``b`` has a mean in two months, both Julys:
    one calendar month, no amplitude; the checks accept that and reject an amplitude there."""
    from shared.resources.duckdb_checks import DuckDBChecksResource
    from shared.resources.storage import StorageResource

    means = {
        dt.date(2023, 7, 1): (0.2, 0.2),
        dt.date(2023, 8, 1): (0.7, None),
        dt.date(2024, 7, 1): (0.4, 0.6),
    }
    frames = [
        pl.DataFrame(
            {
                "catchment_id": ["a", "b"],
                "month": [month, month],
                "ndvi_mean": list(values),
                "ndvi_valid_fraction": [1.0, 1.0 if values[1] is not None else 0.2],
            }
        )
        for month, values in means.items()
    ]
    table = vegetation_table(frames)
    by_id = {
        row["catchment_id"]: row for row in table.filter(pl.col("month") == dt.date(2024, 7, 1)).to_dicts()
    }
    assert by_id["a"]["ndvi_seasonal_amplitude"] == pytest.approx(0.4)
    assert by_id["a"]["ndvi_months_observed"] == 3
    assert by_id["b"]["ndvi_seasonal_amplitude"] is None
    assert by_id["b"]["ndvi_months_observed"] == 2
    duckdb = DuckDBChecksResource(storage=StorageResource(url=str(tmp_path)))
    checks = catchment_vegetation_sql_checks(["a", "b"])
    assert all(result.passed for result in duckdb.check_frame(CATCHMENT_VEGETATION, checks, table))
    given = table.with_columns(
        ndvi_seasonal_amplitude=pl.when(pl.col("catchment_id") == "b")
        .then(0.4)
        .otherwise(pl.col("ndvi_seasonal_amplitude"))
    )
    results = {r.check_name: r for r in duckdb.check_frame(CATCHMENT_VEGETATION, checks, given)}
    assert {name for name, result in results.items() if not result.passed} == {
        "vegetation_amplitude_within_range"
    }


def test_the_checks_catch_a_missing_catchment_a_duplicate_and_an_impossible_amplitude(tmp_path: Path) -> None:
    """The table-only checks on a hand-made table: catchment ``c`` of the layer is missing, ``a`` has
    July twice, ``b`` an amplitude NDVI cannot have (and ids with quotes and braces stay literals)."""
    from shared.resources.duckdb_checks import DuckDBChecksResource
    from shared.resources.storage import StorageResource

    july, august = dt.date(2023, 7, 1), dt.date(2023, 8, 1)
    table = pl.DataFrame(
        {
            "catchment_id": ["a", "a", "a", "b'{x}", "b'{x}"],
            "month": [july, july, august, july, august],
            "ndvi_mean": [0.2, 0.2, 0.6, -0.9, 1.0],
            "ndvi_valid_fraction": [1.0, 1.0, 1.0, 1.0, 1.0],
            "ndvi_seasonal_amplitude": [0.4, 0.4, 0.4, 2.5, 2.5],
            "ndvi_months_observed": [2, 2, 2, 2, 2],
        },
        schema=VEGETATION_SCHEMA,
    )
    duckdb = DuckDBChecksResource(storage=StorageResource(url=str(tmp_path)))
    checks = catchment_vegetation_sql_checks(["a", "b'{x}", "c"])
    results = {r.check_name: r for r in duckdb.check_frame(CATCHMENT_VEGETATION, checks, table)}
    failed = {name for name, result in results.items() if not result.passed}
    assert failed == {
        "vegetation_every_catchment_present",
        "vegetation_one_row_per_catchment_and_month",
        "vegetation_amplitude_within_range",
    }
    missing = results["vegetation_every_catchment_present"].metadata["offending_values"].value
    assert missing == [{"catchment_id": "c"}]
