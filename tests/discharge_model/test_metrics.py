"""The evaluation's metrics and baseline against values known by construction, and NSE and KGE against
NeuralHydrology's own implementation."""

import numpy as np
import pandas as pd
import pytest

from discharge_model.defs.lstm.climatology import (
    DAYS_IN_YEAR,
    calendar_day,
    climatology_series,
    daily_climatology,
)
from discharge_model.defs.lstm.metrics import (
    PEAK_WINDOW_DAYS,
    kge_components,
    largest_peaks,
    nse,
    peak_timing,
    percent_bias,
    score,
)

RNG = np.random.default_rng(15)


def seasonal_flow(days: int = 730) -> np.ndarray:
    """A positive, seasonal discharge with noise (mm/day)."""
    t = np.arange(days)
    return 1.0 + 0.6 * np.sin(2 * np.pi * t / 365.25) + 0.2 * RNG.random(days)


def test_a_perfect_simulation_scores_one_everywhere() -> None:
    observed = seasonal_flow()
    scores = score(observed, observed.copy())
    assert scores.nse == pytest.approx(1.0)
    assert scores.kge == pytest.approx(1.0)
    assert (scores.kge_r, scores.kge_alpha, scores.kge_beta) == pytest.approx((1.0, 1.0, 1.0))
    assert scores.bias_pct == pytest.approx(0.0)
    assert scores.peak_timing_days == 0.0
    assert scores.valid_days == observed.size


def test_the_observed_mean_scores_nse_zero_and_kge_undefined_correlation() -> None:
    observed = seasonal_flow()
    mean = np.full_like(observed, observed.mean())
    assert nse(observed, mean) == pytest.approx(0.0, abs=1e-12)
    kge, r, alpha, beta = kge_components(observed, mean)
    assert np.isnan(r) and np.isnan(kge)  # a constant has no correlation
    assert alpha == 0.0 and beta == pytest.approx(1.0)


def test_nse_of_a_constant_offset_is_one_minus_offset_squared_over_variance() -> None:
    observed = seasonal_flow()
    offset = 0.3
    expected = 1.0 - offset**2 / observed.var()
    assert nse(observed, observed + offset) == pytest.approx(expected)


def test_kge_of_a_scaled_series_has_perfect_correlation_and_the_scale_as_alpha_and_beta() -> None:
    observed = seasonal_flow()
    kge, r, alpha, beta = kge_components(observed, 1.2 * observed)
    assert r == pytest.approx(1.0)
    assert alpha == pytest.approx(1.2)
    assert beta == pytest.approx(1.2)
    assert kge == pytest.approx(1.0 - np.sqrt(2 * 0.2**2))


def test_percent_bias_is_the_relative_volume_error() -> None:
    observed = seasonal_flow()
    assert percent_bias(observed, 1.1 * observed) == pytest.approx(10.0)
    assert percent_bias(observed, 0.75 * observed) == pytest.approx(-25.0)


def test_days_missing_in_either_series_are_left_out_of_every_score() -> None:
    observed = seasonal_flow()
    simulated = observed + 0.1 * RNG.standard_normal(observed.size)
    holey_obs, holey_sim = observed.copy(), simulated.copy()
    holey_obs[10:40] = np.nan
    holey_sim[100:130] = np.nan
    keep = np.isfinite(holey_obs) & np.isfinite(holey_sim)
    assert nse(holey_obs, holey_sim) == pytest.approx(nse(observed[keep], simulated[keep]))
    assert percent_bias(holey_obs, holey_sim) == pytest.approx(percent_bias(observed[keep], simulated[keep]))
    assert score(holey_obs, holey_sim).valid_days == keep.sum()


def test_undefined_scores_are_nan_not_errors() -> None:
    flat = np.ones(50)
    assert np.isnan(nse(flat, flat))  # no variance to compare with
    assert np.isnan(nse([np.nan] * 5, [1.0] * 5))
    assert np.isnan(percent_bias(np.zeros(5), np.ones(5)))
    assert np.isnan(peak_timing(flat, flat))  # no peak
    with pytest.raises(ValueError, match="equal length"):
        nse([1.0, 2.0], [1.0])


def flood_series(days: int, peaks: dict[int, float]) -> np.ndarray:
    """A base flow with triangular floods of the given heights at the given days."""
    series = np.full(days, 1.0)
    for day, height in peaks.items():
        for offset in range(-4, 5):
            series[day + offset] = max(series[day + offset], height - abs(offset) * height / 5)
    return series


