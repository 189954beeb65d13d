"""The model's target: specific discharge in mm/day at each gauge, from valid polished values only.

NeuralHydrology learns one model for basins of very different sizes, so the target is discharge per unit
area (what CAMELS and the LSTM literature use): ``Q [m3/s] * 86400 s/day / (A [km2] * 1e6 m2/km2) * 1000
mm/m = Q * 86.4 / A``. A day without a valid value is NaN: NeuralHydrology masks NaN targets in the loss,
so a gap costs a training sample, not a made-up value.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

DISCHARGE_VARIABLE = "discharge_m3s"
"""The polished series' variable the target is computed from (``hydro/polished_timeseries``)."""

TARGET = "discharge_mm"
"""The target column of the dataset: specific discharge, mm/day."""

VALID_FLAGS = ("ok", "duplicate", "corrected", "imputed")
"""Polishing flags whose value the model may learn from, the same set the landing zone's gridding uses
(``landing_zone/defs/features/gridding.py``, ``VALID_FLAGS``): polishing vouches for each (``imputed``
values are short linear gap fills within the rules' ``fill_limit_days``); ``rejected`` and ``missing``
never enter, whatever their ``value`` holds. Copied, not imported: the discharge model reads the landing
zone by registry key only, and the flags are part of the polished series' published content."""

M3S_TO_MM_PER_DAY_KM2 = 86.4
"""``Q [m3/s] * 86.4 / A [km2]`` is ``Q`` as a water depth over ``A`` in mm/day."""


def specific_discharge(
    polished: pl.DataFrame, gauge_areas: dict[str, float], start: dt.date, end: dt.date
) -> pl.DataFrame:
    """``(basin, date, discharge_mm)`` for each gauge of ``gauge_areas`` ({gauge: catchment km2}) and
    each day of ``start``..``end`` that the polished series holds; invalid values are null.

    ``polished`` is the long polished table (``station``, ``time`` at 00:00 UTC, ``variable``, ``value``,
    ``flag``). A gauge-day listed twice is an error naming both: the polished series' primary key says it
    cannot happen, and picking one silently would hide the fault.
    """
    rows = (
        polished.filter(
            (pl.col("variable") == DISCHARGE_VARIABLE) & pl.col("station").is_in(list(gauge_areas))
        )
        .with_columns(date=pl.col("time").dt.date())
        .filter(pl.col("date").is_between(start, end))
    )
    repeated = rows.group_by("station", "date").len().filter(pl.col("len") > 1)
    if repeated.height:
        first = repeated.sort("station", "date").row(0, named=True)
        raise ValueError(
            f"{DISCHARGE_VARIABLE} of gauge {first['station']} is listed {first['len']} times on "
            f"{first['date']} in the polished series ({repeated.height} gauge-days repeated)"
        )
    area = pl.col("station").replace_strict(gauge_areas, return_dtype=pl.Float64)
    return rows.select(
        pl.col("station").alias("basin"),
        "date",
        pl.when(valid_value()).then(pl.col("value") * M3S_TO_MM_PER_DAY_KM2 / area).alias(TARGET),
    )


def valid_value() -> pl.Expr:
    """A polished row whose value the model may use: a :data:`VALID_FLAGS` flag and a number."""
    return pl.col("flag").is_in(VALID_FLAGS) & pl.col("value").is_not_null() & pl.col("value").is_not_nan()


def valid_discharge(polished: pl.DataFrame, gauges: list[str]) -> pl.DataFrame:
    """``gauge``, ``date``, ``observed_m3s``: the valid daily discharge of ``gauges`` in the long polished
    table (what forecasts are updated with and scored against)."""
    return (
        polished.filter(
            (pl.col("variable") == DISCHARGE_VARIABLE) & pl.col("station").is_in(gauges) & valid_value()
        )
        .select(
            pl.col("station").alias("gauge"),
            pl.col("time").dt.date().alias("date"),
            pl.col("value").alias("observed_m3s"),
        )
        .unique(["gauge", "date"], keep="first")
    )
