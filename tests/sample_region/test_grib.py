"""GRIB2 forecast runs: readable by name in cfgrib and in GDAL, close to the weather generator's truth, two
months of them at the end of the record with the planted faults the manifest records."""

import datetime as dt
import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from pyproj import Transformer

from platform_dev.sample_region.grib import (
    CLEAN_DAYS,
    GRID_STEP_DEG,
    LATE_DELAY_H,
    MARGIN_DEG,
    MODEL_OROGRAPHY_M,
    PUBLICATION_DELAY_H,
    RUN_DAYS,
    RUN_HOURS,
    STEPS_H,
    default_run_times,
    forecast_path,
    forecast_truth,
    plant_faults,
    write_forecast_runs,
    write_forecasts,
)
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.weather import WeatherGenerator

# It rains in the last days of this seed's record, so the precipitation checks are not vacuous.
SEED = 4
PACKING_TOLERANCE = 1e-5  # 24-bit packing of values rounded to 0.01 (see grib.DECIMAL_SCALE)


@pytest.fixture(scope="module")
def spec() -> RegionSpec:
    return RegionSpec.for_size("small", SEED)


@pytest.fixture(scope="module")
def source(spec: RegionSpec, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The region folder holding ``forecasts/`` and the manifest entry, as the region build writes them."""
    out = tmp_path_factory.mktemp("region")
    return out, write_forecasts(spec, out)


@pytest.fixture(scope="module")
def runs(spec: RegionSpec, source: tuple[Path, dict]) -> dict[dt.datetime, Path]:
    """The runs of the record's last days, which no fault touches: decoded in depth."""
    out, _ = source
    return {run: forecast_path(out / "forecasts", run) for run in default_run_times(spec, CLEAN_DAYS)}


def open_cfgrib(path: Path, short_name: str) -> xr.Dataset:
    # indexpath="" keeps cfgrib from writing .idx files beside the GRIB files
    return xr.open_dataset(
        path, engine="cfgrib", backend_kwargs={"filter_by_keys": {"shortName": short_name}, "indexpath": ""}
    )


def read_messages(path: Path) -> tuple[list[tuple[str, int, np.ndarray, int]], Exception | None]:
    """Every whole message as ``(shortName, step, values, length)``, and the error that stopped reading.

    ecCodes is imported here, not at module level: its wheel preloads its own PROJ into the global symbol
    scope, and a GDAL or pyproj loaded after it in the same test worker resolves against that PROJ and
    crashes (seen as a segfault in pyogrio's /vsis3/ read of a later test)."""
    import eccodes

    messages = []
    with path.open("rb") as source:
        while True:
            try:
                handle = eccodes.codes_grib_new_from_file(source)
            except eccodes.GribInternalError as error:
                return messages, error
            if handle is None:
                return messages, None
            try:
                messages.append(
                    (
                        eccodes.codes_get(handle, "shortName"),
                        eccodes.codes_get(handle, "endStep"),
                        eccodes.codes_get_values(handle),
                        eccodes.codes_get_message_size(handle),
                    )
                )
            finally:
                eccodes.codes_release(handle)


def fields(messages: list[tuple[str, int, np.ndarray, int]], short_name: str) -> tuple[list[int], np.ndarray]:
    """One parameter's steps and values ``(steps, points)``."""
    chosen = [(step, values) for name, step, values, _ in messages if name == short_name]
    return [step for step, _ in chosen], np.array([values for _, values in chosen])


def test_the_source_holds_four_runs_a_day_for_the_last_sixty_days(spec, source):
    out, entry = source
    times = default_run_times(spec)
    assert RUN_DAYS >= 60 and len(times) == 4 * RUN_DAYS
    assert [t.hour for t in times] == list(RUN_HOURS) * RUN_DAYS
    assert times[-1].date() == spec.end and times[0].date() == spec.end - dt.timedelta(days=RUN_DAYS - 1)
    assert all(b - a == dt.timedelta(hours=6) for a, b in itertools.pairwise(times))
    assert entry["files"] == [forecast_path(Path("forecasts"), t).as_posix() for t in times]
    assert entry["files"][-1] == f"forecasts/{spec.end:%Y%m%d}/18/forecast_{spec.end:%Y%m%d}18.grib2"
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "forecasts").rglob("*") if p.is_file())
    assert on_disk == sorted(entry["files"])
    assert entry["run_hours"] == list(RUN_HOURS) and entry["steps_h"] == list(STEPS_H)
    assert entry["publication_delay_h"] == PUBLICATION_DELAY_H


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
        assert np.all(np.diff(tp, axis=0) >= -PACKING_TOLERANCE), "accumulations never decrease"
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


