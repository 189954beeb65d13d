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

Two tests judge a value by the series' own behaviour rather than by a fixed amount of the variable:

- Flatline: a run of identical values is a stuck sensor only where the variable should have changed,
  i.e. where its median day-to-day change around the run exceeds its reporting resolution (the
  smallest non-zero step nearby). Low-flow discharge and water level repeat their last reported value
  for days in a slow recession, and runs the series fell into (a recession floor) are natural there too.
- Drift: a change over time of a station's difference to the other stations, never the difference
  itself (a station higher up is colder, correctly). The network's consensus is the daily median of
  offset-adjusted values; each station's stable offset (its median difference, elevation and exposure
  included) is taken off; what remains is smoothed with a centred running median over
  ``drift_window_days`` (robust to the step of a recalibration) and compared with its own spread at that
  scale (from differences one window apart, which a steady trend leaves untouched; at least the
  reporting resolution). Beyond ``drift_sigmas`` spreads the station is drifting, and only that excess
  is removed (flag ``corrected``, test ``drift``). A second pass re-estimates offsets and consensus
  without the suspect days. Elevations are not needed, so the station list stays out of polishing; a
  drift lasting more than half of a station's record would be read as its offset.

One test judges values of several variables together: where a station-day's kept values break an order
of :data:`rules.ORDERED` (minimum <= mean <= maximum temperature), the value in the most broken pairs is
rejected, or both values of a broken pair when none stands out (test ``consistency``). It runs after
every per-variable test and the drift correction, on what they kept, and before gap filling, so a
rejected value can be imputed like any other.

