"""CAMELS climatic indices (Addor et al. 2017, HESS 21, 5293, table 2) from daily catchment forcings.

Input: a polars frame with the ``features/catchment_forcings`` schema (:data:`FORCING_COLUMNS`); only
``catchment_kind == "progressive"`` rows count. Every index is computed for every catchment at once
(polars group-bys, and one least-squares solve per catchment for the seasonality):

- ``p_mean``, ``pet_mean``, ``t_mean``: mean daily precipitation (mm/day), PET (mm/day), air temperature
  (C); ``aridity = pet_mean / p_mean``.
- ``p_seasonality``: Woods (2009) as in Addor: sine curves ``P(t) = p̄ (1 + δp sin(ω (t - sp)))`` and
  ``T(t) = T̄ + ΔT sin(ω (t - sT))`` with ``ω = 2π / 365.25 days`` fitted to the daily series, and
  ``p_seasonality = δp · sign(ΔT) · cos(ω (sp - sT))``. Both fits are linear least squares in
  ``a + b sin(ωt) + c cos(ωt)`` (the same curves as Addor's ``nls``, without its start values):
  amplitude ``sqrt(b² + c²)``, phase ``atan2(-c, b) / ω``. With ΔT taken as the (positive) amplitude,
  ``sign(ΔT) = 1``. Positive: precipitation peaks with temperature (summer); negative: in winter; 0:
  uniform.
- ``frac_snow``: share of the period's precipitation that fell on days with mean temperature below 0 C.
- ``high_prec_freq``: days per year with P >= 5 x ``p_mean``; ``high_prec_dur``: mean length in days of
  runs of such consecutive days.
- ``low_prec_freq``: days per year with P < 1 mm; ``low_prec_dur``: mean length of such dry spells.

Days per year are ``count / days in the period x 365.25``. A run ends at a day that does not qualify or at
a missing day (a gap in the dates, or a null value), so no run spans data we do not have. A catchment with
no such event has duration 0 (its frequency is 0 too, so the 0 is unambiguous). Means ignore nulls.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

PRECIPITATION = "precipitation_mm"
TEMPERATURE = "air_temperature_c"
PET = "pet_mm"
FORCING_COLUMNS = ("catchment_id", "catchment_kind", "date", PRECIPITATION, TEMPERATURE, PET)
"""The forcing columns the indices read."""

YEAR_DAYS = 365.25
"""Days per year: the frequencies' unit and the seasonal cycle's period."""
OMEGA = 2 * np.pi / YEAR_DAYS
"""Angular frequency of the seasonal cycle, per day."""
HIGH_PRECIPITATION_FACTOR = 5.0
"""A high-precipitation day has at least this multiple of the catchment's mean daily precipitation."""
DRY_DAY_MM = 1.0
"""A dry (low-precipitation) day has less than this much precipitation."""
SNOW_BELOW_C = 0.0
"""Precipitation on days with a mean temperature below this counts as snow."""

INDEX_SCHEMA = {
    "catchment_id": pl.String,
    "p_mean": pl.Float64,
    "pet_mean": pl.Float64,
    "t_mean": pl.Float64,
    "aridity": pl.Float64,
    "p_seasonality": pl.Float64,
    "frac_snow": pl.Float64,
    "high_prec_freq": pl.Float64,
    "high_prec_dur": pl.Float64,
    "low_prec_freq": pl.Float64,
    "low_prec_dur": pl.Float64,
}
"""The ``climatic_indices/catchment`` table (:data:`shared.assets.landing_zone.CLIMATIC_INDICES`)."""
INDEX_DESCRIPTIONS = {
    "p_mean": "Mean daily precipitation over the reference period (mm/day)",
    "pet_mean": "Mean daily potential evapotranspiration, Oudin (mm/day)",
    "t_mean": "Mean daily air temperature (°C)",
    "aridity": "pet_mean / p_mean (dimensionless)",
    "p_seasonality": "Seasonality of precipitation after Woods 2009 (dimensionless; > 0: summer peak, "
    "< 0: winter)",
    "frac_snow": "Share (0-1) of precipitation falling on days below 0 °C",
    "high_prec_freq": "Frequency of days with at least 5 times the mean daily precipitation (days/year)",
    "high_prec_dur": "Mean length of runs of consecutive high-precipitation days (days)",
    "low_prec_freq": "Frequency of dry days, below 1 mm (days/year)",
    "low_prec_dur": "Mean length of dry spells (days)",
}
"""Descriptions, with units, of :data:`INDEX_SCHEMA`'s columns (CAMELS definitions)."""


