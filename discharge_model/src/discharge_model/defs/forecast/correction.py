"""The forecast issued at a gauge: the model updated with the last observed discharge before the run.

The open-loop LSTM never sees discharge, so its error at a gauge persists from day to day: on the demo's
data it simulates 2022-23 with a median NSE of 0.55 but scores about -3.7 over the forecast window
(November-December 2023, dry, a tiny variance that a steady underestimate of about 40 % dwarfs), while
persistence of yesterday's observation scores 0.81 at lead day 1. Updating is the standard remedy: the
model's error on the day of the last observation, ``e = Q_obs(t0) - Q_model(t0)``, is carried onto each
forecast day ``t`` as ``e * k ** (t - t0 in days)``, and the issued forecast is ``max(0, Q_model(t) +
that)``: the last observation moved by the change the model predicts.

``k`` (``error_persistence``) defaults to 1: the error is carried whole over the horizon. Measured on the
demo's evaluation predictions (the stored model, perfect forcings) for every day of November-December
2023, median NSE over the five gauges at lead days 1..5:

==========================  =====  =====  =====  =====  =====
lead day                    1      2      3      4      5
==========================  =====  =====  =====  =====  =====
open-loop model             -3.77  -3.81  -4.13  -4.22  -4.28
persistence                 0.81   0.77   0.69   0.60   0.55
additive, k = 1             0.90   0.89   0.85   0.82   0.81
additive, AR(1) k = 0.80+   0.77   0.37   -0.18  -0.76  -1.31
multiplicative, k = 1       0.84   0.76   0.68   0.61   0.57
==========================  =====  =====  =====  =====  =====

The AR(1) factor estimated from the validation quarter's errors (lag-1 autocorrelation 0.80 to 0.88)
decays the correction within days, but the error that matters here is a slow bias of the season (the
errors of the test years are correlated far longer than those of the validation quarter), so it falls
below persistence from lead day 1; a ratio instead of a difference amplifies noise at low flow. The
constant is configuration, so a region whose errors do decorrelate can set it below 1.

Through the forecast asset itself (60 daily runs at 06 UTC, 1 November to 30 December 2023, forecast
forcings equal to the observed ones, verified by ``forecast_verification``), median NSE over the gauges at
lead days 1..5: issued 0.90, 0.89, 0.85, 0.82, 0.81; persistence 0.80, 0.77, 0.69, 0.60, 0.55; the
open-loop model -4.2 to -3.8 (volume bias -39 %, the issued forecast's -0.1 to -0.3 %).

From the GRIB2 runs themselves (``python -m platform_dev.forecast_cycles --hindcast 0,12`` after ``make
demo``: the 00 and 12 UTC runs of the source's 60 days, 118 forecasts, the truncated and the gapped run
stopped at their fields' checks), median NSE over the gauges at lead days 1..3: issued 0.87, 0.80, 0.61;
persistence 0.81, 0.75, 0.66; open-loop model -3.8, -4.3, -4.5. Forecast weather errors grow with lead
time, so by lead day 3 persistence catches up: the update is worth most where operations look first.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from discharge_model.defs.training_data.target import valid_discharge


def last_observations(
    polished: pl.DataFrame, gauges: list[str], run_day: dt.date, max_age_days: int
) -> pl.DataFrame:
    """``gauge``, ``last_observed_date``, ``last_observed_m3s``: each gauge's latest valid discharge on the
    ``max_age_days`` days before ``run_day`` (gauges without one are absent)."""
    first = run_day - dt.timedelta(days=max_age_days)
    return (
        valid_discharge(polished, gauges)
        .filter(pl.col("date").is_between(first, run_day - dt.timedelta(days=1)))
        .sort("date")
        .group_by("gauge")
        .agg(
            pl.col("date").last().alias("last_observed_date"),
            pl.col("observed_m3s").last().alias("last_observed_m3s"),
        )
    )


def corrected(
    forecast: pl.DataFrame, simulated: pl.DataFrame, observed: pl.DataFrame, k: float
) -> pl.DataFrame:
    """``forecast`` (``catchment_id``, ``gauge``, ``date``, ``discharge_m3s``) with ``last_observed_m3s``,
    ``last_observed_date`` and ``corrected_m3s``.

    ``simulated`` is the model's discharge (``catchment_id``, ``date``, ``discharge_m3s``) on the days
    before the run, ``observed`` the gauges' last observations with their ``catchment_id``. A gauge
    without a recent observation is issued the model as it is; a catchment without a gauge gets no
    issued value.
    """
    at_observation = observed.join(
        simulated.rename({"date": "last_observed_date", "discharge_m3s": "model_at_observation"}),
        on=["catchment_id", "last_observed_date"],
        how="inner",
    )
    updated = forecast.join(
        at_observation.select(
            "gauge", "catchment_id", "last_observed_date", "last_observed_m3s", "model_at_observation"
        ),
        on=["gauge", "catchment_id"],
        how="left",
    )
    days = (pl.col("date") - pl.col("last_observed_date")).dt.total_days()
    error = (pl.col("last_observed_m3s") - pl.col("model_at_observation")) * pl.lit(k, pl.Float64).pow(days)
    return updated.with_columns(
        corrected_m3s=pl.when(pl.col("gauge").is_null())
        .then(None)
        .when(pl.col("last_observed_m3s").is_null())
        .then(pl.col("discharge_m3s"))
        .otherwise((pl.col("discharge_m3s") + error).clip(lower_bound=0.0))
    ).drop("model_at_observation")
