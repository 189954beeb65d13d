"""The polishing rules: one declarative row per variable, WMO plausible ranges as defaults.

Every limit the polishing applies lives here, so a hydrologist reviews one table instead of code.
Ranges follow WMO-No. 8 (Guide to Instruments and Methods of Observation) plausibility limits for daily
values; step and spike limits are set to several standard deviations of natural day-to-day change.

Windows are counted in time steps of the polished series, which is daily: a 31-day window is one month of
readings. Flatline and drift thresholds are not fixed amounts of the variable: each is measured on the
series itself (its reporting resolution, its natural day-to-day change, the spread of its difference to
the other stations), so one rule fits a lowland and a mountain station, a river and a brook.

- Flatline: a run of at least ``flatline_days`` identical values is a stuck sensor only where the
  variable naturally changes by more than its reporting resolution from day to day: the median absolute
  day-to-day change over a centred ``flatline_window_days`` window must exceed the smallest non-zero step
  in that window. A slow signal (low-flow discharge, water level) repeats its last reported value
  for days without anything being wrong, and so does a variable reported coarsely. With
  ``recession_floor`` a run entered by falling (its value at most the lowest of the three days before it)
  is the floor of a recession, natural too.
- Drift: a change over time of a station's difference to the other stations, never the difference
  itself. Each station's stable offset (elevation, exposure: a station 150 m higher is about 1 °C
  colder, correctly) is its median difference to the network's offset-adjusted daily median; the
  remaining difference is smoothed over a centred ``drift_window_days`` window, and where it exceeds
  ``drift_sigmas`` times its own spread at that scale (or the reporting resolution, whichever is larger)
  the station is drifting. See :mod:`.polishing` for the estimators.
- Order: some variables bound each other on the same day (:data:`ORDERED`: the daily minimum, mean and
  maximum temperature). Where the values kept by every other test break that order, a value breaking
  it with more partners than any other is rejected alone (a maximum below both mean and minimum);
  otherwise neither side of a broken pair can be trusted over the other and both are rejected (test
  ``consistency``), as in GHCN-Daily's internal consistency checks (Durre et al. 2010, J. Appl.
  Meteor. Climatol. 49).

The daily maximum and minimum temperature share the mean's range and tests; their spike step is larger
because they also carry the day-to-day change of the diurnal range (about 1.3 times the mean's change).
"""

from dataclasses import dataclass
from typing import Literal

Fill = Literal["linear", "forward", "none"]


@dataclass(frozen=True)
class VariableRule:
    """How one variable is checked and gap-filled.

    ``spike_step``: a value differing from both neighbours by more than this, in the same direction, is
    a spike. ``spike_ratio``: for skewed signals (precipitation, discharge) the value must also exceed
    this multiple of its neighbourhood. ``flatline_days``: that many identical values in a row can be a
    stuck sensor (values at ``flatline_ignores`` are natural plateaus, e.g. 0 mm, 100 %);
    ``flatline_window_days`` and ``recession_floor`` say when such a run is natural (module docstring).
    ``drift_window_days``: the window over which a station's offset-free difference to the network is
    averaged to find drift (None: no drift test), ``drift_sigmas``: how far beyond its spread it must go.
    ``fill``/``fill_limit_days``: gap filling after rejection.
    """

    variable: str
    unit: str
    minimum: float
    maximum: float
    spike_step: float | None
    spike_ratio: float | None
    flatline_days: int | None
    flatline_ignores: tuple[float, ...]
    drift_window_days: int | None
    fill: Fill
    fill_limit_days: int
    flatline_window_days: int = 31
    recession_floor: bool = False
    spike_rarity: float | None = None
    drift_sigmas: float = 4.0


RULES: dict[str, VariableRule] = {
    rule.variable: rule
    for rule in (
        VariableRule("air_temperature_c", "°C", -80.0, 60.0, 8.0, None, 5, (), 61, "linear", 3),
        VariableRule("air_temperature_max_c", "°C", -80.0, 60.0, 10.0, None, 5, (), 61, "linear", 3),
        VariableRule("air_temperature_min_c", "°C", -80.0, 60.0, 10.0, None, 5, (), 61, "linear", 3),
        VariableRule("relative_humidity_pct", "%", 0.0, 100.0, 25.0, None, 5, (100.0,), None, "linear", 3),
        VariableRule("air_pressure_hpa", "hPa", 500.0, 1100.0, 12.0, None, 5, (), None, "linear", 3),
        VariableRule("precipitation_mm", "mm", 0.0, 500.0, 60.0, 4.0, None, (0.0,), None, "none", 0),
        VariableRule(
            "water_level_cm", "cm", 0.0, 2000.0, 120.0, None, 7, (), None, "forward", 3, recession_floor=True
        ),
        VariableRule(
            "discharge_m3s",
            "m3/s",
            0.0,
            100000.0,
            0.3,
            2.5,
            7,
            (),
            None,
            "linear",
            3,
            recession_floor=True,
            spike_rarity=0.01,
        ),
    )
}

ORDERED: tuple[tuple[str, str], ...] = (
    ("air_temperature_min_c", "air_temperature_c"),
    ("air_temperature_c", "air_temperature_max_c"),
    ("air_temperature_min_c", "air_temperature_max_c"),
)
"""Pairs ``(lower, upper)`` of variables where, for one station and day, ``lower <= upper``."""

FLAGS = ("ok", "duplicate", "corrected", "imputed", "missing", "rejected")
"""Every flag a polished value can carry; ``duplicate``: the day had several agreeing readings."""
