"""``discharge_model/gauge_catchments`` and ``discharge_model/training_data`` materialised through Dagster
on the small sample region's five gauges (inputs in ``platform_dev.training_inputs``): the zip's layout is the
registry's contract, its series and attributes are the inputs', its ``dataset.json`` names the bytes it
was built from; and each bad input of issue 15 (a basin without target, an attribute NaN, a forcing
column renamed upstream) stops the run at a blocking check naming the basin and column, with the
published dataset left byte for byte as it was."""

import datetime as dt
import hashlib
import io
import json
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import pytest
import xarray as xr

from discharge_model.defs.training_data.checks import GAUGE_CHECKS, TRAINING_CHECKS
from discharge_model.defs.training_data.columns import FORCING_INPUTS, STATIC_ATTRIBUTES
from discharge_model.defs.training_data.definitions import training_data_definitions
from discharge_model.defs.training_data.target import VALID_FLAGS, specific_discharge
from platform_dev.training_inputs import (
    REGION,
    Network,
    put_table,
    read_stored,
    store_inputs,
)
from shared.assets.discharge_model import (
    GAUGE_CATCHMENTS,
    TRAINING_DATA,
    TRAINING_DATASET_EXT,
    TRAINING_DATASET_NAME,
)
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CLIMATIC_INDICES,
    HYDRO_POLISHED,
    REGIONS,
)
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import PARQUET, AssetLocation
from tests.discharge_model.dagster_results import assets_of, failure_message, offending_rows

LOCATION = AssetLocation.for_partition(TRAINING_DATA, REGIONS, REGION)
DATASET_KEY = LOCATION.key(TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME)
CANDIDATE_KEY = LOCATION.key(TRAINING_DATASET_EXT, name="candidate")
FIRST_DAY, LAST_DAY = dt.date(2018, 1, 1), dt.date(2023, 12, 31)


@dataclass
class Published:
    storage: StorageResource
    network: Network
    result: dg.ExecuteInProcessResult
    archive: bytes

    def member(self, name: str) -> bytes:
        with zipfile.ZipFile(io.BytesIO(self.archive)) as archive:
            return archive.read(name)

    @property
    def manifest(self) -> dict:
        return json.loads(self.member("dataset.json"))


def materialise(
    storage: StorageResource, selection: list[dg.AssetKey], config: dict | None = None
) -> dg.ExecuteInProcessResult:
    run_config = {"ops": {"discharge_model__training_data": {"config": config}}} if config else None
    return dg.materialize(
        assets_of(training_data_definitions()),
        resources=platform_resources(storage),
        partition_key=REGION,
        selection=selection,
        run_config=run_config,
        raise_on_error=False,
    )


