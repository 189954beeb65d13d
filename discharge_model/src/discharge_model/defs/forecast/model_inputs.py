"""The model's input for one forecast run: each progressive catchment's dynamic inputs, observed up to the
day before the run's day and forecast from it on, written as NeuralHydrology's generic dataset.

The dataset is assembled by the training data's own code (:func:`~discharge_model.defs.training_data.
dataset.assemble` and :func:`~discharge_model.defs.training_data.dataset.write_dataset`): the same series
grid, the same static attributes taken from the same tables by the same rule, the same float32 netCDF,
so a forecast with perfect forcings is the model's simulation of those days. The basins are the
progressive catchments (``basin`` = ``catchment_id``), every one of them, gauged or not, and the target is
all NaN (nothing is observed yet).

The periods of the dataset are the forecast's own: the simulated days (:attr:`Window.first_simulated` to
the last lead day) are ``test``; before them only the model's warm-up (``seq_length`` days), described as
a one-day ``train`` and the rest as ``validation`` so the description keeps the contract's three periods.

Nothing is made up: a catchment whose observed forcings end before the run's day, a gap or a missing value
in the warm-up or in the forecast, or a missing static attribute refuses the run, naming the catchment and
the dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from discharge_model.defs.training_data.dataset import BASIN, Candidate, assemble
from discharge_model.defs.training_data.periods import Periods

FORCING_KEYS = ["catchment_id", "date", "area_km2"]
"""Columns every forcing row must have besides the dynamic inputs."""

POLISHED_SCHEMA: pl.Schema = pl.Schema(
    {
        "station": pl.String(),
        "time": pl.Datetime("us"),
        "variable": pl.String(),
        "value": pl.Float64(),
        "flag": pl.String(),
    }
)
"""An empty polished series: the forecast dataset has no target."""


class ForecastInputError(ValueError):
    """The run's inputs cannot drive the model; the message names the catchments, columns and dates."""


@dataclass(frozen=True)
class Window:
    """The days one run's dataset covers."""

    run_day: dt.date
    """Lead day 1: the run's own UTC day; observations end the day before."""
    first_simulated: dt.date
    """The first day the model's output is kept: early enough to hold the last observation it is
    updated with."""
    last_day: dt.date
    """The last lead day."""
    seq_length: int

    @property
    def warmup_start(self) -> dt.date:
        """The first day of input: a whole sequence before the first simulated day."""
        return self.first_simulated - dt.timedelta(days=self.seq_length)

    @property
    def observed_end(self) -> dt.date:
        return self.run_day - dt.timedelta(days=1)

    def periods(self) -> Periods:
        """The dataset's periods (see the module docstring)."""
        return Periods(
            {
                "train": (self.warmup_start, self.warmup_start),
                "validation": (
                    self.warmup_start + dt.timedelta(days=1),
                    self.first_simulated - dt.timedelta(days=1),
                ),
                "test": (self.first_simulated, self.last_day),
            }
        )


def lead_days(forecast: pl.DataFrame, run_day: dt.date) -> pl.DataFrame:
    """``date``, ``lead_day`` of the run: one per day from the run's day on, the same for every catchment.

    The model steps one day at a time, so a catchment with a missing or an extra lead day, or lead days
    that do not start on the run's day, is refused.
    """
    if forecast.is_empty():
        raise ForecastInputError(
            f"the forecast forcings of the run of {run_day} hold no progressive catchment"
        )
    days = forecast.select("date", "lead_day").unique().sort("date")
    expected = [run_day + dt.timedelta(days=n) for n in range(days.height)]
    if days["date"].to_list() != expected or days["lead_day"].to_list() != list(range(1, days.height + 1)):
        raise ForecastInputError(
            f"the forecast forcings' (date, lead day) {days.rows()} do not run one per day from lead "
            f"day 1 on the run's day {run_day}"
        )
    counts = forecast.group_by("catchment_id").len().filter(pl.col("len") != days.height)
    if counts.height:
        raise ForecastInputError(
            f"{counts.height} catchment(s) lack forecast days (least: "
            f"{counts.select(pl.col('len').min()).item()} of {days.height}): "
            f"{sorted(counts['catchment_id'])[:10]}"
        )
    return days


