"""Polish station series: regular daily index, physical tests, gap filling, a flag per value.

Input: the typed wide tables of the raw layer (``station``, ``time``, one column per variable). Output:
one long row per station, day (``time``, 00:00 UTC; ``observed_at`` is the reading's own timestamp) and
variable with ``raw_value``, ``value``, ``flag`` (ok, duplicate, corrected,
imputed, missing, rejected) and ``test`` (which test rejected or corrected it). Gaps stay as rows;
nothing is dropped and stitched.

Duplicate readings (more than one row for a station and UTC day) are never resolved silently. Per
variable, the readings' non-null values either agree or they do not:

- they agree: that value is used and, if it passes every test, flagged ``duplicate`` (not ``ok``);
- they disagree: the value cannot be trusted, so it is rejected by the test ``duplicate`` (and, like any
  rejected value, may be imputed from its neighbours where the rules fill gaps). ``raw_value`` keeps
  the last reading (providers append revisions), so the raw layer's file is the place to see them all.

:func:`duplicate_summary` counts both kinds, for the asset's metadata.

Everything is vectorised polars over (station, variable) windows, and every limit comes from
:data:`rules.RULES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import polars as pl

from landing_zone.defs.stations.rules import RULES, VariableRule

OUTPUT_SCHEMA = pl.Schema(
    {
        "station": pl.String(),
        "time": pl.Datetime("us", "UTC"),
        "observed_at": pl.Datetime("us", "UTC"),
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
    regular = _regular_index(_deduplicated(wide, variables), variables)
    # rows are sorted by station and time, so each station is one contiguous run: its run id is the group
    regular = regular.with_columns(gid=pl.col("station").rle_id())
    frames = [
        _polish_variable(
            regular.select(
                "station",
                "time",
                "observed_at",
                "gid",
                "readings",
                pl.lit(name).alias("variable"),
                pl.col(name).alias("raw_value"),
                pl.col(_conflict(name)).alias("conflict"),
            ),
            rules[name],
        )
        for name in variables
    ]
    # ordered by variable, then station and time: the order the groups were processed in
    return pl.concat(frames).select(OUTPUT_SCHEMA.names()).cast(OUTPUT_SCHEMA)


def duplicate_summary(polished: pl.DataFrame) -> dict[str, int]:
    """How many polished values came from duplicate readings that agreed, and from ones that did not."""
    return {
        "agreeing": polished.filter(pl.col("flag") == "duplicate").height,
        "conflicting": polished.filter(pl.col("test") == "duplicate").height,
    }


def _conflict(variable: str) -> str:
    """Internal column: the day's readings of ``variable`` disagree."""
    return f"__conflict_{variable}"


def _deduplicated(wide: pl.DataFrame, variables: Iterable[str]) -> pl.DataFrame:
    """One row per station and day: ``readings`` counts the day's rows, each variable takes its last
    non-null reading (providers append revisions) and ``__conflict_{variable}`` says whether the
    readings' non-null values differ. Days are UTC dates: a daily reading at 06:00 local time stays on
    its day across DST."""
    with_day = wide.with_columns(day=pl.col("time").dt.date())
    return with_day.group_by("station", "day", maintain_order=True).agg(
        pl.col("time").last(),
        pl.len().alias("readings"),
        *(pl.col(name).drop_nulls().last().alias(name) for name in variables),
        *((pl.col(name).drop_nulls().n_unique() > 1).alias(_conflict(name)) for name in variables),
    )


def _regular_index(wide: pl.DataFrame, variables: Iterable[str]) -> pl.DataFrame:
    """Every day between each station's first and last report, missing days as null rows; ``time`` is
    the day (00:00 UTC) and ``observed_at`` the reading's own timestamp."""
    spans = wide.group_by("station").agg(pl.col("day").min().alias("start"), pl.col("day").max().alias("end"))
    calendar = spans.select("station", pl.date_ranges("start", "end", interval="1d").alias("day")).explode(
        "day"
    )
    variables = list(variables)
    conflicts = [_conflict(name) for name in variables]
    values = wide.select(
        "station", "day", "readings", pl.col("time").alias("observed_at"), *variables, *conflicts
    )
    return (
        calendar.join(values, on=["station", "day"], how="left")
        .sort("station", "day")
        .with_columns(time=pl.col("day").cast(pl.Datetime("us", "UTC")))
    )


