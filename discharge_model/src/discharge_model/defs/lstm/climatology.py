"""The naive baseline the LSTM has to beat: each calendar day's mean observed discharge.

The climatology is computed from the training period's observations only (what the LSTM saw), and then
read for any date by its calendar day. A raw mean per calendar day over a few years is mostly the noise of
the individual floods that happened to fall on it, so the daily means are smoothed with a circular moving
average of :data:`SMOOTHING_DAYS` days: a stronger, fairer baseline than the raw means (the seasonal cycle,
nothing more). 29 February is read as 28 February, so a leap year costs the baseline nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

SMOOTHING_DAYS = 31
"""Width of the circular moving average over the 365 calendar-day means: one month, which keeps the
seasonal cycle of a lowland river and removes single events."""

DAYS_IN_YEAR = 365


def calendar_day(dates: pd.DatetimeIndex) -> NDArray[np.int64]:
    """0..364 for every date; leap years' days after 28 February shift back so that a calendar day keeps
    its index, and 29 February shares 28 February's."""
    day = np.asarray(dates.day_of_year).astype(np.int64) - 1
    after_february = dates.is_leap_year & (dates.month > 2)
    day = np.where(after_february, day - 1, day)
    leap_day = (dates.month == 2) & (dates.day == 29)
    return np.where(leap_day, 58, day).astype(np.int64)


def daily_climatology(
    dates: pd.DatetimeIndex, discharge: NDArray[np.float64], smoothing_days: int = SMOOTHING_DAYS
) -> NDArray[np.float64]:
    """365 smoothed calendar-day means of ``discharge`` (NaN days ignored).

    A calendar day without any observation takes the smoothing window's mean; raises when the series has
    no observation at all, since then there is no baseline to compare with.
    """
    values = np.asarray(discharge, dtype=np.float64)
    if len(dates) != values.size:
        raise ValueError(f"{len(dates)} dates for {values.size} discharge values")
    valid = np.isfinite(values)
    if not valid.any():
        raise ValueError("no observed discharge to build a climatology from")
    days = calendar_day(dates)[valid]
    sums = np.asarray(np.bincount(days, weights=values[valid], minlength=DAYS_IN_YEAR), dtype=np.float64)
    counts = np.asarray(np.bincount(days, minlength=DAYS_IN_YEAR), dtype=np.float64)
    if smoothing_days < 1 or smoothing_days % 2 == 0:
        raise ValueError(
            f"smoothing_days must be odd and positive (centred on the day), got {smoothing_days}"
        )
    half = smoothing_days // 2
    window_sums, window_counts = _circular_window_sum(sums, half), _circular_window_sum(counts, half)
    with np.errstate(invalid="ignore", divide="ignore"):
        smoothed = window_sums / window_counts
    if not np.isfinite(smoothed).all():
        raise ValueError(f"observations leave calendar days more than {half} days from any observed day")
    return smoothed


def _circular_window_sum(values: NDArray[np.float64], half: int) -> NDArray[np.float64]:
    """Sum over ``half`` days on either side of each calendar day, wrapping around the year's end (the
    window of 31 December reaches into January)."""
    if half == 0:
        return values.copy()
    padded = np.concatenate([values[-half:], values, values[:half]])
    return np.convolve(padded, np.ones(2 * half + 1), mode="valid")


def climatology_series(dates: pd.DatetimeIndex, climatology: NDArray[np.float64]) -> NDArray[np.float64]:
    """The climatology read for each of ``dates``: the baseline's simulated series."""
    if climatology.shape != (DAYS_IN_YEAR,):
        raise ValueError(f"a climatology has {DAYS_IN_YEAR} calendar days, got shape {climatology.shape}")
    return np.asarray(climatology[calendar_day(dates)], dtype=np.float64)