def refuse_short_observations(observed: pl.DataFrame, window: Window, asset: str) -> None:
    """Every catchment's observed forcings reach the day before the run's day (named when they do not)."""
    needs = (
        f"the run of {window.run_day} needs them through {window.observed_end}, from "
        f"{window.warmup_start} (the model's {window.seq_length}-day warm-up)"
    )
    if observed.is_empty():
        raise ForecastInputError(
            f"the observed forcings ({asset}) hold no day of {window.warmup_start}..{window.observed_end} "
            f"for the run's catchments: {needs}"
        )
    last = observed.group_by("catchment_id").agg(pl.col("date").max().alias("last"))
    short = last.filter(pl.col("last") < window.observed_end)
    if short.height:
        raise ForecastInputError(
            f"the observed forcings ({asset}) end on {short.select(pl.col('last').min()).item()} for "
            f"{short.height} catchment(s) ({sorted(short['catchment_id'])[:5]}): {needs}"
        )


def model_input(
    observed: pl.DataFrame,
    forecast: pl.DataFrame,
    attribute_tables: Mapping[str, pl.DataFrame],
    window: Window,
    dynamic_inputs: Sequence[str],
    static_attributes: Sequence[str],
    forcings_asset: str,
) -> Candidate:
    """The dataset of every catchment of ``forecast``: observed days before the run's day, forecast days
    from it on; refused when any input the model reads is missing."""
    ids = forecast["catchment_id"].unique().sort()
    areas = forecast.group_by("catchment_id").agg(pl.col("area_km2").first())
    rows = pl.concat(
        [
            observed.filter(pl.col("date").is_between(window.warmup_start, window.observed_end)),
            forecast,
        ],
        how="diagonal_relaxed",
    ).filter(pl.col("catchment_id").is_in(ids.implode()))
    lacking = [
        column
        for column in dynamic_inputs
        if column not in observed.columns or column not in forecast.columns
    ]
    if lacking:
        raise ForecastInputError(f"the model reads {lacking}, which the observed or forecast forcings lack")
    catchments = areas.select(
        pl.col("catchment_id").alias("gauge"),
        "catchment_id",
        pl.col("area_km2").alias("catchment_area_km2"),
        pl.lit(None, pl.Float64).alias("match_distance_m"),
        pl.lit(None, pl.Float64).alias("cell_size_m"),
    )
    candidate = assemble(
        catchments,
        rows.select(*FORCING_KEYS, *dynamic_inputs),
        dict(attribute_tables),
        POLISHED_SCHEMA.to_frame(),
        window.periods(),
        dynamic_inputs,
        static_attributes,
        forcings_asset,
    )
    refuse_incomplete(candidate, window)
    return candidate


def refuse_incomplete(candidate: Candidate, window: Window) -> None:
    """A gap in a dynamic input or a missing static attribute names the catchment, the column and the
    first dates: the model would turn a NaN input into a NaN forecast."""
    if candidate.missing_columns:
        raise ForecastInputError(f"no input has the column(s) {candidate.missing_columns}")
    for column in candidate.dynamic_inputs:
        gaps = candidate.series.filter(pl.col(column).is_null())
        if gaps.height:
            first = gaps.sort("date").row(0, named=True)
            where = "observed" if first["date"] < window.run_day else "forecast"
            raise ForecastInputError(
                f"{column} is missing on {gaps.height} catchment-day(s) of {window.warmup_start}.."
                f"{window.last_day}, first in the {where} forcings of catchment {first[BASIN]} on "
                f"{first['date']}"
            )
    for column in candidate.static_attributes:
        gaps = candidate.attributes.filter(pl.col(column).is_null())
        if gaps.height:
            raise ForecastInputError(
                f"static attribute {column} is missing for catchment(s) {sorted(gaps[BASIN])[:10]}"
            )