@pytest.fixture(scope="module")
def published(small_region: Path, manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> Published:
    storage = StorageResource(url=str(tmp_path_factory.mktemp("training-data") / "storage"))
    network = store_inputs(storage, small_region, manifest)
    result = materialise(storage, [GAUGE_CATCHMENTS, TRAINING_DATA])
    assert result.success
    return Published(storage, network, result, storage.get_storage().get_bytes(DATASET_KEY))


def test_every_check_passes_and_the_summary_covers_each_period(published: Published) -> None:
    evaluations = {e.check_name: e for e in published.result.get_asset_check_evaluations()}
    assert set(evaluations) == {c.name for c in (*GAUGE_CHECKS, *TRAINING_CHECKS)}
    assert all(e.passed for e in evaluations.values())
    summary = read_stored(published.storage, TRAINING_DATA)
    assert summary.columns == [
        "basin",
        "catchment_id",
        "area_km2",
        "match_distance_m",
        "coverage_train",
        "coverage_validation",
        "coverage_test",
    ]
    assert summary["basin"].to_list() == sorted(published.network.gauge_reach)
    # the provider's files miss a few percent of days (planted gaps, rejected glitches), not more; in the
    # validation quarter one planted gap of two weeks is already a sixth of the days
    for period, least in (("train", 0.9), ("validation", 0.8), ("test", 0.9)):
        assert summary[f"coverage_{period}"].is_between(least, 1.0).all(), summary


def test_the_zip_holds_exactly_the_contract_layout(published: Published) -> None:
    basins = sorted(published.network.gauge_reach)
    with zipfile.ZipFile(io.BytesIO(published.archive)) as archive:
        names = set(archive.namelist())
    assert names == {
        "attributes/attributes.csv",
        "basins.txt",
        "dataset.json",
        *(f"time_series/{basin}.nc" for basin in basins),
    }
    assert published.member("basins.txt").decode().splitlines() == basins


def test_each_basin_series_is_daily_contiguous_float_with_every_input(
    published: Published, tmp_path: Path
) -> None:
    manifest = published.manifest
    variables = [*FORCING_INPUTS, "discharge_mm"]
    assert manifest["dynamic_inputs"] == FORCING_INPUTS and manifest["target"] == "discharge_mm"
    for basin in published.network.gauge_reach:
        path = tmp_path / f"{basin}.nc"
        path.write_bytes(published.member(f"time_series/{basin}.nc"))
        with xr.open_dataset(path) as series:
            assert list(series.coords) == ["date"] and series["date"].dtype == np.dtype("datetime64[ns]")
            dates = series["date"].values
            assert dates[0] == np.datetime64(FIRST_DAY) and dates[-1] == np.datetime64(LAST_DAY)
            assert (np.diff(dates) == np.timedelta64(1, "D")).all()
            assert sorted(map(str, series.data_vars)) == sorted(variables)
            assert all(series[v].dtype == np.float32 for v in variables)
            frame = series.to_dataframe()  # what NeuralHydrology's generic loader does
        assert not frame[FORCING_INPUTS].isna().any().any()
        assert 0.9 < frame["discharge_mm"].notna().mean() < 1.0


def test_the_target_is_specific_discharge_of_valid_polished_values_only(
    published: Published, small_region: Path, manifest: dict, tmp_path: Path
) -> None:
    polished = read_stored(published.storage, HYDRO_POLISHED, None)
    truth = pl.read_parquet(small_region / manifest["stations"]["clean_series"])
    for basin, reach in published.network.gauge_reach.items():
        area = published.network.area_km2[reach]
        path = tmp_path / f"{basin}.nc"
        path.write_bytes(published.member(f"time_series/{basin}.nc"))
        with xr.open_dataset(path) as series:
            ours = pl.DataFrame(
                {"date": series["date"].values.astype("datetime64[D]"), "ours": series["discharge_mm"].values}
            ).with_columns(pl.col("date").cast(pl.Date), pl.col("ours").cast(pl.Float64).fill_nan(None))
        rows = polished.filter((pl.col("station") == basin) & (pl.col("variable") == "discharge_m3s"))
        joined = ours.join(rows.with_columns(date=pl.col("time").dt.date()), on="date", how="left")
        valid = joined.filter(pl.col("flag").is_in(VALID_FLAGS))
        np.testing.assert_allclose(valid["ours"], valid["value"] * 86.4 / area, rtol=1e-6)
        assert (
            joined.filter(~pl.col("flag").is_in(VALID_FLAGS))["ours"].null_count()
            == joined.height - valid.height
        )
        # and against the generator's clean discharge (the provider's readings carry ~2 % noise): a wrong
        # area, unit or gauge would be off by far more
        clean = truth.filter((pl.col("station") == basin) & (pl.col("variable") == "discharge_m3s"))
        both = valid.join(clean.rename({"value": "clean"}), on="date")
        relative = (both["ours"] / (both["clean"] * 86.4 / area) - 1).abs()
        assert float(np.median(relative.to_numpy())) < 0.05, basin


def test_attributes_csv_holds_each_basin_catchment_attributes(published: Published) -> None:
    attributes = pd.read_csv(io.BytesIO(published.member("attributes/attributes.csv")), dtype={0: str})
    assert list(attributes.columns) == ["gauge_id", *STATIC_ATTRIBUTES]
    assert attributes["gauge_id"].tolist() == sorted(published.network.gauge_reach)
    inputs = read_stored(published.storage, CATCHMENT_ATTRIBUTES).join(
        read_stored(published.storage, CLIMATIC_INDICES), on="catchment_id"
    )
    for row in attributes.to_dict("records"):
        expected = inputs.filter(pl.col("catchment_id") == published.network.gauge_reach[row["gauge_id"]])
        for column in STATIC_ATTRIBUTES:
            assert row[column] == pytest.approx(expected[column][0], rel=1e-12), (row["gauge_id"], column)


def test_dataset_json_names_the_periods_and_the_bytes_of_every_input(published: Published) -> None:
    manifest = published.manifest
    assert manifest["periods"] == {
        "train": ["2018-01-01", "2021-09-30"],
        "validation": ["2021-10-01", "2021-12-31"],
        "test": ["2022-01-01", "2023-12-31"],
    }
    assert manifest["static_attributes"] == STATIC_ATTRIBUTES
    assert manifest["gauge_catchments"] == published.network.gauge_reach
    store = published.storage.get_storage()
    expected = {}
    for key, partitions in (
        (GAUGE_CATCHMENTS, REGIONS),
        (CATCHMENT_FORCINGS, REGIONS),
        (CATCHMENT_ATTRIBUTES, REGIONS),
        (CLIMATIC_INDICES, REGIONS),
        (HYDRO_POLISHED, None),
    ):
        location = AssetLocation.for_partition(key, partitions, REGION if partitions else None)
        digest = hashlib.sha256(store.get_bytes(location.key(PARQUET))).hexdigest()
        expected[key.to_user_string()] = f"sha256:{digest}"
    assert manifest["input_versions"] == expected
    (event,) = [
        e for e in published.result.get_asset_materialization_events() if e.asset_key == TRAINING_DATA
    ]
    metadata = event.materialization.metadata
    assert metadata["input_versions"].value == expected
    assert metadata["dataset_version"].value == f"sha256:{hashlib.sha256(published.archive).hexdigest()}"


def test_specific_discharge_is_86_4_over_the_area() -> None:
    polished = pl.DataFrame(
        {
            "station": ["g", "g", "g"],
            "time": [dt.datetime(2020, 1, d, tzinfo=dt.UTC) for d in (1, 2, 3)],
            "variable": ["discharge_m3s"] * 3,
            "value": [1.0, 2.0, 5.0],
            "flag": ["ok", "imputed", "rejected"],
        }
    )
    table = specific_discharge(polished, {"g": 86.4}, dt.date(2020, 1, 1), dt.date(2020, 1, 3))
    assert table["discharge_mm"].to_list() == [1.0, 2.0, None]


# --- bad inputs: each stops the run at a blocking check; the published dataset stays as it was ----------

Breaker = Callable[[StorageResource, Network], tuple[str, str]]
"""Breaks one input in the storage; returns the basin and column a check must name."""


def broken_copy(published: Published, tmp_path: Path) -> StorageResource:
    """The published storage root copied, so each bad input starts from the same good state."""
    shutil.copytree(published.storage.url, tmp_path / "storage")
    return StorageResource(url=str(tmp_path / "storage"))


def all_target_missing(storage: StorageResource, network: Network) -> tuple[str, str]:
    basin = "150190012"
    polished = read_stored(storage, HYDRO_POLISHED, None)
    discharge = (pl.col("station") == basin) & (pl.col("variable") == "discharge_m3s")
    put_table(
        storage,
        HYDRO_POLISHED,
        polished.with_columns(
            value=pl.when(discharge).then(None).otherwise(pl.col("value")),
            flag=pl.when(discharge).then(pl.lit("missing")).otherwise(pl.col("flag")),
        ),
        None,
    )
    return basin, "discharge_mm"


def attribute_nan(storage: StorageResource, network: Network) -> tuple[str, str]:
    basin, column = "150190013", "elevation_mean_m"
    table = read_stored(storage, CATCHMENT_ATTRIBUTES)
    reach = network.gauge_reach[basin]
    put_table(
        storage,
        CATCHMENT_ATTRIBUTES,
        table.with_columns(
            pl.when(pl.col("catchment_id") == reach)
            .then(float("nan"))
            .otherwise(pl.col(column))
            .alias(column)
        ),
        REGION,
    )
    return basin, column


def renamed_forcing(storage: StorageResource, network: Network) -> tuple[str, str]:
    table = read_stored(storage, CATCHMENT_FORCINGS)
    put_table(storage, CATCHMENT_FORCINGS, table.rename({"precipitation_mm": "precip_mm"}), REGION)
    return "150190010", "precipitation_mm"


def pressure_in_pascal(storage: StorageResource, network: Network) -> tuple[str, str]:
    table = read_stored(storage, CATCHMENT_FORCINGS)
    put_table(storage, CATCHMENT_FORCINGS, table.with_columns(pl.col("air_pressure_hpa") * 100), REGION)
    return "150190011", "air_pressure_hpa"


def forcing_days_missing(storage: StorageResource, network: Network) -> tuple[str, str]:
    basin = "150190014"
    table = read_stored(storage, CATCHMENT_FORCINGS)
    gap = (pl.col("catchment_id") == network.gauge_reach[basin]) & (
        pl.col("date").dt.strftime("%Y-%m") == "2022-03"
    )
    put_table(storage, CATCHMENT_FORCINGS, table.filter(~gap), REGION)
    return basin, "air_pressure_hpa"  # every column misses the month; the first one in the description


def forcings_of_other_catchments(storage: StorageResource, network: Network) -> tuple[str, str]:
    table = read_stored(storage, CATCHMENT_FORCINGS)
    put_table(storage, CATCHMENT_FORCINGS, table.with_columns(pl.col("area_km2") * 1.1), REGION)
    return "150190012", "area_km2"


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("breaks", "check"),
    [
        (all_target_missing, "target_coverage"),
        (attribute_nan, "static_attributes_complete"),
        (renamed_forcing, "expected_columns_present"),
        (pressure_in_pascal, "units_consistent"),
        (forcing_days_missing, "dynamic_inputs_complete"),
        (forcings_of_other_catchments, "catchment_areas_agree"),
    ],
)
def test_a_bad_input_stops_the_run_naming_basin_and_column(
    published: Published, tmp_path: Path, breaks: Breaker, check: str
) -> None:
    storage = broken_copy(published, tmp_path)
    basin, column = breaks(storage, published.network)
    result = materialise(storage, [TRAINING_DATA])
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    failed = evaluations[check]
    assert not failed.passed
    offending = offending_rows(failed)
    assert any(row["basin"] == basin and row["column"] == column for row in offending), offending
    assert f"basin={basin}" in str(failed.description) and f"column={column}" in str(failed.description)
    assert check in failure_message(result)[1]
    store = storage.get_storage()
    assert store.get_bytes(DATASET_KEY) == published.archive
    assert store.exists(CANDIDATE_KEY)


@pytest.mark.hostile
def test_overlapping_periods_stop_the_run(published: Published, tmp_path: Path) -> None:
    storage = broken_copy(published, tmp_path)
    result = materialise(storage, [TRAINING_DATA], {"validation_start": "2021-07-01"})
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    (row,) = offending_rows(evaluations["periods_ordered_without_overlap"])
    assert row["period"] == "validation" and row["previous_period"] == "train"
    assert storage.get_storage().get_bytes(DATASET_KEY) == published.archive


@pytest.mark.hostile
def test_a_period_that_is_not_a_date_fails_at_once_naming_it(published: Published, tmp_path: Path) -> None:
    storage = broken_copy(published, tmp_path)
    result = materialise(storage, [TRAINING_DATA], {"train_end": "2021-13-01"})
    assert not result.success
    assert "train period '2018-01-01'..'2021-13-01'" in failure_message(result)[1]
    assert not [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert storage.get_storage().get_bytes(DATASET_KEY) == published.archive