def _polish_variable(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    raw = pl.col("raw_value")
    frame = frame.with_columns(test=_rejection_test(rule))
    frame = frame.with_columns(kept=pl.when(pl.col("test").is_null()).then(raw))
    frame = _correct_drift(frame, rule)
    frame = frame.with_columns(filled=_filled(pl.col("kept"), rule))
    return frame.with_columns(
        value=pl.coalesce("kept", "filled"),
        flag=pl.when(pl.col("test").is_not_null() & pl.col("kept").is_not_null())
        .then(pl.lit("corrected"))
        .when(pl.col("kept").is_not_null() & (pl.col("readings") > 1))
        .then(pl.lit("duplicate"))
        .when(pl.col("kept").is_not_null())
        .then(pl.lit("ok"))
        .when(pl.col("filled").is_not_null())
        .then(pl.lit("imputed"))
        .when(raw.is_null())
        .then(pl.lit("missing"))
        .otherwise(pl.lit("rejected")),
    )


def _rejection_test(rule: VariableRule) -> pl.Expr:
    """The first failed test's name per value, null when the value passes every test; disagreeing
    duplicate readings fail first, since no test can say which of them is right."""
    raw = pl.col("raw_value")
    outside = (raw < rule.minimum) | (raw > rule.maximum)
    return (
        pl.when(pl.col("conflict").fill_null(False))
        .then(pl.lit("duplicate"))
        .when(outside)
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
    previous, following = _neighbour(raw, forward=True), _neighbour(raw, forward=False)
    up = (raw - previous > rule.spike_step) & (raw - following > rule.spike_step)
    down = (previous - raw > rule.spike_step) & (following - raw > rule.spike_step)
    if rule.spike_ratio is not None:
        neighbourhood = pl.max_horizontal(previous, following, pl.lit(0.05))
        up = up & (raw > rule.spike_ratio * neighbourhood)
        down = pl.lit(False)
    return (up | down).fill_null(False)


def _neighbour(values: pl.Expr, forward: bool) -> pl.Expr:
    """The nearest valid value before (or after) each row within its group, without a group-by:
    fill across the whole column, then drop fills that came from another group."""
    step = 1 if forward else -1
    shifted, group = values.shift(step), pl.col("gid").shift(step)
    source_group = pl.when(shifted.is_not_null()).then(group)
    if forward:
        return pl.when(source_group.forward_fill() == pl.col("gid")).then(shifted.forward_fill())
    return pl.when(source_group.backward_fill() == pl.col("gid")).then(shifted.backward_fill())


def _flatline(rule: VariableRule) -> pl.Expr:
    """Members (after the first) of a run of at least ``flatline_days`` identical values."""
    if rule.flatline_days is None:
        return pl.lit(False)
    raw = pl.col("raw_value")
    starts = (raw != raw.shift(1)) | (pl.col("gid") != pl.col("gid").shift(1))
    position, length = _run_position_and_length(starts.fill_null(True))
    natural = raw.is_in(list(rule.flatline_ignores)) if rule.flatline_ignores else pl.lit(False)
    return ((length >= rule.flatline_days) & (position > 0) & raw.is_not_null() & ~natural).fill_null(False)


def _run_position_and_length(starts: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Position of each row in its run and the run's length, given where runs start (no group-by)."""
    index = pl.int_range(pl.len())
    first = pl.when(starts).then(index).forward_fill()
    ends = starts.shift(-1).fill_null(True)
    last = pl.when(ends).then(index).backward_fill()
    return index - first, last - first + 1


def _correct_drift(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    """Remove a slowly growing bias against the other stations (needs three or more stations).

    The bias is a 31-day running mean of the difference to the stations' daily median: spikes and
    flatlines are already rejected at this point, so a mean is robust enough and much faster.
    """
    if rule.drift_limit is None or frame["station"].n_unique() < 3:
        return frame
    kept = pl.col("kept")
    consensus = frame.group_by("time").agg(pl.col("kept").median().alias("consensus"))
    frame = frame.join(consensus, on="time", how="left", maintain_order="left")
    bias = (kept - pl.col("consensus")).rolling_mean(window_size=31, min_samples=10, center=True).over("gid")
    drifting = (bias.abs() > rule.drift_limit).fill_null(False) & kept.is_not_null()
    return frame.with_columns(
        test=pl.when(drifting).then(pl.lit("drift")).otherwise(pl.col("test")),
        kept=pl.when(drifting).then(kept - bias).otherwise(kept),
    ).drop("consensus")


def _filled(kept: pl.Expr, rule: VariableRule) -> pl.Expr:
    """Gap filling per rule; only gaps of at most ``fill_limit_days`` inside a group are filled."""
    if rule.fill == "none" or rule.fill_limit_days <= 0:
        return pl.lit(None, dtype=pl.Float64)
    gap = kept.is_null()
    starts = (gap != gap.shift(1)) | (pl.col("gid") != pl.col("gid").shift(1))
    _, length = _run_position_and_length(starts.fill_null(True))
    short = gap & (length <= rule.fill_limit_days)
    if rule.fill == "linear":
        before, after = _neighbour(kept, forward=True), _neighbour(kept, forward=False)
        filled = kept.interpolate()
        return pl.when(short & before.is_not_null() & after.is_not_null()).then(filled)
    return pl.when(short).then(_neighbour(kept, forward=True))