def test_largest_peaks_are_the_highest_separated_maxima_away_from_the_edges() -> None:
    observed = flood_series(365, {50: 9.0, 60: 8.0, 120: 5.0, 200: 7.0, 300: 3.0})
    # 60 is within 30 days of the larger 50: a shoulder of the same event
    assert largest_peaks(observed, count=5, separation=30) == [50, 200, 120, 300]
    assert largest_peaks(observed, count=2, separation=30) == [50, 200]
    edge = flood_series(100, {2: 9.0, 50: 4.0})
    assert largest_peaks(edge, count=5, separation=30, margin=PEAK_WINDOW_DAYS) == [50]


def test_peak_timing_is_the_mean_absolute_lag_within_the_window() -> None:
    peaks = {50: 9.0, 120: 5.0, 200: 7.0, 300: 3.0}
    observed = flood_series(365, peaks)
    assert peak_timing(observed, np.roll(observed, 2)) == 2.0
    assert peak_timing(observed, np.roll(observed, -1)) == 1.0
    # a lag beyond the window counts as the window's edge: one missed event cannot dominate
    assert peak_timing(observed, np.roll(observed, 10)) <= PEAK_WINDOW_DAYS
    # a missing simulated day in a peak's window leaves that peak out
    simulated = np.roll(observed, 2)
    simulated[49] = np.nan
    assert peak_timing(observed, simulated) == 2.0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nse_and_kge_agree_with_neuralhydrology_on_random_series(seed: int) -> None:
    import xarray
    from neuralhydrology.evaluation import metrics as nh_metrics

    rng = np.random.default_rng(seed)
    observed = rng.gamma(2.0, 1.5, 400)
    simulated = observed * rng.normal(1.0, 0.3, 400) + rng.normal(0.0, 0.5, 400)
    simulated[rng.choice(400, 20, replace=False)] = np.nan
    dates = pd.date_range("2020-01-01", periods=400, freq="D")
    as_array = lambda values: xarray.DataArray(values, coords={"date": dates}, dims="date")  # noqa: E731
    assert nse(observed, simulated) == pytest.approx(nh_metrics.nse(as_array(observed), as_array(simulated)))
    assert kge_components(observed, simulated)[0] == pytest.approx(
        nh_metrics.kge(as_array(observed), as_array(simulated))
    )


def test_calendar_days_align_leap_and_common_years() -> None:
    dates = pd.DatetimeIndex(
        ["2019-02-28", "2019-03-01", "2020-02-28", "2020-02-29", "2020-03-01", "2020-12-31"]
    )
    assert calendar_day(dates).tolist() == [58, 59, 58, 58, 59, 364]


def test_the_climatology_of_a_pure_seasonal_cycle_reproduces_it() -> None:
    dates = pd.date_range("2018-01-01", "2021-12-31", freq="D")
    day = calendar_day(dates)
    cycle = 2.0 + np.sin(2 * np.pi * day / DAYS_IN_YEAR)
    climatology = daily_climatology(dates, cycle, smoothing_days=1)
    test_dates = pd.date_range("2023-01-01", "2023-12-31", freq="D")
    expected = 2.0 + np.sin(2 * np.pi * calendar_day(test_dates) / DAYS_IN_YEAR)
    assert climatology_series(test_dates, climatology) == pytest.approx(expected)
    # smoothing a sine over a month shrinks its amplitude only slightly and keeps its mean
    smoothed = daily_climatology(dates, cycle)
    assert smoothed.mean() == pytest.approx(2.0, abs=1e-4)  # 29 February weighs on 28 February
    assert np.ptp(smoothed) == pytest.approx(2.0 * np.sinc(31 / DAYS_IN_YEAR), rel=0.01)


def test_the_climatology_ignores_missing_days_and_refuses_an_empty_record() -> None:
    dates = pd.date_range("2018-01-01", "2019-12-31", freq="D")
    values = np.where(dates.year == 2018, 1.0, 3.0)
    values[dates.year == 2019] = np.nan  # only 2018 observed
    assert daily_climatology(dates, values) == pytest.approx(np.ones(DAYS_IN_YEAR))
    with pytest.raises(ValueError, match="no observed discharge"):
        daily_climatology(dates, np.full(len(dates), np.nan))