def test_every_run_is_whole_but_the_truncated_one_and_the_one_missing_a_lead_time(source):
    out, entry = source
    (truncated,), (gap,) = entry["truncated_runs"], entry["missing_steps"]
    for name in entry["files"]:
        if name == truncated["file"]:
            continue
        messages, error = read_messages(out / name)
        assert error is None, name
        expected = [s for s in STEPS_H if name != gap["file"] or s != gap["step_h"]]
        for short_name in ("2t", "tp"):
            assert fields(messages, short_name)[0] == expected, (name, short_name)
        _, tp = fields(messages, "tp")
        assert np.all(tp >= 0) and np.all(np.diff(tp, axis=0) >= -PACKING_TOLERANCE), name
    assert len(expected) == len(STEPS_H), "the last file read is whole"


def test_the_truncated_run_stops_inside_a_message(spec, source, tmp_path):
    out, entry = source
    (truncated,) = entry["truncated_runs"]
    run = dt.datetime.fromisoformat(truncated["run"])
    published = (out / truncated["file"]).read_bytes()
    whole = write_forecast_runs(spec, tmp_path, [run])[0].read_bytes()
    assert len(published) == truncated["size_bytes"] and whole.startswith(published)
    messages, error = read_messages(out / truncated["file"])
    assert type(error).__name__ == "PrematureEndOfFileError"
    assert len(messages) == truncated["complete_messages"] > 0
    whole_messages, _ = read_messages(tmp_path / Path(truncated["file"]).relative_to("forecasts"))
    lengths = np.cumsum([length for *_, length in whole_messages])
    k = truncated["complete_messages"]
    assert lengths[k - 1] < len(published) < lengths[k], "the cut falls inside the next message"
    for (name, step, values, _), (whole_name, whole_step, whole_values, _) in zip(
        messages, whole_messages, strict=False
    ):
        assert (name, step) == (whole_name, whole_step) and np.array_equal(values, whole_values)


def test_the_run_missing_a_lead_time_lacks_both_parameters_of_that_step_only(spec, source, tmp_path):
    out, entry = source
    (gap,) = entry["missing_steps"]
    assert gap["step_h"] in STEPS_H[1:-1]
    run = dt.datetime.fromisoformat(gap["run"])
    messages, _ = read_messages(out / gap["file"])
    whole, _ = read_messages(write_forecast_runs(spec, tmp_path, [run])[0])
    kept = [m for m in whole if m[1] != gap["step_h"]]
    assert len(messages) == len(whole) - 2 == len(kept)
    for (name, step, values, _), (kept_name, kept_step, kept_values, _) in zip(messages, kept, strict=True):
        assert (name, step) == (kept_name, kept_step) and np.array_equal(values, kept_values)


def test_the_late_run_appears_after_the_next_run_and_every_file_is_stamped_with_its_publication(
    spec, source, tmp_path
):
    out, entry = source
    (late,) = entry["late_runs"]
    run = dt.datetime.fromisoformat(late["run"])
    due, published = (
        dt.datetime.fromisoformat(late["due_at"]),
        dt.datetime.fromisoformat(late["published_at"]),
    )
    assert due == run + dt.timedelta(hours=PUBLICATION_DELAY_H)
    assert published == run + dt.timedelta(hours=LATE_DELAY_H)
    next_due, after_next_due = (due + dt.timedelta(hours=hours) for hours in (6, 12))
    assert next_due < published < after_next_due
    assert (out / late["file"]).read_bytes() == write_forecast_runs(spec, tmp_path, [run])[0].read_bytes()
    for name, time in zip(entry["files"], default_run_times(spec), strict=True):
        expected = published if name == late["file"] else time + dt.timedelta(hours=PUBLICATION_DELAY_H)
        assert (out / name).stat().st_mtime == expected.timestamp(), name


