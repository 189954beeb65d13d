"""``forecast/grib/fields`` materialised on a real S3 server from runs the sample-region generator
writes: a whole run is published as one COG per variable; the generator's planted broken runs (a
truncated file, a missing lead time) stop before publication and leave nothing behind."""

import datetime as dt
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio

from landing_zone.defs.forecasts.assets import grib_raw
from landing_zone.defs.forecasts.fields import CHECKS, grib_fields, publish
from landing_zone.defs.forecasts.fields_manifest import fields_manifest, manifest_key, read_manifest
from landing_zone.defs.forecasts.grib_fields import (
    PRECIPITATION,
    TEMPERATURE,
    VARIABLES,
    BandStatistics,
    FieldCog,
    LeadFields,
    deaccumulate,
)
from landing_zone.defs.forecasts.keys import FORECAST_GRIB_FIELDS
from landing_zone.defs.forecasts.raw_runs import partition_key
from platform_dev.sample_region.grib import STEPS_H, PlantedFaults, write_forecast_runs
from platform_dev.sample_region.spec import RegionSpec
from shared.assets.landing_zone import DTM_CONSOLIDATED, FORECAST_RUNS, REGIONS
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from tests.conftest import SAMPLE_SEED
from tests.forecasts.test_raw_runs import forecast_resources

REGION = "pilica"
DAY = dt.datetime(2023, 12, 30, tzinfo=dt.UTC)
WHOLE, TRUNCATED, GAP = (DAY.replace(hour=hour) for hour in (0, 6, 12))
MISSING_STEP_H = 45
FAULTS = PlantedFaults(
    truncated_run=TRUNCATED,
    complete_messages=7,
    gap_run=GAP,
    missing_step_h=MISSING_STEP_H,
    late_run=DAY.replace(hour=18),
)


