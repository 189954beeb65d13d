"""GRIB2 forecast runs: readable by name in cfgrib and in GDAL, and close to the weather generator's truth."""

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from platform_dev.sample_region.grib import (
    GRID_STEP_DEG,
    MARGIN_DEG,
    MODEL_OROGRAPHY_M,
    STEPS_H,
    default_run_times,
    forecast_path,
    write_forecast_runs,
)
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.weather import WeatherGenerator

# It rains in the last days of this seed's record, so the precipitation checks are not vacuous.
SEED = 4


@pytest.fixture(scope="module")
def spec() -> RegionSpec:
    return RegionSpec.for_size("small", SEED)


@pytest.fixture(scope="module")
def runs(spec: RegionSpec, tmp_path_factory: pytest.TempPathFactory) -> dict[dt.datetime, Path]:
    times = default_run_times(spec)
    return dict(
        zip(times, write_forecast_runs(spec, tmp_path_factory.mktemp("forecasts"), times), strict=True)
    )


def open_cfgrib(path: Path, short_name: str) -> xr.Dataset:
    # indexpath="" keeps cfgrib from writing .idx files beside the GRIB files
    return xr.open_dataset(
        path, engine="cfgrib", backend_kwargs={"filter_by_keys": {"shortName": short_name}, "indexpath": ""}
    )


def test_default_runs_are_the_four_daily_runs_of_the_last_three_days(spec, runs):
    times = list(runs)
    assert len(times) == 12
    assert [t.hour for t in times] == [0, 6, 12, 18] * 3
    assert times[-1].date() == spec.end and times[0].date() == spec.end - dt.timedelta(days=2)
    for time, path in runs.items():
        assert path == forecast_path(path.parents[2], time)
        assert (
            path.relative_to(path.parents[2]).as_posix() == f"{time:%Y%m%d/%H}/forecast_{time:%Y%m%d%H}.grib2"
        )


def test_cfgrib_reads_both_parameters_by_name(spec, runs):
    wettest = 0.0
    for time, path in runs.items():
        with open_cfgrib(path, "2t") as temperature, open_cfgrib(path, "tp") as precipitation:
            assert list(temperature.data_vars) == ["t2m"] and list(precipitation.data_vars) == ["tp"]
            for dataset in (temperature, precipitation):
                assert dataset.sizes["step"] == len(STEPS_H) == 25
                assert (dataset.step.values.astype("timedelta64[h]").astype(int) == STEPS_H).all()
                assert np.all(np.diff(dataset.latitude.values) < 0), "rows must run north to south"
                assert np.allclose(np.diff(dataset.longitude.values), GRID_STEP_DEG)
                assert dataset.time.values == np.datetime64(time.replace(tzinfo=None), "ns")
            assert temperature.t2m.attrs["units"] == "K" and temperature.heightAboveGround.item() == 2
            assert precipitation.tp.attrs["GRIB_stepType"] == "accum"
            t2m, tp = temperature.t2m.values, precipitation.tp.values
        assert np.all((t2m > 240) & (t2m < 310))
        assert np.all(tp[0] == 0) and np.all(tp >= 0) and np.all(tp < 200)
        assert np.all(np.diff(tp, axis=0) >= 0), "accumulations never decrease"
        wettest = max(wettest, float(tp[-1].max()))
    assert wettest > 1.0


def test_grid_covers_the_region_with_a_margin(spec, runs):
    with open_cfgrib(next(iter(runs.values())), "2t") as dataset:
        lats, lons = dataset.latitude.values, dataset.longitude.values
    west, south, east, north = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform_bounds(
        *spec.bounds
    )
    assert lons[0] <= west - MARGIN_DEG and lons[-1] >= east + MARGIN_DEG
    assert lats[-1] <= south - MARGIN_DEG and lats[0] >= north + MARGIN_DEG
    assert lons[-1] - lons[0] < east - west + 2 * MARGIN_DEG + 2 * GRID_STEP_DEG + 1e-9


def test_gdal_names_every_band(runs):
    for time, path in runs.items():
        with rasterio.open(path) as dataset:
            assert dataset.count == 50
            tags = [dataset.tags(band) for band in range(1, 51)]
        for step, (temperature, precipitation) in zip(
            STEPS_H, zip(tags[::2], tags[1::2], strict=True), strict=True
        ):
            assert temperature["GRIB_ELEMENT"] == "TMP"
            assert temperature["GRIB_SHORT_NAME"] == "2-HTGL"
            assert temperature["GRIB_PDS_PDTN"] == "0"
            assert temperature["GRIB_PDS_TEMPLATE_ASSEMBLED_VALUES"].split()[:2] == ["0", "0"]
            # GDAL 3.10 appends the accumulation period in hours to APCP once it is not zero
            assert re.fullmatch(r"APCP(\d\d)?", precipitation["GRIB_ELEMENT"])
            assert precipitation["GRIB_ELEMENT"] == ("APCP" if step == 0 else f"APCP{step:02d}")
            assert precipitation["GRIB_DISCIPLINE"].split("(")[0] == "0"
            assert precipitation["GRIB_PDS_PDTN"] == "8"
            assert precipitation["GRIB_PDS_TEMPLATE_ASSEMBLED_VALUES"].split()[:2] == ["1", "8"]
            assert precipitation["GRIB_UNIT"] == "[kg/(m^2)]"
            for band in (temperature, precipitation):
                assert int(band["GRIB_REF_TIME"]) == int(time.timestamp())
                assert int(band["GRIB_VALID_TIME"]) == int(time.timestamp()) + step * 3600


def test_forecasts_start_near_the_truth_and_drift_with_lead_time(spec, runs):
    weather = WeatherGenerator(spec)
    errors = []
    for time, path in runs.items():
        with open_cfgrib(path, "2t") as dataset:
            forecast = dataset.t2m.values.reshape(len(STEPS_H), -1)
            lon, lat = np.meshgrid(dataset.longitude.values, dataset.latitude.values)
        x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(lon.ravel(), lat.ravel())
        times = np.datetime64(time.replace(tzinfo=None), "h") + np.asarray(STEPS_H).astype("timedelta64[h]")
        truth = weather.hourly(x, y, np.full(x.shape, MODEL_OROGRAPHY_M), times)["t2m_k"]
        errors.append(forecast - truth)
    errors = np.asarray(errors)
    assert np.abs(errors[:, 0]).max() < 2.0
    rmse = np.sqrt((errors**2).mean(axis=(0, 2)))
    assert rmse[-1] > 2 * rmse[0], "the error grows with lead time"
    assert rmse[-1] < 10.0


def test_same_seed_gives_byte_identical_files(spec, runs, tmp_path):
    times = list(runs)[:2]
    again = write_forecast_runs(spec, tmp_path / "again", times)
    other = write_forecast_runs(RegionSpec.for_size("small", SEED + 1), tmp_path / "other", times)
    for time, path, other_path in zip(times, again, other, strict=True):
        assert path.read_bytes() == runs[time].read_bytes()
        assert other_path.read_bytes() != path.read_bytes()


def test_only_synoptic_runs_exist(spec, tmp_path):
    with pytest.raises(ValueError, match="on the hour"):
        write_forecast_runs(spec, tmp_path, [dt.datetime(2023, 12, 30, 3, tzinfo=dt.UTC)])
