"""What the blocking checks of ``discharge_model/training_data`` read: small tables derived from the
candidate, one per concern, each row naming its basin and column so a failed check says where.

- :func:`period_table`: the periods in configured order and how many basins have enough target in each.
- :func:`coverage_table`: per basin and period, the share of days with a valid target.
- :func:`column_table`: per basin and expected column (dynamic input, static attribute, target): whether
  the input had it, its unit and physical range, missing values over the span, its value range.
- :func:`basin_table`: per basin, the catchment's area as gauge matching, forcings and attributes give it.

The coverage table is also what the asset stores (pivoted to one row per basin, :func:`summary`).
"""

from __future__ import annotations

import polars as pl

from discharge_model.defs.training_data.dataset import BASIN, Candidate
from discharge_model.defs.training_data.periods import PERIOD_NAMES
from discharge_model.defs.training_data.target import TARGET
from discharge_model.defs.training_data.units import unit_of


def coverage_table(candidate: Candidate, min_coverage: float) -> pl.DataFrame:
    """``basin``, ``catchment_id``, ``period``, ``column`` (the target), ``days``, ``valid_days``,
    ``coverage`` (valid / days; 0 for an empty period) and the threshold ``min_coverage``."""
    frames = []
    for period in PERIOD_NAMES:
        start, end = candidate.periods.bounds[period]
        days = max((end - start).days + 1, 0)
        in_period = candidate.series.filter(pl.col("date").is_between(start, end))
        valid = in_period.group_by(BASIN).agg(pl.col(TARGET).is_not_null().sum().alias("valid_days"))
        frames.append(
            candidate.basins.select(BASIN, "catchment_id")
            .join(valid, on=BASIN, how="left")
            .with_columns(
                period=pl.lit(period),
                column=pl.lit(TARGET),
                days=pl.lit(days, pl.Int64),
                valid_days=pl.col("valid_days").fill_null(0).cast(pl.Int64),
            )
        )
    table = pl.concat(frames, how="vertical") if frames else pl.DataFrame()
    return table.select(
        BASIN,
        "catchment_id",
        "period",
        "column",
        "days",
        "valid_days",
        pl.when(pl.col("days") > 0)
        .then(pl.col("valid_days") / pl.col("days"))
        .otherwise(0.0)
        .alias("coverage"),
        pl.lit(min_coverage).alias("min_coverage"),
    )


def period_table(candidate: Candidate, coverage: pl.DataFrame) -> pl.DataFrame:
    """``period``, ``period_order``, ``first_day``, ``last_day``, ``days`` and ``basins``: how many basins
    reach the coverage threshold in the period."""
    enough = (
        coverage.filter(pl.col("coverage") >= pl.col("min_coverage"))
        .group_by("period")
        .agg(pl.col(BASIN).n_unique().alias("basins"))
    )
    return (
        candidate.periods.table()
        .rename({"start": "first_day", "end": "last_day"})
        .join(enough, on="period", how="left")
        .with_columns(pl.col("basins").fill_null(0).cast(pl.Int64))
        .sort("period_order")
    )


def column_table(candidate: Candidate, sources: dict[str, str]) -> pl.DataFrame:
    """One row per basin and expected column: ``basin``, ``column``, ``role`` (dynamic, static, target),
    ``source`` (the asset key it comes from), ``present``, ``unit``, ``unit_min``, ``unit_max``,
    ``value_count``, ``missing`` (null days, or 1 for a missing attribute), ``first_missing`` (a date, for
    series), ``minimum``, ``maximum``.

    ``sources`` maps ``dynamic``, ``static`` and ``target`` to the asset keys they are read from.
    """
    frames = [
        _series_profile(candidate, column, "dynamic", sources["dynamic"])
        for column in candidate.dynamic_inputs
    ]
    frames.append(_series_profile(candidate, TARGET, "target", sources["target"]))
    frames.extend(
        _static_profile(candidate, column, sources["static"]) for column in candidate.static_attributes
    )
    return pl.concat(frames, how="vertical_relaxed").sort("role", "column", BASIN)


def _series_profile(candidate: Candidate, column: str, role: str, source: str) -> pl.DataFrame:
    values = pl.col(column)
    profile = candidate.series.group_by(BASIN).agg(
        values.is_not_null().sum().cast(pl.Int64).alias("value_count"),
        values.is_null().sum().cast(pl.Int64).alias("missing"),
        pl.col("date").filter(values.is_null()).min().alias("first_missing"),
        values.min().alias("minimum"),
        values.max().alias("maximum"),
    )
    return _described(profile, candidate, column, role, source)


def _static_profile(candidate: Candidate, column: str, source: str) -> pl.DataFrame:
    values = pl.col(column)
    profile = candidate.attributes.select(
        BASIN,
        values.is_not_null().cast(pl.Int64).alias("value_count"),
        values.is_null().cast(pl.Int64).alias("missing"),
        pl.lit(None, pl.Date).alias("first_missing"),
        values.alias("minimum"),
        values.alias("maximum"),
    )
    return _described(profile, candidate, column, "static", source)


def _described(
    profile: pl.DataFrame, candidate: Candidate, column: str, role: str, source: str
) -> pl.DataFrame:
    unit = unit_of(column)
    return profile.select(
        BASIN,
        pl.lit(column).alias("column"),
        pl.lit(role).alias("role"),
        pl.lit(candidate.missing_columns.get(column, source)).alias("source"),
        pl.lit(column not in candidate.missing_columns).alias("present"),
        pl.lit(unit.name if unit else None, pl.String).alias("unit"),
        pl.lit(unit.minimum if unit else None, pl.Float64).alias("unit_min"),
        pl.lit(unit.maximum if unit else None, pl.Float64).alias("unit_max"),
        "value_count",
        "missing",
        pl.col("first_missing").cast(pl.Date),
        pl.col("minimum").cast(pl.Float64),
        pl.col("maximum").cast(pl.Float64),
    )


def basin_table(candidate: Candidate) -> pl.DataFrame:
    """``basin``, ``catchment_id``, ``area_km2`` (gauge matching's progressive catchment),
    ``forcings_area_km2``, ``attributes_area_km2`` and ``tolerance_km2``: one analysis cell's area
    (areas are whole cells; the attributes' polygon areas may differ from cell counts by rounding only)."""
    return candidate.basins.select(
        BASIN,
        "catchment_id",
        "area_km2",
        "forcings_area_km2",
        "attributes_area_km2",
        (pl.col("cell_size_m") ** 2 / 1e6).alias("tolerance_km2"),
    )


def summary(basins: pl.DataFrame, coverage: pl.DataFrame) -> pl.DataFrame:
    """What the asset stores: one row per basin with its catchment and target coverage per period."""
    table = basins.select(BASIN, "catchment_id", "area_km2", "match_distance_m")
    for period in PERIOD_NAMES:
        shares = coverage.filter(pl.col("period") == period).select(
            BASIN, pl.col("coverage").alias(f"coverage_{period}")
        )
        table = table.join(shares, on=BASIN, how="left")
    return table