def reference_period(
    forcings: pl.DataFrame, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The period the indices cover: ``start``..``end`` (inclusive), each defaulting to the forcings'
    first or last date."""
    dates = forcings["date"].drop_nulls()
    if dates.is_empty():
        raise ValueError("the catchment forcings hold no dates")
    first, last = start or dates.min(), end or dates.max()
    if not isinstance(first, dt.date) or not isinstance(last, dt.date):
        raise TypeError(f"the forcings' date column is {forcings.schema['date']}, not Date")
    if first > last:
        raise ValueError(f"reference period {first}..{last} is empty")
    return first, last


def climatic_indices(forcings: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """One row of :data:`INDEX_SCHEMA` per progressive catchment over ``start``..``end`` (inclusive)."""
    days = (
        forcings.filter((pl.col("catchment_kind") == "progressive") & pl.col("date").is_between(start, end))
        .select(FORCING_COLUMNS)
        .drop("catchment_kind")
        .sort("catchment_id", "date")
    )
    if days.is_empty():
        raise ValueError(f"no progressive catchment has forcings in {start}..{end}")
    period_days = (end - start).days + 1
    means = mean_indices(days)
    events = event_indices(days.join(means.select("catchment_id", "p_mean"), on="catchment_id"), period_days)
    seasonality = seasonality_index(days)
    return (
        means.join(events, on="catchment_id", how="left")
        .join(seasonality, on="catchment_id", how="left")
        .select(pl.col(name).cast(dtype) for name, dtype in INDEX_SCHEMA.items())
        .sort("catchment_id")
    )


def mean_indices(days: pl.DataFrame) -> pl.DataFrame:
    """p_mean, pet_mean, t_mean, aridity and frac_snow per catchment."""
    snow = pl.col(PRECIPITATION).filter(pl.col(TEMPERATURE) < SNOW_BELOW_C).sum()
    return (
        days.group_by("catchment_id")
        .agg(
            p_mean=pl.col(PRECIPITATION).mean(),
            pet_mean=pl.col(PET).mean(),
            t_mean=pl.col(TEMPERATURE).mean(),
            frac_snow=snow / pl.col(PRECIPITATION).sum(),
        )
        .with_columns(aridity=pl.col("pet_mean") / pl.col("p_mean"))
    )


def event_indices(days: pl.DataFrame, period_days: int) -> pl.DataFrame:
    """Frequencies (days/yr) and mean run lengths (days) of high-precipitation and dry days."""
    precipitation = pl.col(PRECIPITATION)
    flagged = days.with_columns(
        high=(precipitation >= HIGH_PRECIPITATION_FACTOR * pl.col("p_mean")).fill_null(False),
        low=(precipitation < DRY_DAY_MM).fill_null(False),
    )
    frequencies = flagged.group_by("catchment_id").agg(
        high_prec_freq=pl.col("high").sum() / period_days * YEAR_DAYS,
        low_prec_freq=pl.col("low").sum() / period_days * YEAR_DAYS,
    )
    return (
        frequencies.join(run_durations(flagged, "high"), on="catchment_id", how="left")
        .join(run_durations(flagged, "low"), on="catchment_id", how="left")
        .with_columns(pl.col("high_prec_dur", "low_prec_dur").fill_null(0.0))
    )


def run_durations(flagged: pl.DataFrame, flag: str) -> pl.DataFrame:
    """``{flag}_prec_dur``: mean length of the runs of consecutive flagged days, per catchment (catchments
    without a run are absent). A new run starts where the flag switches on or a day is missing."""
    gap = pl.col("date").diff().dt.total_days().over("catchment_id").fill_null(1) != 1
    started = pl.col(flag) & (~pl.col(flag).shift(1).over("catchment_id").fill_null(False) | gap)
    runs = (
        flagged.select("catchment_id", flag, run=started.cast(pl.Int64).cum_sum().over("catchment_id"))
        .filter(pl.col(flag))
        .group_by("catchment_id", "run")
        .len()
    )
    return runs.group_by("catchment_id").agg(pl.col("len").mean().alias(f"{flag}_prec_dur"))


def seasonality_index(days: pl.DataFrame) -> pl.DataFrame:
    """``p_seasonality`` per catchment from the two sine fits (module docstring)."""
    phase = (pl.col("date") - pl.lit(dt.date(2000, 1, 1))).dt.total_days() * OMEGA
    basis = days.with_columns(sin=phase.sin(), cos=phase.cos())
    p_mean, p_amplitude, p_phase = sine_fits(basis, PRECIPITATION)
    _, _, t_phase = sine_fits(basis, TEMPERATURE)
    with np.errstate(invalid="ignore", divide="ignore"):
        delta_p = np.where(p_mean > 0, p_amplitude / p_mean, 0.0)
    seasonality = delta_p * np.cos(OMEGA * (p_phase - t_phase))  # sign(ΔT) = 1: amplitudes are >= 0
    ids = basis["catchment_id"].unique().sort()
    return pl.DataFrame({"catchment_id": ids, "p_seasonality": seasonality})


def sine_fits(basis: pl.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per catchment (sorted by id) ``(mean, amplitude, phase)`` of
    ``mean + amplitude sin(ω (t - phase))`` fitted by least squares to the non-null values (amplitude >= 0,
    phase in days). The normal equations of ``a + b sin(ωt) + c cos(ωt)`` are sums per catchment, so one
    group-by and one batched 3x3 solve fit every catchment."""
    y, s, c = pl.col(column), pl.col("sin"), pl.col("cos")
    products = {"n": y.is_not_null(), "s": s, "c": c, "ss": s * s, "sc": s * c, "cc": c * c, "y": y}
    products |= {"ys": y * s, "yc": y * c}
    sums = (
        basis.filter(y.is_not_null())
        .group_by("catchment_id")
        .agg(expression.sum().cast(pl.Float64).alias(name) for name, expression in products.items())
        .sort("catchment_id")
    )
    if sums.height != basis["catchment_id"].n_unique():
        raise ValueError(f"a catchment has no {column} value to fit a seasonal cycle to")
    n, s1, c1, ss, sc, cc, y1, ys, yc = (sums[name].to_numpy() for name in products)
    normal = np.stack([np.stack([n, s1, c1], -1), np.stack([s1, ss, sc], -1), np.stack([c1, sc, cc], -1)], 1)
    a, b, c_ = np.linalg.solve(normal, np.stack([y1, ys, yc], -1)[..., None])[..., 0].T
    return a, np.hypot(b, c_), np.arctan2(-c_, b) / OMEGA
