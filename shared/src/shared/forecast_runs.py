"""How weather-model runs are named, without Dagster: the partition key format and the first run.

The landing zone's run rules (which import no Dagster) and the registry's run partitions
(:data:`shared.assets.landing_zone.FORECAST_RUNS`) both read these, so a key means the same run
everywhere.
"""

import datetime as dt

FORECAST_RUN_FORMAT = "%Y-%m-%d-%H:%M"
"""Partition keys of runs (Dagster's hourly form), the run's start time in UTC: ``2023-12-31-06:00``."""

FORECAST_RUN_CRON = "0 */6 * * *"
"""The run start times (00/06/12/18 UTC) as a cron: the partitions' windows."""

FIRST_FORECAST_RUN = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
"""The first run the partitions offer: before the sample region's runs (late 2023) and any kept since."""


def run_start(key: str) -> dt.datetime:
    """The start time (UTC) a run partition key names; a key of another form fails naming it."""
    try:
        return dt.datetime.strptime(key, FORECAST_RUN_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"forecast run partition {key!r} is not of the form YYYY-MM-DD-HH:MM") from None
