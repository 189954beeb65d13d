"""Polishing on real climates: a stable offset is not drift, a real drift is, real discharge stays clean.

Real data: pywatershed ships two years (1979-1980) of the Delaware River Basin, observed daily discharge
at its gauges (cfs) and daily maximum temperature per hydrologic response unit (°F, gridded from
stations). Its package directory is found without importing pywatershed, whose import is heavy.
"""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import xarray as xr

from landing_zone.defs.stations.polishing import polish
from platform_dev.drb import pywatershed_drb_folder as drb_folder

CUBIC_FOOT_M3 = 0.3048**3
NETWORK_SIZE = 8
CENTRE_HRU = 300
ELEVATION_OFFSET_C = -1.0  # a station about 150 m higher, at -6.5 °C/km
DRIFT_START, DRIFT_END = 300, 665  # one year of drift, then the sensor is recalibrated
DRIFT_C_PER_DAY = 1.0 / 365.25
VISIBLE_DRIFT_C = 0.5


@pytest.fixture(scope="module")
def drb() -> Path:
    return drb_folder()


def days(count: int) -> pl.Series:
    return pl.datetime_range(
        dt.datetime(1979, 1, 1),
        dt.datetime(1979, 1, 1) + dt.timedelta(days=count - 1),
        "1d",
        time_zone="UTC",
        eager=True,
    )


def wide_table(series: dict[str, np.ndarray], variable: str) -> pl.DataFrame:
    """The raw layer's wide shape: one row per station and day, missing days absent."""
    frames = [
        pl.DataFrame({"station": station, "time": days(len(values)), variable: values.astype(float)})
        for station, values in series.items()
    ]
    return pl.concat(frames).with_columns(pl.col(variable).fill_nan(None)).drop_nulls(variable)


def rmse(errors: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(errors))))


@pytest.fixture(scope="module")
def temperature(drb: Path) -> dict[str, np.ndarray]:
    """Daily maximum temperature (°C, reported to 0.1 °C) of the eight units nearest one unit."""
    with xr.open_dataset(drb / "parameters_dis_hru.nc") as hru, xr.open_dataset(drb / "tmax.nc") as tmax:
        lat, lon = hru["hru_lat"].values, hru["hru_lon"].values
        values = np.round((tmax["tmax"].values.astype(np.float64) - 32.0) / 1.8, 1)
    distance = np.hypot(lat - lat[CENTRE_HRU], (lon - lon[CENTRE_HRU]) * np.cos(np.radians(lat[CENTRE_HRU])))
    nearest = np.argsort(distance)[:NETWORK_SIZE]
    return {f"hru{index}": values[:, index] for index in nearest}


def planted_drift(length: int) -> np.ndarray:
    day = np.arange(length)
    return np.where((day >= DRIFT_START) & (day < DRIFT_END), (day - DRIFT_START) * DRIFT_C_PER_DAY, 0.0)


@pytest.fixture(scope="module")
def planted(temperature: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str, str]:
    """The real network with one station offset (elevation) and another drifting."""
    names = list(temperature)
    high, drifting = names[1], names[2]
    series = dict(temperature)
    series[high] = temperature[high] + ELEVATION_OFFSET_C
    series[drifting] = temperature[drifting] + planted_drift(len(temperature[drifting]))
    return series, high, drifting


def station(polished: pl.DataFrame, name: str) -> pl.DataFrame:
    return polished.filter(pl.col("station") == name).sort("time")


def test_a_stable_offset_is_not_drift_and_stays_as_reported(temperature, planted):
    series, high, _ = planted
    with_offset = station(polish(wide_table(series, "air_temperature_c")), high)
    without = station(polish(wide_table({**series, high: temperature[high]}, "air_temperature_c")), high)
    assert with_offset.filter(pl.col("test") == "drift").is_empty()
    assert with_offset["flag"].to_list() == without["flag"].to_list()
    shift = (with_offset["value"] - without["value"]).drop_nulls()
    assert shift.len() > 700 and (shift - ELEVATION_OFFSET_C).abs().max() < 1e-6
    ok = with_offset.filter(pl.col("flag") == "ok")
    assert (ok["value"] == ok["raw_value"]).all()


def test_a_real_linear_drift_is_found_and_removed(temperature, planted):
    series, _, drifting = planted
    polished = polish(wide_table(series, "air_temperature_c"))
    result = station(polished, drifting)
    truth = temperature[drifting]
    drift = planted_drift(len(truth))
    flagged = (result["test"] == "drift").fill_null(False).to_numpy()
    visible = drift > VISIBLE_DRIFT_C
    assert flagged[visible].mean() >= 0.8
    assert flagged[drift == 0].mean() <= 0.01
    during = drift > 0
    before = rmse(result["raw_value"].to_numpy()[during] - truth[during])
    after = rmse(result["value"].to_numpy()[during] - truth[during])
    assert after <= 0.5 * before
    others = polished.filter(pl.col("station") != drifting)
    assert others.filter(pl.col("test") == "drift").height <= 0.01 * others.height


@pytest.fixture(scope="module")
def discharge(drb: Path) -> pl.DataFrame:
    """Observed daily discharge (m3/s) of every gauge with data, as hydro stations."""
    with xr.open_dataset(drb / "drb_2yr_gage_poi_obs.nc") as observed:
        gauges = observed["poi_id"].values
        values = observed["discharge"].values * CUBIC_FOOT_M3
    series = {str(gauge): row for gauge, row in zip(gauges, values, strict=True) if np.isfinite(row).any()}
    return wide_table(series, "discharge_m3s")


def test_clean_real_discharge_is_rarely_flagged(discharge):
    polished = polish(discharge)
    reported = polished.filter(pl.col("raw_value").is_not_null())
    flagged = reported.filter(~pl.col("flag").is_in(["ok", "missing"]))
    assert reported.height > 70_000
    assert flagged.height <= 0.005 * reported.height
    plateaus = reported.filter(pl.col("test") == "flatline")
    assert plateaus.height <= 0.001 * reported.height
