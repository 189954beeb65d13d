"""Forecast fields from GRIB2 runs the sample-region generator writes: decoded by name, de-accumulated,
reprojected onto the analysis grid at several cell sizes and compared with the generator's truth; the
blocking checks against planted faults; clear errors for broken files."""

import datetime as dt
import math
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from scipy.interpolate import RegularGridInterpolator

from landing_zone.defs.features.gridding import AnalysisGrid
from landing_zone.defs.forecasts.grib_fields import (
    POSITION_ERROR_CELLS,
    PRECIPITATION,
    TEMPERATURE,
    GribFileError,
    check_accumulation,
    check_coverage,
    check_lead_times,
    check_physical_bounds,
    decode_run,
    expected_steps,
    lead_fields,
    warp_tolerance_px,
    write_run_cogs,
)
from platform_dev.sample_region.grib import STEPS_H, ForecastTruth, forecast_truth, write_forecast_runs
from platform_dev.sample_region.spec import CRS, RegionSpec

# Seed 4 rains on the record's last days, so the precipitation comparisons are not vacuous.
SEED = 4
RUN = dt.datetime(2023, 12, 31, 0, tzinfo=dt.UTC)
"""A wet run (up to about 19 mm in a 3-hour step, 64 mm over the run) with dry steps between its storms."""
VARIABLES = (TEMPERATURE.name, PRECIPITATION.name)
FLOAT32 = 1e-5
"""Relative rounding of the COGs' float32 values."""


@pytest.fixture(scope="module")
def spec() -> RegionSpec:
    return RegionSpec.for_size("small", SEED)


