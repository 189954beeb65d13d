"""The polishing rules: one declarative row per variable, WMO plausible ranges as defaults.

Every limit the polishing applies lives here, so a hydrologist reviews one table instead of code.
Ranges follow WMO-No. 8 (Guide to Instruments and Methods of Observation) plausibility limits for daily
values; step and spike limits are set to several standard deviations of natural day-to-day change.
"""

from dataclasses import dataclass
from typing import Literal

Fill = Literal["linear", "forward", "none"]


@dataclass(frozen=True)
class VariableRule:
    """How one variable is checked and gap-filled.

    ``spike_step``: a value differing from both neighbours by more than this, in the same direction, is
    a spike. ``spike_ratio``: for skewed signals (precipitation, discharge) the value must also exceed
    this multiple of its neighbourhood. ``flatline_days``: that many identical values in a row are a
    stuck sensor (values at ``flatline_ignores`` are natural plateaus, e.g. 0 mm, 100 %).
    ``drift_limit``: a 31-day running median of the difference to the other stations beyond this is
    drift, corrected by removing it. ``fill``/``fill_limit_days``: gap filling after rejection.
    """

    variable: str
    unit: str
    minimum: float
    maximum: float
    spike_step: float | None
    spike_ratio: float | None
    flatline_days: int | None
    flatline_ignores: tuple[float, ...]
    drift_limit: float | None
    fill: Fill
    fill_limit_days: int


RULES: dict[str, VariableRule] = {
    rule.variable: rule
    for rule in (
        VariableRule("air_temperature_c", "°C", -80.0, 60.0, 8.0, None, 5, (), 0.4, "linear", 3),
        VariableRule("relative_humidity_pct", "%", 0.0, 100.0, 25.0, None, 5, (100.0,), None, "linear", 3),
        VariableRule("air_pressure_hpa", "hPa", 500.0, 1100.0, 12.0, None, 5, (), None, "linear", 3),
        VariableRule("precipitation_mm", "mm", 0.0, 500.0, 60.0, 4.0, None, (0.0,), None, "none", 0),
        VariableRule("water_level_cm", "cm", 0.0, 2000.0, 120.0, None, 5, (), None, "forward", 3),
        VariableRule("discharge_m3s", "m3/s", 0.0, 100000.0, 0.3, 2.5, 5, (), None, "linear", 3),
    )
}

FLAGS = ("ok", "duplicate", "corrected", "imputed", "missing", "rejected")
"""Every flag a polished value can carry; ``duplicate``: the day had several agreeing readings."""
