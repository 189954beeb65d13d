"""CAMELS climatic indices (:mod:`landing_zone.defs.features.climatic_indices`): on real forcing (the
Delaware River Basin's two years of daily HRU forcing shipped by pywatershed 2.0.4) against a plain
per-HRU computation, and on synthetic series with known answers."""

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from landing_zone.defs.features.climatic_indices import (
    INDEX_SCHEMA,
    OMEGA,
    YEAR_DAYS,
    climatic_indices,
    reference_period,
)
from platform_dev.drb import pywatershed_drb_folder as drb_folder

HRUS = 40
"""HRUs of the basin taken (every 19th of 765): enough spread of elevation and latitude."""
MM_PER_INCH = 25.4


def hargreaves_pet(
    tmin_c: np.ndarray, tmax_c: np.ndarray, lat_deg: np.ndarray, doy: np.ndarray
) -> np.ndarray:
    """Hargreaves-Samani (1985) PET in mm/day, extraterrestrial radiation from FAO-56 eqs. 21-25."""
    phi = np.radians(lat_deg)[None, :]
    dr = 1 + 0.033 * np.cos(2 * np.pi * doy / 365)[:, None]
    decl = 0.409 * np.sin(2 * np.pi * doy / 365 - 1.39)[:, None]
    ws = np.arccos(np.clip(-np.tan(phi) * np.tan(decl), -1, 1))
    ra_mj = (
        24
        * 60
        / np.pi
        * 0.082
        * dr
        * (ws * np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.sin(ws))
    )
    tmean = (tmin_c + tmax_c) / 2
    return 0.0023 * 0.408 * ra_mj * (tmean + 17.8) * np.sqrt(np.maximum(tmax_c - tmin_c, 0))