def test_the_faults_are_three_runs_before_the_clean_days(spec, source):
    _, entry = source
    faulty = [e["run"] for key in ("truncated_runs", "missing_steps", "late_runs") for e in entry[key]]
    assert len(set(faulty)) == 3
    for key in ("truncated_runs", "missing_steps", "late_runs"):
        for fault in entry[key]:
            run = dt.datetime.fromisoformat(fault["run"])
            assert fault["file"] == forecast_path(Path("forecasts"), run).as_posix() in entry["files"]
            assert run.date() <= spec.end - dt.timedelta(days=CLEAN_DAYS)
    with pytest.raises(ValueError, match="three faulty forecast runs need three runs"):
        plant_faults(spec, default_run_times(spec, CLEAN_DAYS))


def test_forecast_truth_is_what_the_files_hold_with_precipitation_per_step(spec, source):
    out, entry = source
    (gap,) = entry["missing_steps"]
    wettest = max(
        entry["files"][-4 * CLEAN_DAYS :],
        key=lambda name: fields(read_messages(out / name)[0], "tp")[1].max(),
    )
    runs = dict(zip(entry["files"], default_run_times(spec), strict=True))
    for name in (wettest, gap["file"]):
        truth = forecast_truth(spec, runs[name])
        messages, _ = read_messages(out / name)
        steps, temperature = fields(messages, "2t")
        _, accumulated = fields(messages, "tp")
        index = [STEPS_H.index(step) for step in steps]
        assert truth.temperature_k.shape == (len(STEPS_H), *truth.grid.shape)
        assert list(truth.valid_times) == [
            np.datetime64(runs[name].replace(tzinfo=None), "h") + np.timedelta64(step, "h")
            for step in STEPS_H
        ]
        flat = truth.temperature_k.reshape(len(STEPS_H), -1)
        assert np.abs(flat[index] - temperature).max() < PACKING_TOLERANCE
        per_step = truth.precipitation_mm.reshape(len(STEPS_H), -1)
        assert np.all(per_step >= 0) and np.all(per_step[0] == 0)
        assert np.abs(np.cumsum(per_step, axis=0)[index] - accumulated).max() < PACKING_TOLERANCE
        if name == wettest:
            assert per_step.sum(axis=0).max() > 1.0, "a wet run, so the comparison is not vacuous"


def test_same_seed_gives_the_same_source_and_a_run_depends_only_on_seed_and_time(spec, source, tmp_path):
    out, entry = source
    again = write_forecasts(spec, tmp_path / "again")
    assert again == entry
    for name in entry["files"]:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
    write_forecasts(RegionSpec.for_size("small", SEED + 1), tmp_path / "other")
    assert all(
        (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes() for name in entry["files"][-4:]
    )
    shorter = write_forecasts(spec, tmp_path / "shorter", days=CLEAN_DAYS + 2)
    broken = {
        e["file"]
        for manifest in (entry, shorter)
        for key in ("truncated_runs", "missing_steps")
        for e in manifest[key]
    }
    common = [name for name in shorter["files"] if name not in broken]
    assert len(common) >= 4 * CLEAN_DAYS
    for name in common:
        assert (tmp_path / "shorter" / name).read_bytes() == (out / name).read_bytes(), name


def test_the_newest_runs_are_whole_and_as_written_without_faults(spec, runs, tmp_path):
    clean = write_forecast_runs(spec, tmp_path, list(runs))
    for (run, path), written in zip(runs.items(), clean, strict=True):
        assert path.read_bytes() == written.read_bytes(), run


def test_only_synoptic_runs_exist(spec, tmp_path):
    with pytest.raises(ValueError, match="on the hour"):
        write_forecast_runs(spec, tmp_path, [dt.datetime(2023, 12, 30, 3, tzinfo=dt.UTC)])