@pytest.fixture(scope="module")
def forecasts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three runs as the forecasts source publishes them, two of them broken."""
    folder = tmp_path_factory.mktemp("forecasts")
    write_forecast_runs(RegionSpec.for_size("small", SAMPLE_SEED), folder, [WHOLE, TRUNCATED, GAP], FAULTS)
    return folder


def materialise(storage: StorageResource, forecasts: Path, small_region: Path, run: dt.datetime):
    """The region's DTM stored where elevation puts it, the run's raw file fetched, then its fields."""
    store = storage.get_storage()
    dtm = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG)
    store.put_file(small_region / "truth" / "dtm.tif", dtm)
    resources = forecast_resources(storage, forecasts)
    raw = dg.materialize([grib_raw], partition_key=partition_key(run), resources=resources)
    assert raw.success
    return dg.materialize(
        [grib_fields],
        partition_key=partition_key(run),
        resources=resources,
        raise_on_error=False,
        selection=[FORECAST_GRIB_FIELDS],
    )


def field_keys(run: dt.datetime) -> dict[str, str]:
    location = AssetLocation.for_partition(FORECAST_GRIB_FIELDS, FORECAST_RUNS, partition_key(run))
    return {variable.name: location.key(COG, name=variable.name) for variable in VARIABLES.values()}


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    return error.message


def test_a_whole_run_publishes_one_cog_per_variable(s3_storage, forecasts, small_region, tmp_path):
    result = materialise(s3_storage, forecasts, small_region, WHOLE)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in evaluations) == sorted(spec.name for spec in CHECKS.values())
    assert all(e.passed for e in evaluations)
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["run_time"].value == WHOLE.isoformat()
    assert metadata["clipped_negative"].value == 0
    store = s3_storage.get_storage()
    expected_leads = {TEMPERATURE.name: list(STEPS_H), PRECIPITATION.name: list(STEPS_H[1:])}
    assert metadata["lead_times_h"].value == expected_leads
    for name, key in field_keys(WHOLE).items():
        assert metadata["uris"].value[name] == store.uri(key)
        local = tmp_path / f"{name}.tif"
        local.write_bytes(store.get_bytes(key))
        with rasterio.open(local) as dataset:
            assert dataset.count == len(expected_leads[name])
            assert dataset.crs.to_epsg() == 2180
            assert list(dataset.descriptions) == [
                (WHOLE + dt.timedelta(hours=lead)).isoformat() for lead in expected_leads[name]
            ]
            values = dataset.read(masked=True)
        assert values.count() > 0 and np.isfinite(values.compressed()).all()
        if name == PRECIPITATION.name:
            assert values.min() >= 0.0
    manifest = read_manifest(store, FORECAST_GRIB_FIELDS.path, partition_key(WHOLE))
    assert manifest is not None and metadata["manifest"].value == store.uri(
        manifest_key(FORECAST_GRIB_FIELDS.path, partition_key(WHOLE))
    )
    assert dict(manifest.select("variable", "cog_key").unique().iter_rows()) == field_keys(WHOLE)
    assert manifest["region"].unique().to_list() == [REGION]
    assert manifest["run_time"].unique().to_list() == [WHOLE]
    for name, leads in expected_leads.items():
        rows = manifest.filter(pl.col("variable") == name).sort("band")
        assert rows["band"].to_list() == list(range(1, len(leads) + 1)) and rows["lead_h"].to_list() == leads
        assert rows["valid_time"].to_list() == [WHOLE + dt.timedelta(hours=lead) for lead in leads]
    precipitation = manifest.filter(pl.col("variable") == PRECIPITATION.name)
    assert (precipitation["valid_time"] - precipitation["interval_start"]).unique().to_list() == [
        dt.timedelta(hours=STEPS_H[1])
    ]


def test_the_manifest_is_removed_first_and_written_last(local_storage, tmp_path):
    """A reader that finds the manifest finds the whole run: a republished run's old manifest goes before
    its COGs are replaced, the new one comes after both."""
    store = local_storage.get_storage()
    writes: list[tuple[str, str]] = []

    class Recording:
        def __getattr__(self, name: str):
            method = getattr(store, name)
            if name not in ("put_file", "put_bytes", "delete"):
                return method

            def recorded(*args):
                writes.append((name, args[-1]))
                return method(*args)

            return recorded

    leads = {TEMPERATURE.name: STEPS_H, PRECIPITATION.name: STEPS_H[1:]}
    fields = {
        name: LeadFields(
            VARIABLES[short],
            tuple(leads[name]),
            np.zeros((len(leads[name]), 1, 1)),
            None if name == TEMPERATURE.name else tuple(STEPS_H[:-1]),
        )
        for short, name in ((v.short_name, v.name) for v in VARIABLES.values())
    }
    cogs = {}
    for name, field in fields.items():
        path = tmp_path / f"{name}.tif"
        path.write_bytes(b"cog")
        cogs[name] = FieldCog(field.variable, path, field.leads_h, (), band_statistics_of(0), 0)
    manifest = fields_manifest(WHOLE, REGION, fields, field_keys(WHOLE))
    publish(Recording(), partition_key(WHOLE), cogs, manifest)
    key = manifest_key(FORECAST_GRIB_FIELDS.path, partition_key(WHOLE))
    assert writes[0] == ("delete", key) and writes[-1] == ("put_bytes", key)
    assert {k for name, k in writes[1:-1] if name == "put_file"} == set(field_keys(WHOLE).values())
    stored = read_manifest(store, FORECAST_GRIB_FIELDS.path, partition_key(WHOLE))
    assert stored is not None and stored.equals(manifest)


def band_statistics_of(bands: int) -> BandStatistics:
    empty = np.zeros(bands)
    return BandStatistics(empty, empty, empty, empty)


def test_a_truncated_run_fails_naming_its_file_and_publishes_nothing(s3_storage, forecasts, small_region):
    result = materialise(s3_storage, forecasts, small_region, TRUNCATED)
    assert not result.success
    message = failure_message(result)
    assert "forecast/grib/raw/partition=2023-12-30-06:00/part.grib2" in message and "truncated" in message
    store = s3_storage.get_storage()
    assert not any(store.exists(key) for key in field_keys(TRUNCATED).values())
    assert read_manifest(store, FORECAST_GRIB_FIELDS.path, partition_key(TRUNCATED)) is None


def test_a_run_missing_a_lead_time_stops_at_its_check(s3_storage, forecasts, small_region):
    result = materialise(s3_storage, forecasts, small_region, GAP)
    assert not result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    lead_times = evaluations[CHECKS["lead_times"].name]
    assert not lead_times.passed
    messages = lead_times.metadata["messages"].value
    assert isinstance(messages, list) and len(messages) == len(VARIABLES)
    assert all(f"no message at lead time {MISSING_STEP_H} h" in message for message in messages)
    assert all(e.passed for name, e in evaluations.items() if name != lead_times.check_name)
    assert CHECKS["lead_times"].name in failure_message(result)
    store = s3_storage.get_storage()
    assert not any(store.exists(key) for key in field_keys(GAP).values())
    assert read_manifest(store, FORECAST_GRIB_FIELDS.path, partition_key(GAP)) is None


def test_a_decrease_within_the_packing_precision_is_noise_not_a_clipped_step():
    """An accumulation that comes back lower by less than its packing precision is rounding: set to 0,
    not counted; one that drops by more is a real negative step, clipped and counted."""
    precision = 0.02
    noisy = 1.0 - precision / 2
    accumulated = np.array([[0.0, 0.0], [1.0, 2.0], [noisy, 2.0], [noisy, 1.5]])
    amounts, clipped = deaccumulate(accumulated, np.full(len(accumulated), precision))
    assert amounts.min() == 0.0
    assert np.allclose(amounts, [[0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0]])
    assert clipped.tolist() == [0, 0, 0, 1]