def drb_series() -> dict[str, np.ndarray]:
    """(days, HRUs) precipitation (mm), mean temperature (C) and Hargreaves PET (mm) for :data:`HRUS`."""
    import xarray as xr

    folder = drb_folder()
    arrays = {}
    for name in ("prcp", "tmax", "tmin"):
        with xr.open_dataset(folder / f"{name}.nc") as dataset:
            arrays[name] = dataset[name].isel(nhm_id=slice(0, None, 765 // HRUS)).load()
    units = arrays["prcp"].attrs["units"], arrays["tmax"].attrs["units"], arrays["tmin"].attrs["units"]
    assert units == ("in", "degree_fahrenheit", "degree_fahrenheit")
    with xr.open_dataset(folder / "parameters_dis_hru.nc") as parameters:
        latitude = parameters["hru_lat"].sel(nhm_id=arrays["prcp"]["nhm_id"]).values
    tmax, tmin = ((arrays[name].values.astype(float) - 32) * 5 / 9 for name in ("tmax", "tmin"))
    dates = arrays["prcp"]["time"].values.astype("datetime64[D]")
    doy = (dates - dates.astype("datetime64[Y]")).astype(int) + 1
    return {
        "dates": dates,
        "ids": arrays["prcp"]["nhm_id"].values.astype(str),
        "p": arrays["prcp"].values.astype(float) * MM_PER_INCH,
        "t": (tmax + tmin) / 2,
        "pet": hargreaves_pet(tmin, tmax, latitude, doy),
    }


def forcing_frame(
    dates: np.ndarray, ids: np.ndarray, p: np.ndarray, t: np.ndarray, pet: np.ndarray
) -> pl.DataFrame:
    """The catchment-forcings schema's columns the indices read, one row per catchment and day, plus
    ``reach`` rows that must be ignored."""
    n_days, n_ids = p.shape
    progressive = pl.DataFrame(
        {
            "catchment_id": np.tile(ids, n_days),
            "catchment_kind": "progressive",
            "date": np.repeat(dates, n_ids),
            "precipitation_mm": p.ravel(),
            "air_temperature_c": t.ravel(),
            "pet_mm": pet.ravel(),
        }
    ).with_columns(pl.col("date").cast(pl.Date))
    reach = progressive.with_columns(catchment_kind=pl.lit("reach"), precipitation_mm=pl.lit(1000.0))
    return pl.concat([progressive, reach])


def mean_run(flags: np.ndarray) -> float:
    """Mean length of the runs of True, counted one day at a time."""
    runs, current = [], 0
    for flag in flags:
        if flag:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    if current:
        runs.append(current)
    return float(np.mean(runs)) if runs else 0.0


@pytest.fixture(scope="module")
def drb() -> tuple[dict[str, np.ndarray], pl.DataFrame]:
    series = drb_series()
    frame = forcing_frame(series["dates"], series["ids"], series["p"], series["t"], series["pet"])
    return series, climatic_indices(frame, *reference_period(frame, None, None)).sort("catchment_id")


def by_hru(indices: pl.DataFrame, series: dict[str, np.ndarray], column: str) -> np.ndarray:
    return indices.sort("catchment_id")[column].to_numpy()[np.argsort(np.argsort(series["ids"]))]


def test_drb_indices_are_physically_plausible(drb: tuple[dict[str, np.ndarray], pl.DataFrame]) -> None:
    series, indices = drb
    assert indices.schema == pl.Schema(INDEX_SCHEMA)
    assert indices.height == len(series["ids"])
    humid_temperate = {  # CAMELS catchments of the US north-east (Addor et al. 2017, fig. 3)
        "p_mean": (2.5, 4.5),
        "aridity": (0.4, 1.2),
        "t_mean": (5.0, 15.0),
        "frac_snow": (0.0, 0.4),
        "p_seasonality": (-0.4, 0.4),
        "low_prec_freq": (150.0, 300.0),
        "low_prec_dur": (2.0, 6.0),
        "high_prec_freq": (2.0, 40.0),
        "high_prec_dur": (1.0, 2.0),
    }
    for column, (low, high) in humid_temperate.items():
        values = indices[column].to_numpy()
        assert low <= values.min() and values.max() <= high, (column, values.min(), values.max())


def test_drb_indices_match_a_plain_computation(drb: tuple[dict[str, np.ndarray], pl.DataFrame]) -> None:
    series, indices = drb
    p, t, pet = series["p"], series["t"], series["pet"]
    years = p.shape[0] / YEAR_DAYS
    p_mean = p.mean(axis=0)
    expected = {
        "p_mean": p_mean,
        "t_mean": t.mean(axis=0),
        "aridity": pet.mean(axis=0) / p_mean,
        "frac_snow": np.where(t < 0, p, 0).sum(axis=0) / p.sum(axis=0),
        "low_prec_freq": (p < 1).sum(axis=0) / years,
        "high_prec_freq": (p >= 5 * p_mean).sum(axis=0) / years,
        "low_prec_dur": np.array([mean_run(p[:, i] < 1) for i in range(p.shape[1])]),
        "high_prec_dur": np.array([mean_run(p[:, i] >= 5 * p_mean[i]) for i in range(p.shape[1])]),
    }
    for column, values in expected.items():
        np.testing.assert_allclose(by_hru(indices, series, column), values, rtol=1e-9, err_msg=column)


def test_drb_seasonality_matches_a_nonlinear_fit(drb: tuple[dict[str, np.ndarray], pl.DataFrame]) -> None:
    """Woods' sine curves fitted by scipy's curve_fit (Addor's nls), not the module's normal equations."""
    from scipy.optimize import curve_fit

    series, indices = drb
    days = (series["dates"] - series["dates"][0]).astype(float)
    found = by_hru(indices, series, "p_seasonality")
    for i in range(0, len(series["ids"]), 8):
        p, t = series["p"][:, i], series["t"][:, i]
        (_, delta_p, s_p), _ = curve_fit(
            lambda x, m, d, s: m * (1 + d * np.sin(OMEGA * (x - s))), days, p, p0=[p.mean(), 0.1, 0]
        )
        (_, delta_t, s_t), _ = curve_fit(
            lambda x, m, d, s: m + d * np.sin(OMEGA * (x - s)), days, t, p0=[t.mean(), 10, 100]
        )
        expected = delta_p * np.sign(delta_t) * np.cos(OMEGA * (s_p - s_t))
        assert found[i] == pytest.approx(expected, abs=1e-6)


def synthetic(
    p: np.ndarray, t: np.ndarray | None = None, start: dt.date = dt.date(2001, 1, 1)
) -> pl.DataFrame:
    dates = np.arange(np.datetime64(start), np.datetime64(start) + len(p))
    temperature = np.full(len(p), 10.0) if t is None else t
    return forcing_frame(dates, np.array(["x"]), p[:, None], temperature[:, None], np.full((len(p), 1), 2.0))


def indices_of(frame: pl.DataFrame) -> dict[str, float]:
    return climatic_indices(frame, *reference_period(frame, None, None)).row(0, named=True)


@pytest.mark.parametrize(("shift_days", "sign"), [(0.0, 1), (YEAR_DAYS / 2, -1)])
def test_sine_precipitation_gives_the_known_seasonality(shift_days: float, sign: int) -> None:
    """P = 3 (1 + 0.6 sin(ω(t - s))) in phase with T gives +0.6, half a year off -0.6."""
    t = np.arange(3 * 365)
    temperature = 8 + 12 * np.sin(OMEGA * (t - 110))
    precipitation = 3 * (1 + 0.6 * np.sin(OMEGA * (t - 110 - shift_days)))
    assert indices_of(synthetic(precipitation, temperature))["p_seasonality"] == pytest.approx(
        sign * 0.6, abs=1e-9
    )


def test_uniform_precipitation_has_no_seasonality() -> None:
    t = np.arange(2 * 365)
    assert indices_of(synthetic(np.full(len(t), 2.0), 5 + 10 * np.sin(OMEGA * t)))[
        "p_seasonality"
    ] == pytest.approx(0, abs=1e-12)


def test_known_dry_spells_and_storms() -> None:
    """A 20-day cycle: 3 dry days, 5 wet (2 mm), 2 dry, 10 wet with one 100 mm day; dry spells last 3 and
    2 days (mean 2.5, 5 dry days per 20), the storm is one day (>= 5 x mean)."""
    cycle = np.array([0.0] * 3 + [2.0] * 5 + [0.5] * 2 + [2.0] * 4 + [100.0] + [2.0] * 5)
    indices = indices_of(synthetic(np.tile(cycle, 73)))
    assert indices["low_prec_dur"] == pytest.approx(2.5)
    assert indices["low_prec_freq"] == pytest.approx(5 / 20 * YEAR_DAYS)
    assert indices["high_prec_dur"] == pytest.approx(1.0)
    assert indices["high_prec_freq"] == pytest.approx(YEAR_DAYS / 20)


def test_no_events_gives_zero_duration_and_a_gap_ends_a_run() -> None:
    steady = indices_of(synthetic(np.full(400, 3.0)))
    assert (steady["high_prec_freq"], steady["high_prec_dur"], steady["low_prec_dur"]) == (0.0, 0.0, 0.0)
    frame = synthetic(np.zeros(10)).filter(pl.col("date") != dt.date(2001, 1, 6))
    assert indices_of(frame)["low_prec_dur"] == pytest.approx(4.5)


def test_frac_snow_and_reference_period() -> None:
    """Precipitation on frozen days counts as snow; the period cuts the series."""
    p = np.array([4.0, 1.0, 5.0, 10.0] * 100)
    t = np.array([-5.0, -1.0, 3.0, 0.0] * 100)
    frame = synthetic(p, t)
    assert indices_of(frame)["frac_snow"] == pytest.approx(5 / 20)
    period = reference_period(frame, dt.date(2001, 1, 3), dt.date(2001, 1, 4))
    assert climatic_indices(frame, *period)["frac_snow"].item() == 0.0
    with pytest.raises(ValueError, match="empty"):
        reference_period(frame, dt.date(2001, 2, 1), dt.date(2001, 1, 1))


def test_materialised_through_dagster_with_a_stored_forcings_table(tmp_path: Path) -> None:
    """The asset reads CATCHMENT_FORCINGS by key (here a stored table standing in for the forcings asset),
    runs its checks and records the reference period from its config."""
    import dagster as dg

    from landing_zone.defs.features.assets import catchment_climatic_indices
    from shared.assets.landing_zone import CATCHMENT_FORCINGS, CLIMATIC_INDICES, REGIONS
    from shared.resources.platform import PARQUET_IO_MANAGER, platform_resources
    from shared.resources.storage import StorageResource
    from shared.storage.layout import PARQUET, AssetLocation

    series = drb_series()
    frame = forcing_frame(series["dates"], series["ids"][:5], *(series[v][:, :5] for v in ("p", "t", "pet")))
    storage = StorageResource(url=str(tmp_path))
    region_name = REGIONS.get_partition_keys()[0]
    parquet = tmp_path / "forcings.parquet"
    frame.write_parquet(parquet)
    storage.get_storage().put_file(
        parquet, AssetLocation.for_partition(CATCHMENT_FORCINGS, REGIONS, region_name).key(PARQUET)
    )
    forcings = dg.AssetSpec(CATCHMENT_FORCINGS, partitions_def=REGIONS).with_io_manager_key(
        PARQUET_IO_MANAGER
    )
    result = dg.materialize(
        [forcings, catchment_climatic_indices],
        resources=platform_resources(storage),
        partition_key=region_name,
        selection=[CLIMATIC_INDICES],
        run_config={"ops": {"climatic_indices__catchment": {"config": {"start": "1980-01-01"}}}},
    )
    assert all(e.passed for e in result.get_asset_check_evaluations())
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["reference_start"].value, metadata["reference_end"].value) == (
        "1980-01-01",
        "1980-12-31",
    )
    assert metadata["reference_days"].value == 366
    assert metadata["catchments"].value == 5
