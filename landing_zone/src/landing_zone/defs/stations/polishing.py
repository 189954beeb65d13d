"""Polish station series: regular daily index, physical tests, gap filling, a flag per value.

Input: the typed wide tables of the raw layer (``station``, ``time``, one column per variable). Output:
one long row per station, day and variable with ``raw_value``, ``value``, ``flag`` (ok, corrected,
imputed, missing, rejected) and ``test`` (which test rejected or corrected it). Gaps stay as rows;
nothing is dropped and stitched. Everything is vectorised polars over (station, variable) windows,
and every limit comes from :data:`rules.RULES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from landing_zone.defs.stations.rules import RULES, VariableRule

OUTPUT_SCHEMA = pl.Schema(
    {
        "station": pl.String(),
        "time": pl.Datetime("us", "UTC"),
        "variable": pl.String(),
        "raw_value": pl.Float64(),
        "value": pl.Float64(),
        "flag": pl.String(),
        "test": pl.String(),
    }
)


def polish(wide: pl.DataFrame, rules: Mapping[str, VariableRule] = RULES) -> pl.DataFrame:
    """Polish every variable of every station found in ``wide``."""
    variables = [name for name in wide.columns if name in rules]
    regular = _regular_index(_deduplicated(wide), variables)
    long = regular.unpivot(
        index=["station", "time"], on=variables, variable_name="variable", value_name="raw_value"
    )
    # unpivot stacks one block per variable, each sorted by station and time: groups are contiguous runs
    long = long.with_columns(gid=pl.concat_str("variable", "station", separator="|").rle_id())
    frames = [_polish_variable(long.filter(pl.col("variable") == name), rules[name]) for name in variables]
    return (
        pl.concat(frames)
        .select(OUTPUT_SCHEMA.names())
        .cast(OUTPUT_SCHEMA)
        .sort("station", "variable", "time")
    )


def _deduplicated(wide: pl.DataFrame) -> pl.DataFrame:
    """A repeated (station, time) keeps its last reading: providers append revisions."""
    return wide.unique(["station", "time"], keep="last", maintain_order=True)


def _regular_index(wide: pl.DataFrame, variables: Iterable[str]) -> pl.DataFrame:
    """Every day between each station's first and last report, missing days as null rows."""
    spans = wide.group_by("station").agg(
        pl.col("time").min().alias("start"), pl.col("time").max().alias("end")
    )
    calendar = spans.select(
        "station", pl.datetime_ranges("start", "end", interval="1d").alias("time")
    ).explode("time")
    values = wide.select("station", "time", *variables)
    return calendar.join(values, on=["station", "time"], how="left").sort("station", "time")


def _polish_variable(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    raw = pl.col("raw_value")
    frame = frame.with_columns(test=_rejection_test(rule))
    frame = frame.with_columns(kept=pl.when(pl.col("test").is_null()).then(raw))
    frame = _correct_drift(frame, rule)
    filled = _filled(pl.col("kept"), rule)
    return frame.with_columns(
        value=pl.coalesce(pl.col("kept"), filled),
        flag=pl.when(pl.col("test").is_not_null() & pl.col("kept").is_not_null())
        .then(pl.lit("corrected"))
        .when(pl.col("kept").is_not_null())
        .then(pl.lit("ok"))
        .when(filled.is_not_null())
        .then(pl.lit("imputed"))
        .when(raw.is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit("rejected")),
    )


def _rejection_test(rule: VariableRule) -> pl.Expr:
    """The first failed test's name per value, null when the value passes every test."""
    raw = pl.col("raw_value")
    outside = (raw < rule.minimum) | (raw > rule.maximum)
    return (
        pl.when(outside)
        .then(pl.lit("bounds"))
        .when(_spike(rule))
        .then(pl.lit("spike"))
        .when(_flatline(rule))
        .then(pl.lit("flatline"))
    )


def _spike(rule: VariableRule) -> pl.Expr:
    """Far from both nearest valid neighbours in the same direction (and, for skewed signals, a
    multiple of them): an isolated excursion that comes straight back."""
    if rule.spike_step is None:
        return pl.lit(False)
    raw = pl.col("raw_value")
    previous = raw.shift(1).forward_fill().over("gid")
    following = raw.shift(-1).backward_fill().over("gid")
    up = (raw - previous > rule.spike_step) & (raw - following > rule.spike_step)
    down = (previous - raw > rule.spike_step) & (following - raw > rule.spike_step)
    if rule.spike_ratio is not None:
        neighbourhood = pl.max_horizontal(previous, following, pl.lit(0.05))
        up = up & (raw > rule.spike_ratio * neighbourhood)
        down = pl.lit(False)
    return (up | down).fill_null(False)


def _flatline(rule: VariableRule) -> pl.Expr:
    """Members (after the first) of a run of at least ``flatline_days`` identical values."""
    if rule.flatline_days is None:
        return pl.lit(False)
    raw = pl.col("raw_value")
    run = pl.struct("gid", "raw_value").rle_id()
    position = pl.int_range(pl.len()).over(run)
    length = pl.len().over(run)
    natural = raw.is_in(list(rule.flatline_ignores)) if rule.flatline_ignores else pl.lit(False)
    return ((length >= rule.flatline_days) & (position > 0) & raw.is_not_null() & ~natural).fill_null(False)


def _correct_drift(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    """Remove a slowly growing bias against the other stations (needs three or more stations)."""
    if rule.drift_limit is None or frame["station"].n_unique() < 3:
        return frame
    kept = pl.col("kept")
    consensus = frame.group_by("time").agg(pl.col("kept").median().alias("consensus"))
    frame = frame.join(consensus, on="time", how="left", maintain_order="left")
    bias = (
        (kept - pl.col("consensus")).rolling_median(window_size=31, min_samples=10, center=True).over("gid")
    )
    drifting = (bias.abs() > rule.drift_limit).fill_null(False) & kept.is_not_null()
    return frame.with_columns(
        test=pl.when(drifting).then(pl.lit("drift")).otherwise(pl.col("test")),
        kept=pl.when(drifting).then(kept - bias).otherwise(kept),
    ).drop("consensus")


def _filled(kept: pl.Expr, rule: VariableRule) -> pl.Expr:
    """Gap filling per rule; only gaps of at most ``fill_limit_days`` are filled."""
    if rule.fill == "none" or rule.fill_limit_days <= 0:
        return pl.lit(None, dtype=pl.Float64)
    gap = kept.is_null()
    run = pl.struct(pl.col("gid"), gap).rle_id()
    short = gap & (pl.len().over(run) <= rule.fill_limit_days)
    filled = kept.interpolate().over("gid") if rule.fill == "linear" else kept.forward_fill().over("gid")
    return pl.when(short).then(filled)
