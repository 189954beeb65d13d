"""The unit of every column the dataset may carry, and the physical range a value in that unit can take.

The landing zone names each quantity with its unit (``precipitation_mm``, ``air_pressure_hpa``, registry
docstrings in ``shared/assets/landing_zone.py``); the CAMELS climatic indices have fixed units by
definition (Addor et al. 2017). A column whose values leave its unit's range was delivered in another unit
(pressure in Pa or kPa, temperature in K, a fraction instead of a percentage): the model would read it
without complaint, so the units check compares each column's values with the range here. A column with
no known unit is refused too: the dataset states the unit of everything it holds (``dataset.json``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """A unit and the range of values physically possible in it (inclusive)."""

    name: str
    minimum: float
    maximum: float


# Suffixes, longest first (``_km_per_km2`` before ``_km2``; ``_max_c`` is just ``_c``).
SUFFIX_UNITS: tuple[tuple[str, Unit], ...] = (
    ("_km_per_km2", Unit("km/km2", 0.0, 1000.0)),
    ("_km2", Unit("km2", 0.0, 1.0e7)),  # the largest river basins are ~7e6 km2
    ("_mm", Unit("mm/day", 0.0, 2000.0)),  # the world's daily rainfall record is ~1825 mm
    ("_c", Unit("degC", -90.0, 60.0)),  # surface air records: -89 and +57 C; K would read 180-330
    ("_pct", Unit("%", 0.0, 100.0)),  # a fraction 0-1 would still pass: a percentage is never above 100
    ("_hpa", Unit("hPa", 300.0, 1100.0)),  # 300 hPa is ~9 km up; Pa read ~1e5, kPa ~100
    ("_deg", Unit("degree", 0.0, 90.0)),  # slopes
    ("_m", Unit("m", -500.0, 9000.0)),  # elevations and their spread, canopy heights
)
"""Units of the columns named ``{quantity}_{unit}``: daily water depths are ``_mm`` (mm/day)."""

NAMED_UNITS: dict[str, Unit] = {
    "discharge_mm": Unit("mm/day", 0.0, 2000.0),
    "strahler_order": Unit("1", 1.0, 20.0),
    "compactness": Unit("1", 1.0, 100.0),  # Gravelius: perimeter over the equal-area circle's, >= 1
    "p_mean": Unit("mm/day", 0.0, 2000.0),
    "pet_mean": Unit("mm/day", 0.0, 2000.0),
    "t_mean": Unit("degC", -90.0, 60.0),
    "aridity": Unit("1", 0.0, 1000.0),  # CAMELS tops out near 5, the driest deserts near 200
    "p_seasonality": Unit("1", -1.0, 1.0),
    "frac_snow": Unit("1", 0.0, 1.0),
    "high_prec_freq": Unit("days/yr", 0.0, 366.0),
    "high_prec_dur": Unit("days", 0.0, 366.0),
    "low_prec_freq": Unit("days/yr", 0.0, 366.0),
    "low_prec_dur": Unit("days", 0.0, 366.0),
}
"""Columns without a unit suffix: the target, dimensionless attributes and the CAMELS indices (whose
names are CAMELS' own)."""


def unit_of(column: str) -> Unit | None:
    """The unit of ``column`` (by name, then by suffix); None when its name says none."""
    if column in NAMED_UNITS:
        return NAMED_UNITS[column]
    for suffix, unit in SUFFIX_UNITS:
        if column.endswith(suffix):
            return unit
    return None