Everything is vectorised polars over (station, variable) windows, and every limit comes from
:data:`rules.RULES` and :data:`rules.ORDERED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import polars as pl

from landing_zone.defs.stations.rules import ORDERED, RULES, VariableRule

MIN_DRIFT_STATIONS = 3
"""A station's drift is judged against the median of the others: it takes three to outvote one."""
MAD_TO_SIGMA = 1.4826
"""Median absolute deviation to standard deviation, for normally distributed values."""

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
OUTPUT_DESCRIPTIONS = {
    "station": "Station code of the provider",
    "time": "Day of the value (UTC, midnight): one row per station, variable and day",
    "observed_at": "When the reading used was taken (UTC); null for imputed or missing days",
    "variable": "Variable name; its suffix is the unit of raw_value and value (_mm, _c, _pct, _hpa, _cm, "
    "_m3s)",
    "raw_value": "Value as the provider published it, in the variable's unit; null when none was",
    "value": "Polished value in the variable's unit (corrected or imputed per flag); null when rejected "
    "or missing",
    "flag": "ok, duplicate, corrected, imputed, missing or rejected (rules.FLAGS)",
    "test": "The test that set a flag other than ok (see rules.py); null for ok values",
}
"""Descriptions, with units, of :data:`OUTPUT_SCHEMA`'s columns."""


def polish(
    wide: pl.DataFrame,
    rules: Mapping[str, VariableRule] = RULES,
    ordered: Sequence[tuple[str, str]] = ORDERED,
) -> pl.DataFrame:
    """Polish every variable of every station found in ``wide``."""
    variables = [name for name in wide.columns if name in rules]
    regular = _regular_index(_deduplicated(wide, variables), variables)
    # rows are sorted by station and time, so each station is one contiguous run: its run id is the group
    regular = regular.with_columns(gid=pl.col("station").rle_id().set_sorted())
    tested = {
        name: _tested(
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
    }
    tested = _reject_disordered(tested, ordered)
    frames = [_finished(tested[name], rules[name]) for name in variables]
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
    """One row per station and day, sorted by both: ``readings`` counts the day's rows, each variable
    takes its last non-null reading (providers append revisions) and ``__conflict_{variable}`` says
    whether the readings' non-null values differ. Days are UTC dates: a daily reading at 06:00 local
    time stays on its day across DST. Only the days with several rows are grouped: most days have one,
    and grouping millions of them cost a second."""
    variables = list(variables)
    with_day = _sorted_by_station_and_day(wide.with_columns(day=pl.col("time").dt.date()))
    station, day = pl.col("station"), pl.col("day")
    same_day = (station.eq_missing(station.shift(1)) & day.eq_missing(day.shift(1))).fill_null(False)
    repeated = with_day.select(same_day | same_day.shift(-1, fill_value=False)).to_series()
    single = with_day.filter(~repeated).select(
        "station",
        "day",
        "time",
        pl.lit(1, dtype=pl.get_index_type()).alias("readings"),
        *variables,
        *(pl.lit(False).alias(_conflict(name)) for name in variables),
    )
    if not repeated.any():
        return single
    several = (
        with_day.filter(repeated)
        .group_by("station", "day", maintain_order=True)
        .agg(
            pl.col("time").last(),
            pl.len().alias("readings"),
            *(pl.col(name).drop_nulls().last().alias(name) for name in variables),
            *((pl.col(name).drop_nulls().n_unique() > 1).alias(_conflict(name)) for name in variables),
        )
    )
    return pl.concat([single, several]).sort("station", "day")


def _sorted_by_station_and_day(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` in station and day order, readings of one day in their original order (the last one
    wins); the sort is skipped when the rows already are in order, as one provider file usually is."""
    station, day = pl.col("station"), pl.col("day")
    previous_station, previous_day = station.shift(1), day.shift(1)
    in_order = (station > previous_station) | ((station == previous_station) & (day >= previous_day))
    if frame.select(in_order.slice(1).fill_null(False).all()).item():
        return frame
    return frame.sort("station", "day", maintain_order=True)


def _regular_index(wide: pl.DataFrame, variables: Iterable[str]) -> pl.DataFrame:
    """Every day between each station's first and last report, missing days as null rows; ``time`` is
    the day (00:00 UTC) and ``observed_at`` the reading's own timestamp. ``wide`` is sorted by station
    and day, one row per day."""
    variables = list(variables)
    conflicts = [_conflict(name) for name in variables]
    values = wide.select(
        "station", "day", "readings", pl.col("time").alias("observed_at"), *variables, *conflicts
    )
    return values.upsample("day", every="1d", group_by="station", maintain_order=True).with_columns(
        time=pl.col("day").cast(pl.Datetime("us", "UTC"))
    )


def _tested(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    """One variable's own tests: ``test`` names the first failed one, ``kept`` holds the values that
    passed (drift-corrected)."""
    raw = pl.col("raw_value")
    frame = frame.with_columns(flatline=_flatline(frame, rule))
    frame = frame.with_columns(test=_rejection_test(rule))
    frame = frame.with_columns(kept=pl.when(pl.col("test").is_null()).then(raw))
    return _correct_drift(frame, rule)


def _reject_disordered(
    tested: dict[str, pl.DataFrame], ordered: Sequence[tuple[str, str]]
) -> dict[str, pl.DataFrame]:
    """Reject the kept values that break an order of ``ordered`` on their station-day (test
    ``consistency``): the value in the most broken pairs of its day, or every value in a broken pair
    when none stands out. A maximum spiked below both the mean and the minimum goes alone; a minimum
    a little above the mean takes the mean with it, since either may be the wrong one.

    Every variable's frame holds the regular index's rows in the same order, so pairs compare row by
    row; all breaks are counted on the kept values before any is rejected."""
    breaks: dict[str, pl.Series] = {}
    for lower, upper in ordered:
        if lower not in tested or upper not in tested:
            continue
        broken = (tested[lower]["kept"] > tested[upper]["kept"]).fill_null(False).cast(pl.UInt8)
        for name in (lower, upper):
            breaks[name] = breaks[name] + broken if name in breaks else broken
    if not breaks:
        return tested
    most = pl.DataFrame(breaks).select(pl.max_horizontal(pl.all())).to_series()
    rejected = {name: (count > 0) & (count == most) for name, count in breaks.items()}
    return {
        name: frame.with_columns(
            test=pl.when(pl.lit(rejected[name])).then(pl.lit("consistency")).otherwise(pl.col("test")),
            kept=pl.when(pl.lit(rejected[name])).then(None).otherwise(pl.col("kept")),
        )
        if name in rejected
        else frame
        for name, frame in tested.items()
    }


def _finished(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    """Gap filling, the published ``value`` and its ``flag``."""
    raw = pl.col("raw_value")
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
        .when(pl.col("flatline"))
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
        ratio = raw / neighbourhood
        if rule.spike_rarity is None:
            up = up & (ratio > rule.spike_ratio)
        else:
            usual = ratio.quantile(1.0 - rule.spike_rarity).over("gid")
            up = up & (ratio > pl.max_horizontal(pl.lit(rule.spike_ratio), usual))
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


def _flatline(frame: pl.DataFrame, rule: VariableRule) -> pl.Series:
    """Members (after the first) of a run of at least ``flatline_days`` identical values, where the
    variable should have changed: around the run, the median day-to-day change exceeds the reporting
    resolution (the smallest non-zero step), and (with ``recession_floor``) the run was not entered by
    falling. Both are judged over the whole run, so a run is stuck or natural as one."""
    if rule.flatline_days is None:
        return pl.repeat(False, frame.height, eager=True)
    raw = pl.col("raw_value")
    starts = ((raw != raw.shift(1)) | (pl.col("gid") != pl.col("gid").shift(1))).fill_null(True)
    position, length = _run_position_and_length(starts)
    judged = (length >= rule.flatline_days) & raw.is_not_null()
    if rule.flatline_ignores:
        judged = judged & ~raw.is_in(list(rule.flatline_ignores))
    runs = frame.select(
        "raw_value",
        "gid",
        pl.int_range(pl.len()).alias("row"),
        position.alias("position"),
        starts.cum_sum().alias("run"),
        judged.fill_null(False).alias("judged"),
        _step().abs().alias("step"),
    )
    should_change = _runs_that_should_change(runs, rule.flatline_window_days)
    stuck = pl.col("judged") & (pl.col("position") > 0) & pl.col("run").is_in(should_change.implode())
    if rule.recession_floor:
        stuck = stuck & ~_recession_floor(raw, pl.col("position"))
    return runs.select(stuck.fill_null(False)).to_series()


def _runs_that_should_change(runs: pl.DataFrame, window: int) -> pl.Series:
    """The judged runs around which the median day-to-day change (over a centred ``window``) exceeds
    the smallest non-zero step in that window.

    Rolling statistics are taken only near judged runs, in stretches of consecutive rows of one
    station: long runs are rare, and a rolling median over every day of every variable cost more than
    the rest of polishing. Each judged row's stretch holds its whole window (clipped at the station's
    ends), so its statistics are the same as over the full series."""
    near = pl.col("judged").cast(pl.UInt8).rolling_max(2 * window + 1, min_samples=1, center=True) == 1
    nearby = runs.filter(near)
    breaks = (pl.col("row").diff() != 1) | (pl.col("gid").diff() != 0)
    nearby = nearby.with_columns(stretch=breaks.fill_null(True).cum_sum())
    step = pl.col("step")
    stats = nearby.select(
        "run",
        "judged",
        step.rolling_median(window, min_samples=window // 3, center=True).over("stretch").alias("typical"),
        pl.when(step > 0)
        .then(step)
        .rolling_min(window, min_samples=1, center=True)
        .over("stretch")
        .alias("resolution"),
    )
    verdicts = (
        stats.filter("judged")
        .group_by("run")
        .agg((pl.col("typical").max() > pl.col("resolution").min()).alias("should_change"))
    )
    return verdicts.filter("should_change")["run"]


def _step() -> pl.Expr:
    """Day-to-day change of the raw value within its group (null on a group's first day)."""
    raw = pl.col("raw_value")
    return pl.when(pl.col("gid") == pl.col("gid").shift(1)).then(raw - raw.shift(1))


def _recession_floor(raw: pl.Expr, position: pl.Expr) -> pl.Expr:
    """The run's value is at most the lowest of the three days before it: the series fell into it, as
    a recession flattens out at the reporting resolution. Judged at the run's first row, carried over
    the run."""
    gid = pl.col("gid")
    before = pl.min_horizontal(*(pl.when(gid.shift(lag) == gid).then(raw.shift(lag)) for lag in (1, 2, 3)))
    return pl.when(position == 0).then((raw <= before).fill_null(False)).forward_fill().fill_null(False)


def _run_position_and_length(starts: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """Position of each row in its run and the run's length, given where runs start (no group-by)."""
    index = pl.int_range(pl.len())
    first = pl.when(starts).then(index).forward_fill()
    ends = starts.shift(-1).fill_null(True)
    last = pl.when(ends).then(index).backward_fill()
    return index - first, last - first + 1


def _correct_drift(frame: pl.DataFrame, rule: VariableRule) -> pl.DataFrame:
    """Remove the part of a station's difference to the network that changed over time.

    Two passes of :func:`_drift_excess`: the first finds the days under suspicion, the second
    estimates every station's stable offset and the network's daily consensus without them, so that
    a long drift neither drags its own station's offset nor the consensus of the others. Only the
    excess over the stable offset is removed; the offset itself (elevation, exposure) stays. Without
    suspects the second pass would repeat the first, so it is skipped.
    """
    if rule.drift_window_days is None or frame["station"].n_unique() < MIN_DRIFT_STATIONS:
        return frame
    step = _step().abs()
    frame = frame.with_columns(
        suspect=pl.lit(False), resolution=pl.when(step > 0).then(step).min().over("gid")
    )
    for _ in range(2):
        excess = _drift_excess(frame, rule)
        frame = frame.with_columns(excess=excess, suspect=excess.is_not_null())
        if not frame["suspect"].any():
            break
    kept, excess_column = pl.col("kept"), pl.col("excess")
    drifting = pl.col("suspect") & kept.is_not_null()
    return frame.with_columns(
        test=pl.when(drifting).then(pl.lit("drift")).otherwise(pl.col("test")),
        kept=pl.when(drifting).then(kept - excess_column).otherwise(kept),
    ).drop("suspect", "excess", "resolution")


def _drift_excess(frame: pl.DataFrame, rule: VariableRule) -> pl.Series:
    """``excess``: the smoothed change of each station's difference to the network where it exceeds
    the threshold, null elsewhere.

    - consensus: the daily median of the trusted values (kept, not under suspicion) once each station's
      offset is taken off (days with fewer than three such values have none);
    - stable offset: the station's median difference to that consensus over its trusted days;
    - change: the rest of the difference, its running median over a centred ``drift_window_days``
      window;
    - threshold: ``drift_sigmas`` times the change's own spread at that scale (robust: the median
      absolute deviation of changes one window apart, which a steady trend does not inflate), but at
      least the reporting resolution (``resolution``: the smallest non-zero day-to-day step), since a
      spread estimated from rounded or interpolated values can collapse to zero.
    """
    window = rule.drift_window_days
    assert window is not None
    suspect = pl.col("suspect")
    trusted = pl.when(~suspect).then(pl.col("kept"))
    steps = frame.select("time", "gid", "kept", "suspect", "resolution")
    steps = _with_consensus(steps, trusted)
    steps = steps.with_columns(offset=(trusted - pl.col("consensus")).median().over("gid"))
    steps = _with_consensus(steps.drop("consensus"), trusted - pl.col("offset"))
    difference = pl.col("kept") - pl.col("consensus")
    change = difference - pl.when(~suspect).then(difference).median().over("gid")
    steps = steps.with_columns(
        smoothed=change.rolling_median(window, min_samples=window // 3, center=True).over("gid")
    )
    smoothed = pl.col("smoothed")
    steps = steps.with_columns(apart=smoothed - smoothed.shift(window).over("gid"))
    apart = pl.col("apart")
    spread = MAD_TO_SIGMA * (apart - apart.median().over("gid")).abs().median().over("gid") / 2**0.5
    threshold = rule.drift_sigmas * pl.max_horizontal(spread, pl.col("resolution"))
    excess = pl.when(smoothed.abs() > threshold).then(smoothed).alias("excess")
    return steps.select(excess).to_series()


def _with_consensus(steps: pl.DataFrame, values: pl.Expr) -> pl.DataFrame:
    """``consensus``: the daily median of ``values`` over the stations, null where fewer than three
    report."""
    value = pl.col("value")
    daily = (
        steps.select("time", values.alias("value"))
        .group_by("time")
        .agg(value.count().alias("reports"), value.median().alias("consensus"))
        .select(
            "time",
            pl.when(pl.col("reports") >= MIN_DRIFT_STATIONS).then(pl.col("consensus")).alias("consensus"),
        )
    )
    return steps.join(daily, on="time", how="left", maintain_order="left")


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
