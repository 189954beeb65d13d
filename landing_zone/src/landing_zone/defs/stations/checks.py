"""The polished series' checks: DuckDB SQL over the candidate table, each selecting the offending rows
so a failure's metadata shows the values found, not just that something failed."""

from landing_zone.defs.stations.rules import RULES
from shared.resources.duckdb_checks import SqlCheck

MAX_FLAGGED_FRACTION = 0.25


def polished_sql_checks() -> list[SqlCheck]:
    """Each check selects the offending rows; all are blocking, because a series that fails any of them
    would mislead every analysis read from it, so the last good version stays published instead."""
    bounds = " OR ".join(
        f"(variable = '{rule.variable}' AND (value < {rule.minimum} OR value > {rule.maximum}))"
        for rule in RULES.values()
    )
    return [
        SqlCheck(
            name="station_time_unique",
            blocking=True,
            description="One row per station, day and variable.",
            sql="SELECT station, time, variable, count(*) AS rows FROM {table} "
            "GROUP BY ALL HAVING count(*) > 1",
        ),
        SqlCheck(
            name="index_continuity",
            blocking=True,
            description="Every day between first and last report.",
            sql="SELECT station, variable, count(*) AS rows, date_diff('day', min(time), max(time)) + 1 "
            "AS days FROM {table} GROUP BY ALL HAVING count(*) <> date_diff('day', min(time), max(time)) + 1",
        ),
        SqlCheck(
            name="physical_bounds",
            blocking=True,
            description="Polished values within the rules' ranges.",
            sql=f"SELECT station, time, variable, value FROM {{table}} WHERE {bounds}",
        ),
        SqlCheck(
            name="precipitation_never_imputed",
            blocking=True,
            description="Rain is never invented.",
            sql="SELECT station, time FROM {table} WHERE variable = 'precipitation_mm' AND flag = 'imputed'",
        ),
        SqlCheck(
            name="flagged_fraction",
            blocking=True,
            description=f"At most {MAX_FLAGGED_FRACTION:.0%} of a station's values flagged.",
            sql="SELECT station, variable, avg(CASE WHEN flag <> 'ok' THEN 1 ELSE 0 END) AS flagged "
            f"FROM {{table}} GROUP BY ALL HAVING flagged > {MAX_FLAGGED_FRACTION}",
        ),
    ]
