"""The daily grids' checks: DuckDB SQL over the candidate manifest (one row per variable and day, with the
band's valid-station count and value statistics, :data:`.daily_cogs.MANIFEST_SCHEMA`), each selecting
the offending rows so a failure's metadata shows the values found.

They run in the asset's own step before anything is published (write-audit-publish): a month that fails
a blocking check never replaces the published COGs that catchment forcings read.
"""

from landing_zone.defs.stations.rules import RULES
from shared.resources.duckdb_checks import SqlCheck

MAX_TOO_FEW_STATIONS_SHARE = 0.1
"""At most this share of a month's days may lack enough valid stations: 3 days of a 31-day month, the
gap polishing itself fills in a station series (``fill_limit_days``). A month with more nodata days would
hand the catchment forcings more holes than any single station series has."""

TEMPERATURE = RULES["air_temperature_c"]
"""The WMO plausibility range polishing applies to station temperatures; no grid cell may leave it."""


def daily_grid_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: each catches a grid that would mislead every catchment forcing read from
    it."""
    return [
        SqlCheck(
            name="every_day_a_band",
            blocking=True,
            description="Every gridded variable has one band per day of the month, in order.",
            sql="SELECT variable, count(*) AS bands, count(DISTINCT date) AS dates, "
            "day(last_day(min(date))) AS days_in_month FROM {table} GROUP BY variable "
            "HAVING count(DISTINCT date) <> day(last_day(min(date))) OR count(*) <> count(DISTINCT date) "
            "OR bool_or(band <> day(date))",
        ),
        SqlCheck(
            name="precipitation_non_negative",
            blocking=True,
            description="No cell has negative precipitation.",
            sql="SELECT date, minimum FROM {table} WHERE variable = 'precipitation_mm' AND minimum < 0",
        ),
        SqlCheck(
            name="temperature_within_wmo_bounds",
            blocking=True,
            description=f"Every cell's temperature within {TEMPERATURE.minimum:g}..{TEMPERATURE.maximum:g} "
            f"{TEMPERATURE.unit} (WMO-No. 8, as in polishing).",
            sql="SELECT date, minimum, maximum FROM {table} WHERE variable = 'air_temperature_c' AND "
            f"(minimum < {TEMPERATURE.minimum} OR maximum > {TEMPERATURE.maximum})",
        ),
        SqlCheck(
            name="too_few_stations_share",
            blocking=True,
            description=f"At most {MAX_TOO_FEW_STATIONS_SHARE:.0%} of a variable's days marked for too few "
            "valid stations.",
            sql="SELECT variable, count_if(too_few_stations) AS marked_days, count(*) AS days, "
            "count_if(too_few_stations) / count(*) AS share FROM {table} GROUP BY variable "
            f"HAVING count_if(too_few_stations) / count(*) > {MAX_TOO_FEW_STATIONS_SHARE}",
        ),
    ]
