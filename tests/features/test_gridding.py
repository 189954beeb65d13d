"""The gridding method against the sample region's true weather field, and its rules on invalid values,
thin days and lapse rates."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from landing_zone.defs.features.gridding import (
    VARIABLES,
    AnalysisGrid,
    GriddingSettings,
    Stations,
    interpolate_rows,
    lapse_rates,
    station_days,
    station_matrix,
)
from tests.features.conftest import SampleMeteo

SETTINGS = GriddingSettings()
WHOLE = slice(None)


def gridded(sample: SampleMeteo, variable: str, polished: pl.DataFrame | None = None) -> np.ndarray:
    days = station_days(
        sample.polished if polished is None else polished,
        sample.stations,
        VARIABLES[variable],
        sample.dates,
        SETTINGS,
    )
    return interpolate_rows(days, sample.stations, sample.grid, WHOLE, SETTINGS)


def nearest_station(sample: SampleMeteo, variable: str) -> np.ndarray:
    """The baseline: every cell takes the raw valid value of its nearest station reporting that day."""
    values = station_matrix(sample.polished, sample.stations, variable, sample.dates)
    x, y = sample.grid.centres(WHOLE)
    distance = np.hypot(x[:, None] - sample.stations.x, y[:, None] - sample.stations.y)
    ranked = np.where(np.isfinite(values)[:, None, :], distance[None], np.inf)
    picked = np.take_along_axis(values, ranked.argmin(axis=2), axis=1)
    return picked.reshape(len(sample.dates), *sample.grid.shape)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.corrcoef(a[both], b[both])[0, 1])


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    both = np.isfinite(a) & np.isfinite(b)
    return float(np.sqrt(np.mean((a[both] - b[both]) ** 2)))


def test_precipitation_correlates_with_the_truth_better_than_the_nearest_station(sample_meteo):
    truth = sample_meteo.truth["precipitation_mm"]
    ours = correlation(gridded(sample_meteo, "precipitation_mm"), truth)
    baseline = correlation(nearest_station(sample_meteo, "precipitation_mm"), truth)
    print(f"precipitation correlation: grid {ours:.4f}, nearest station {baseline:.4f}")
    assert ours > baseline
    assert ours >= 0.85


def test_temperature_rmse_beats_the_nearest_station(sample_meteo):
    truth = sample_meteo.truth["air_temperature_c"]
    ours = rmse(gridded(sample_meteo, "air_temperature_c"), truth)
    baseline = rmse(nearest_station(sample_meteo, "air_temperature_c"), truth)
    print(f"temperature RMSE: grid {ours:.3f} C, nearest station {baseline:.3f} C")
    assert ours < baseline
    assert ours <= 1.0


def test_every_variable_is_gridded_within_its_physical_range(sample_meteo):
    grids = {variable: gridded(sample_meteo, variable) for variable in VARIABLES}
    assert all(grid.shape == (31, *sample_meteo.grid.shape) for grid in grids.values())
    assert np.nanmin(grids["precipitation_mm"]) >= 0
    assert 0 <= np.nanmin(grids["relative_humidity_pct"]) <= np.nanmax(grids["relative_humidity_pct"]) <= 100
    assert rmse(grids["air_pressure_hpa"], sample_meteo.truth["air_pressure_hpa"]) < 1.0


def test_a_rejected_wild_value_never_enters_a_grid(sample_meteo):
    day = dt.datetime(2019, 7, 10, tzinfo=dt.UTC)
    target = (pl.col("variable") == "precipitation_mm") & (pl.col("time") == day)
    station = sample_meteo.stations.codes[0]
    at = target & (pl.col("station") == station)
    wild = sample_meteo.polished.with_columns(
        value=pl.when(at).then(pl.lit(450.0)).otherwise("value"),
        flag=pl.when(at).then(pl.lit("rejected")).otherwise("flag"),
    )
    without = sample_meteo.polished.filter(~at)
    planted = gridded(sample_meteo, "precipitation_mm", wild)
    assert np.nanmax(planted[9]) < 100
    np.testing.assert_array_equal(planted, gridded(sample_meteo, "precipitation_mm", without))


def test_a_day_with_too_few_stations_is_marked_and_left_nodata(sample_meteo):
    day = dt.datetime(2019, 7, 20, tzinfo=dt.UTC)
    thinned = sample_meteo.stations.codes[:-1]
    polished = sample_meteo.polished.with_columns(
        flag=pl.when(
            (pl.col("variable") == "air_temperature_c")
            & (pl.col("time") == day)
            & pl.col("station").is_in(thinned)
        )
        .then(pl.lit("missing"))
        .otherwise("flag")
    )
    days = station_days(
        polished, sample_meteo.stations, VARIABLES["air_temperature_c"], sample_meteo.dates, SETTINGS
    )
    assert days.valid_stations[19] == 1
    assert days.too_few_stations[19] and days.too_few_stations.sum() == 1
    assert sorted(days.missing_stations[19]) == sorted(thinned)
    grid = interpolate_rows(days, sample_meteo.stations, sample_meteo.grid, WHOLE, SETTINGS)
    assert np.isnan(grid[19]).all() and np.isfinite(grid[18]).all()


def test_the_lapse_rate_is_fitted_only_where_the_stations_span_enough_elevation():
    elevation = np.array([100.0, 400.0, 700.0, 1000.0, 1300.0])
    temperature = 20.0 - 0.005 * elevation
    low = np.array([100.0, 105.0, 110.0, 115.0, 120.0])
    rates = lapse_rates(np.vstack([temperature, temperature]), elevation, SETTINGS)
    assert rates == pytest.approx([-5.0, -5.0])
    assert lapse_rates(temperature[None], low, SETTINGS) == pytest.approx([SETTINGS.lapse_rate_c_per_km])
    thin = np.where(np.arange(5) < 3, temperature, np.nan)[None]
    assert lapse_rates(thin, elevation, SETTINGS) == pytest.approx([SETTINGS.lapse_rate_c_per_km])


def test_a_station_beyond_the_search_radius_leaves_cells_nodata():
    stations = Stations(("a", "b"), np.array([0.0, 1000.0]), np.array([0.0, 0.0]), np.array([0.0, 0.0]))
    grid = AnalysisGrid(-250.0, 250.0, 500.0, np.zeros((2, 20)))  # column n's centre at x = 500 n
    polished = pl.DataFrame(
        {
            "station": ["a", "b"],
            "time": [dt.datetime(2020, 1, 1, tzinfo=dt.UTC)] * 2,
            "variable": ["precipitation_mm"] * 2,
            "value": [1.0, 3.0],
            "flag": ["ok", "ok"],
        }
    )
    settings = GriddingSettings(search_radius_m=2000.0)
    days = station_days(polished, stations, VARIABLES["precipitation_mm"], (dt.date(2020, 1, 1),), settings)
    values = interpolate_rows(days, stations, grid, WHOLE, settings)[0]
    assert 1.0 < values[0, 0] < 1.2 and 2.8 < values[0, 2] < 3.0  # a station in its cell dominates it
    assert np.isfinite(values[0, :7]).all() and np.isnan(values[0, 7:]).all()  # b reaches x = 3000 m
