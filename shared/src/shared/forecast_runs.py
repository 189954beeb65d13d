"""How weather-model runs are named and when they are published, without Dagster: the partition key
format, the first run and the publication delay.

The landing zone's run rules (which import no Dagster) and the registry's run partitions
(:data:`shared.assets.landing_zone.FORECAST_RUNS`) both read these, so a key means the same run
everywhere; both code locations read the publication delay (the landing zone's schedule, both locations'
freshness policies, :mod:`shared.freshness`), so they agree on when a run is due.
"""

import datetime as dt
import os
from collections.abc import Mapping

FORECAST_RUN_FORMAT = "%Y-%m-%d-%H:%M"
"""Partition keys of runs (Dagster's hourly form), the run's start time in UTC: ``2023-12-31-06:00``."""

FORECAST_RUN_CRON = "0 */6 * * *"
"""The run start times (00/06/12/18 UTC) as a cron: the partitions' windows."""

FIRST_FORECAST_RUN = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
"""The first run the partitions offer: before the sample region's runs (late 2023) and any kept since."""

PUBLICATION_DELAY_VARIABLE = "FORECAST_PUBLICATION_DELAY_MINUTES"
DEFAULT_PUBLICATION_DELAY = dt.timedelta(minutes=270)
"""How long after its start a run is expected from the provider, unless ``PUBLICATION_DELAY_VARIABLE``
says otherwise."""


def publication_delay(environ: Mapping[str, str] = os.environ) -> dt.timedelta:
    """The publication delay from ``FORECAST_PUBLICATION_DELAY_MINUTES`` (minutes), else the default."""
    value = environ.get(PUBLICATION_DELAY_VARIABLE, "").strip()
    if not value:
        return DEFAULT_PUBLICATION_DELAY
    try:
        return dt.timedelta(minutes=float(value))
    except ValueError:
        raise ValueError(f"{PUBLICATION_DELAY_VARIABLE}={value!r} is not a number") from None


def run_start(key: str) -> dt.datetime:
    """The start time (UTC) a run partition key names; a key of another form fails naming it."""
    try:
        return dt.datetime.strptime(key, FORECAST_RUN_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise ValueError(f"forecast run partition {key!r} is not of the form YYYY-MM-DD-HH:MM") from None