@pytest.fixture(scope="module")
def run_file(spec: RegionSpec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    (path,) = write_forecast_runs(spec, tmp_path_factory.mktemp("forecasts"), [RUN])
    return path


@pytest.fixture(scope="module")
def truth(spec: RegionSpec) -> ForecastTruth:
    return forecast_truth(spec, RUN)


def analysis_grid(spec: RegionSpec, cell: float) -> AnalysisGrid:
    """The region on a grid snapped outward to multiples of ``cell``, as the features domain builds it."""
    west, south = (math.floor(value / cell) * cell for value in (spec.west, spec.south))
    east, north = (math.ceil(value / cell) * cell for value in (spec.east, spec.north))
    return AnalysisGrid(
        west, north, cell, np.zeros((round((north - south) / cell), round((east - west) / cell)))
    )


def cell_lonlat(
    grid: AnalysisGrid, offset: tuple[float, float] = (0.5, 0.5)
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude ``(rows, columns)`` of a point of every cell (its centre by default)."""
    rows, columns = grid.shape
    x = grid.west + (np.arange(columns) + offset[0]) * grid.cell
    y = grid.north - (np.arange(rows) + offset[1]) * grid.cell
    xx, yy = np.meshgrid(x, y)
    lon, lat = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)


def model_cell(truth: ForecastTruth, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the model grid point nearest to each point (whose model cell holds it)."""
    lats, lons = truth.grid.lats, truth.grid.lons
    row = np.rint((lats[0] - lat) / (lats[0] - lats[1])).astype(int)
    column = np.rint((lon - lons[0]) / (lons[1] - lons[0])).astype(int)
    return row, column


def read_bands(path: Path) -> np.ndarray:
    with rasterio.open(path) as dataset:
        return dataset.read(masked=True).filled(np.nan).astype(np.float64)


@pytest.fixture(scope="module", params=[250.0, 100.0, 10.0], ids=["250m", "100m", "10m-multiblock"])
def written(request: pytest.FixtureRequest, spec, run_file, tmp_path_factory):
    grid = analysis_grid(spec, request.param)
    run = decode_run(run_file)
    fields = lead_fields(run)
    cogs = write_run_cogs(fields, run, grid, CRS, tmp_path_factory.mktemp("cogs"))
    return grid, run, fields, cogs


def test_decoded_run_holds_the_generators_values_by_name_and_step(run_file, truth):
    run = decode_run(run_file)
    assert run.run_time == RUN
    assert (run.grid.rows, run.grid.columns) == truth.temperature_k.shape[1:]
    assert run.grid.north == pytest.approx(truth.grid.lats[0]) and run.grid.west == pytest.approx(
        truth.grid.lons[0]
    )
    temperature, precipitation = (run.parameters[name] for name in VARIABLES)
    assert temperature.steps_h == precipitation.steps_h == STEPS_H
    # the packing stores the generator's 0.01-rounded values: decoding is exact to the packing precision
    assert np.abs(temperature.values - truth.temperature_k).max() <= temperature.precision.max()
    fields = lead_fields(run)
    assert np.allclose(fields[TEMPERATURE.name].values, truth.temperature_k - 273.15, atol=1e-4)
    assert fields[PRECIPITATION.name].leads_h == STEPS_H[1:]
    assert np.abs(fields[PRECIPITATION.name].values - truth.precipitation_mm[1:]).max() < 0.011
    assert truth.precipitation_mm.max() > 5.0, "a dry run would make the precipitation tests vacuous"


def test_messages_are_found_by_name_and_step_not_position(run_file, tmp_path):
    shuffled = rewrite(
        run_file, tmp_path / "shuffled.grib2", order=lambda keys: sorted(keys, key=lambda k: (-k[1], k[0]))
    )
    original, reordered = decode_run(run_file), decode_run(shuffled)
    for name in VARIABLES:
        assert reordered.parameters[name].steps_h == original.parameters[name].steps_h
        assert np.array_equal(reordered.parameters[name].values, original.parameters[name].values)


def test_a_clean_run_passes_every_check(spec, run_file):
    run = decode_run(run_file)
    fields = lead_fields(run)
    assert check_lead_times(run, expected_steps(), VARIABLES) == []
    assert check_coverage(run, spec.bounds, CRS) == []
    assert check_physical_bounds(run, fields) == []
    assert check_accumulation(run, fields) == []
    assert fields[PRECIPITATION.name].clipped_total == 0


def test_temperature_is_the_bilinear_interpolation_of_the_truth(written, truth):
    """Bilinear between the truth's grid points at every cell centre, to within what the warper's
    positional tolerance (in grid steps) times the steepest step-to-step change allows."""
    grid, run, _, cogs = written
    bands = read_bands(cogs[TEMPERATURE.name].path)
    lon, lat = cell_lonlat(grid)
    nodes = truth.temperature_k - 273.15
    position_steps = warp_tolerance_px(grid.cell, run.grid)
    for index, field in enumerate(nodes):
        expected = RegularGridInterpolator((truth.grid.lats[::-1], truth.grid.lons), field[::-1])((lat, lon))
        steepest = np.abs(np.diff(field, axis=0)).max() + np.abs(np.diff(field, axis=1)).max()
        tolerance = position_steps * steepest + FLOAT32 * np.abs(field).max()
        assert np.abs(bands[index] - expected).max() <= tolerance, f"step {STEPS_H[index]} h"
    assert np.ptp(bands[-1]) > 0.1, "a flat field would prove nothing"


def test_precipitation_conserves_each_model_cells_amount(written, truth):
    """Where an analysis cell lies inside one model cell it gets exactly that cell's amount, and its bands
    sum back to that cell's run total; elsewhere it is a mean of the model cells it straddles, so within
    their range."""
    grid, _, _, cogs = written
    bands = read_bands(cogs[PRECIPITATION.name].path)
    amounts = truth.precipitation_mm[1:]
    assert np.nanmin(bands) >= 0.0
    margin = POSITION_ERROR_CELLS  # the warper may misplace a model cell's edge by this share of a cell
    corners = [
        model_cell(truth, *cell_lonlat(grid, (x, y)))
        for x in (-margin, 1 + margin)
        for y in (-margin, 1 + margin)
    ]
    row, column = model_cell(truth, *cell_lonlat(grid))
    inside = np.all([(r == row) & (c == column) for r, c in corners], axis=0)
    tolerance = FLOAT32 * amounts.max()
    assert np.abs(bands[:, inside] - amounts[:, row[inside], column[inside]]).max(initial=0.0) <= tolerance
    total = truth.precipitation_mm.sum(axis=0)
    assert np.abs(bands[:, inside].sum(axis=0) - total[row[inside], column[inside]]).max(initial=0.0) <= 0.01
    assert inside.mean() > 0.5, "most cells lie inside one model cell"
    padded = np.pad(amounts, ((0, 0), (1, 1), (1, 1)), mode="edge")
    rows, columns = amounts.shape[1:]
    neighbours = np.stack(
        [padded[:, dr : dr + rows, dc : dc + columns] for dr in range(3) for dc in range(3)]
    )
    low, high = neighbours.min(axis=0)[:, row, column], neighbours.max(axis=0)[:, row, column]
    assert np.all((bands >= low - tolerance) & (bands <= high + tolerance))


def test_cogs_follow_the_layout(written, run_file):
    grid, _, fields, cogs = written
    for name, cog in cogs.items():
        with rasterio.open(cog.path) as dataset:
            assert dataset.crs.to_epsg() == 2180 and dataset.res == (grid.cell, grid.cell)
            assert (dataset.height, dataset.width) == grid.shape and dataset.nodata == -9999.0
            assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            tags = dataset.tags()
            assert tags["RUN_TIME"] == RUN.isoformat() and tags["VARIABLE"] == name
            assert tags["SOURCE_FILE"] == run_file.name
            leads = fields[name].leads_h
            assert dataset.count == len(leads) == len(cog.valid_times)
            for band, lead in enumerate(leads, start=1):
                valid = RUN + dt.timedelta(hours=lead)
                assert dataset.descriptions[band - 1] == valid.isoformat()
                assert dataset.tags(band)["LEAD_HOURS"] == str(lead)
                if name == PRECIPITATION.name:
                    assert dataset.tags(band)["ACCUMULATION_HOURS"] == "3"
                    assert dataset.tags(band)["CLIPPED_NEGATIVE"] == "0"
        assert cog.statistics.valid_percent.min() == 100.0
    assert cogs[TEMPERATURE.name].leads_h[0] == 0 and cogs[PRECIPITATION.name].leads_h[0] == 3


def test_a_negative_step_is_clipped_counted_and_fails_the_sum_back(spec, run_file, tmp_path):
    """tp at 36 h set below tp at 33 h on the grid's first row: that step decreases, is clipped to 0 and
    counted, and the de-accumulated amounts no longer sum back to the run total."""
    planted_step, drop = 36, 0.5
    values = decode_run(run_file).parameters[PRECIPITATION.name]
    before = values.values[STEPS_H.index(planted_step) - 1]

    def plant(short_name: str, step: int, field: np.ndarray) -> np.ndarray:
        if (short_name, step) == ("tp", planted_step):
            field = field.copy()
            field[0] = before[0] - drop
        return field

    broken = rewrite(run_file, tmp_path / "negative.grib2", change=plant)
    run = decode_run(broken)
    fields = lead_fields(run)
    precipitation = fields[PRECIPITATION.name]
    band = precipitation.leads_h.index(planted_step)
    assert precipitation.clipped is not None
    assert precipitation.clipped[band] == run.grid.columns and precipitation.clipped_total == run.grid.columns
    assert precipitation.values.min() >= 0.0 and np.all(precipitation.values[band, 0] == 0.0)
    findings = check_accumulation(run, fields)
    assert [(f.variable, f.step_h) for f in findings] == [(PRECIPITATION.name, planted_step)]
    assert broken.name in findings[0].message and "decreases" in findings[0].message
    assert f"{run.grid.columns} grid points" in findings[0].message
    cogs = write_run_cogs(fields, run, analysis_grid(spec, 250.0), CRS, tmp_path)
    with rasterio.open(cogs[PRECIPITATION.name].path) as dataset:
        assert dataset.tags(band + 1)["CLIPPED_NEGATIVE"] == str(run.grid.columns)
        assert dataset.tags()["CLIPPED_NEGATIVE"] == str(run.grid.columns)


def test_a_missing_lead_time_is_named_and_the_next_step_spans_both(run_file, tmp_path):
    gap = 45
    broken = rewrite(run_file, tmp_path / "gap.grib2", order=lambda keys: [k for k in keys if k[1] != gap])
    run = decode_run(broken)
    findings = check_lead_times(run, expected_steps(), VARIABLES)
    assert sorted((f.variable, f.step_h) for f in findings) == [
        (TEMPERATURE.name, gap),
        (PRECIPITATION.name, gap),
    ]
    assert all(broken.name in f.message and f"{gap} h" in f.message for f in findings)
    fields = lead_fields(run)
    precipitation = fields[PRECIPITATION.name]
    assert precipitation.interval_start_h is not None
    after = precipitation.leads_h.index(gap + 3)
    assert precipitation.interval_start_h[after] == gap - 3
    assert check_accumulation(run, fields) == [], "the amounts still sum back: nothing was lost"


def test_values_outside_physical_bounds_are_named(run_file, tmp_path):
    def plant(short_name: str, step: int, field: np.ndarray) -> np.ndarray:
        if (short_name, step) == ("2t", 12):
            field = field.copy()
            field[2, 3] = 400.0
        return field

    broken = rewrite(run_file, tmp_path / "hot.grib2", change=plant)
    run = decode_run(broken)
    findings = check_physical_bounds(run, lead_fields(run))
    assert [(f.variable, f.step_h) for f in findings] == [(TEMPERATURE.name, 12)]
    assert broken.name in findings[0].message and "1 values outside" in findings[0].message


def test_a_grid_short_of_the_region_is_named_by_side(spec, run_file):
    run = decode_run(run_file)
    wider = (spec.west, spec.south, spec.east + 20_000.0, spec.north)
    findings = check_coverage(run, wider, CRS)
    assert len(findings) == 1 and "east side" in findings[0].message and run_file.name in findings[0].message


def test_a_missing_variable_is_named(run_file, tmp_path):
    only_tp = rewrite(
        run_file, tmp_path / "tp-only.grib2", order=lambda keys: [k for k in keys if k[0] == "tp"]
    )
    run = decode_run(only_tp)
    findings = check_lead_times(run, expected_steps(), VARIABLES)
    assert [(f.variable, f.step_h) for f in findings] == [(TEMPERATURE.name, None)]


@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_a_truncated_file_is_refused_naming_it(run_file, tmp_path, keep):
    data = run_file.read_bytes()
    truncated = tmp_path / "truncated.grib2"
    truncated.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(GribFileError, match=rf"{re.escape(str(truncated))}: message \d+ .*truncated"):
        decode_run(truncated)


def test_a_file_that_is_not_grib_is_refused_naming_it(tmp_path):
    text = tmp_path / "forecast.grib2"
    text.write_text("<html>503 Service Unavailable</html>")
    with pytest.raises(GribFileError, match=rf"{re.escape(str(text))}: no 2 m temperature .* message"):
        decode_run(text)
    with pytest.raises(GribFileError, match=re.escape("s3://bucket/run.grib2: cannot read")):
        decode_run(tmp_path / "absent.grib2", source="s3://bucket/run.grib2")


def test_expected_steps_refuse_a_horizon_that_is_no_whole_number_of_steps():
    assert expected_steps(6, 24) == (0, 6, 12, 18, 24)
    with pytest.raises(ValueError, match="whole number of steps"):
        expected_steps(5, 72)


MessageKey = tuple[str, int]


def rewrite(
    source: Path,
    destination: Path,
    order: Callable[[list[MessageKey]], list[MessageKey]] = lambda keys: keys,
    change: Callable[[str, int, np.ndarray], np.ndarray] = lambda name, step, field: field,
) -> Path:
    """A copy of a run file with its messages re-ordered or left out (``order``) and their values changed
    (``change`` gets each message's field, rows north to south), re-encoded by ecCodes."""
    import eccodes

    messages: dict[MessageKey, bytes] = {}
    with source.open("rb") as stream:
        while (handle := eccodes.codes_grib_new_from_file(stream)) is not None:
            try:
                key = (eccodes.codes_get(handle, "shortName"), int(eccodes.codes_get(handle, "endStep", int)))
                shape = (eccodes.codes_get(handle, "Nj"), eccodes.codes_get(handle, "Ni"))
                field = eccodes.codes_get_values(handle).reshape(shape)
                changed = change(*key, field)
                if changed is not field:
                    eccodes.codes_set_values(handle, changed.ravel())
                messages[key] = bytes(eccodes.codes_get_message(handle))
            finally:
                eccodes.codes_release(handle)
    destination.write_bytes(b"".join(messages[key] for key in order(list(messages))))
    return destination
