"""The train, validation and test periods: inclusive ISO date ranges, in that order, never overlapping.

They are run configuration, so nothing here refuses a bad set: the dataset is built over whatever span
they give (:func:`Periods.span`) and the blocking check ``periods_ordered_without_overlap`` judges them on
the candidate, with the dates in its metadata, as it judges everything else the run produced.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

PERIOD_NAMES = ("train", "validation", "test")
"""NeuralHydrology's three periods, in the order they must follow each other."""


@dataclass(frozen=True)
class Periods:
    """``{period: (first day, last day)}`` for the three periods, both inclusive."""

    bounds: dict[str, tuple[dt.date, dt.date]]

    @classmethod
    def from_iso(cls, **periods: tuple[str, str]) -> Periods:
        """Parse ``train=("2018-01-01", "2021-12-31"), ...``; a bad date names its period."""
        missing = [name for name in PERIOD_NAMES if name not in periods]
        if missing:
            raise ValueError(f"periods {missing} are not configured (need {list(PERIOD_NAMES)})")
        bounds = {}
        for name in PERIOD_NAMES:
            start, end = periods[name]
            try:
                bounds[name] = (dt.date.fromisoformat(start), dt.date.fromisoformat(end))
            except ValueError as error:
                raise ValueError(f"{name} period {start!r}..{end!r}: not ISO dates ({error})") from None
        return cls(bounds)

    def span(self) -> tuple[dt.date, dt.date]:
        """First and last day the dataset covers: from the earliest start to the latest end."""
        return min(start for start, _ in self.bounds.values()), max(end for _, end in self.bounds.values())

    def days(self) -> pl.Series:
        """Every day of the span, as the ``date`` index of each basin's series."""
        start, end = self.span()
        return pl.date_range(start, end, interval="1d", eager=True).alias("date")

    def table(self) -> pl.DataFrame:
        """One row per period in configured order: ``period``, ``period_order`` (0, 1, 2), ``start``, ``end``,
        ``days`` (end - start + 1; zero or less for a reversed period)."""
        return pl.DataFrame(
            {
                "period": list(PERIOD_NAMES),
                "period_order": list(range(len(PERIOD_NAMES))),
                "start": [self.bounds[name][0] for name in PERIOD_NAMES],
                "end": [self.bounds[name][1] for name in PERIOD_NAMES],
            }
        ).with_columns(days=(pl.col("end") - pl.col("start")).dt.total_days() + 1)

    def as_json(self) -> dict[str, list[str]]:
        """``{period: [start, end]}`` as ISO strings, for ``dataset.json``."""
        return {name: [start.isoformat(), end.isoformat()] for name, (start, end) in self.bounds.items()}
