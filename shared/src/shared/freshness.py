"""Freshness policies where operations rely on an asset's age: Dagster's freshness daemon compares the
time since an asset's latest materialisation with them and shows PASS, WARN or FAIL in the UI (asset
health, the catalogue's freshness column), so a stalled feed is seen without reading logs.

Each policy is "expected every ``interval``, late by up to ``slack``": an asset that updates on time is
never older than the interval plus the time its own update takes, which the slack covers. It warns when
half the slack is spent and fails when all of it is.

:data:`FORECAST_FRESHNESS` is for the products of each weather-model run (fields, forecast forcings,
discharge forecast): a run every :func:`run_interval` (the run partitions' cron), each published the
publication delay after its start (:func:`shared.forecast_runs.publication_delay`, read when the location
loads), so a run that has not arrived by then is a run the provider (or the platform) missed.
"""

import datetime as dt

import dagster as dg

from shared.assets.landing_zone import FORECAST_RUNS
from shared.forecast_runs import FIRST_FORECAST_RUN, FORECAST_RUN_FORMAT, publication_delay


def run_interval() -> dt.timedelta:
    """The time between two weather-model runs: one window of the run partitions (from their cron)."""
    window = FORECAST_RUNS.time_window_for_partition_key(FIRST_FORECAST_RUN.strftime(FORECAST_RUN_FORMAT))
    return window.end - window.start


def late_by(interval: dt.timedelta, slack: dt.timedelta) -> dg.FreshnessPolicy:
    """Fail once the latest materialisation is older than ``interval + slack``, warn at half the slack
    (no warning without slack: Dagster wants the warning strictly before the failure)."""
    return dg.FreshnessPolicy.time_window(
        fail_window=interval + slack, warn_window=interval + slack / 2 if slack else None
    )


FORECAST_FRESHNESS = late_by(run_interval(), publication_delay())
"""One run interval plus one publication delay (10 h 30 min, warning at 8 h 15 min, by default)."""
