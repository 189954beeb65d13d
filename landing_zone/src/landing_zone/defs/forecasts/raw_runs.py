"""Weather-model runs as the raw layer sees them: when a run is due, where the provider puts it, whether
it is there, whether its GRIB2 framing is whole, and which stored runs retention removes.

Runs start at 00, 06, 12 and 18 UTC and are published some hours later (the *publication delay*).
A run is addressed by its start time everywhere: the partition key (``2023-12-31-00:00``), the run
keys of the schedule and the late-run sensor, and the provider's file, named as the sample region and
GFS-style servers name it, ``{YYYYMMDD}/{HH}/forecast_{YYYYMMDDHH}.grib2`` under the source URL.

Timing comes from the environment, read once when the code location loads:

- ``FORECAST_PUBLICATION_DELAY_MINUTES`` (default 270): how long after its start a run is expected;
  the schedule ticks at each run hour plus this delay (``30 4,10,16,22 * * *`` by default).
- ``FORECAST_LATE_LOOKBACK_HOURS`` (default 48): how far back the late-run sensor looks for runs that
  were published after their tick.
- ``FORECAST_RETENTION_DAYS`` (default 14): stored runs older than this, counted back from the newest
  stored run, are removed. Counting from the newest run, not from the clock, means a feed that stalls
  never empties the raw layer, and a replayed past source (the sample region) ages like a live one.

This module imports no Dagster: the schedule, sensor and retention job call it, and tests pin it alone.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from landing_zone.sources import RemoteFile, SourceNotFound, list_remote, redact_url
from landing_zone.sources.urls import local_path, scheme_of
from shared.forecast_runs import (
    DEFAULT_PUBLICATION_DELAY,
    FIRST_FORECAST_RUN,
    FORECAST_RUN_FORMAT,
    PUBLICATION_DELAY_VARIABLE,
    publication_delay,
    run_start,
)
from shared.storage import Storage
from shared.storage.layout import DEFAULT_OBJECT_NAME, SINGLE_DIMENSION, AssetLocation

RUN_HOURS = (0, 6, 12, 18)
"""Synoptic run hours (UTC) of the weather model."""
RUN_INTERVAL = dt.timedelta(hours=6)
GRIB_EXTENSION = "grib2"
"""Extension of the stored object: ``forecast/grib/raw/partition={run}/part.grib2``."""

DELAY_VARIABLE = PUBLICATION_DELAY_VARIABLE
LOOKBACK_VARIABLE = "FORECAST_LATE_LOOKBACK_HOURS"
RETENTION_VARIABLE = "FORECAST_RETENTION_DAYS"

_GRIB_HEADER = 16
_GRIB_END = b"7777"
_PARTITION_FOLDER = re.compile(rf"/{SINGLE_DIMENSION}=([^/]+)/")


def run_file(run: dt.datetime) -> str:
    """The run's file relative to the forecasts source URL."""
    return f"{run:%Y%m%d}/{run:%H}/forecast_{run:%Y%m%d%H}.{GRIB_EXTENSION}"


def run_url(forecasts_url: str, run: dt.datetime) -> str:
    """The URL of the run's file under the configured forecasts folder."""
    return f"{forecasts_url.rstrip('/')}/{run_file(run)}"


def partition_key(run: dt.datetime) -> str:
    return check_run(run).strftime(FORECAST_RUN_FORMAT)


def run_of(key: str) -> dt.datetime:
    """The run time of a partition key; a key that is no run time fails naming it."""
    run = run_start(key)
    try:
        return check_run(run)
    except ValueError as error:
        raise ValueError(f"forecast run partition {key!r}: {error}") from None


def check_run(run: dt.datetime) -> dt.datetime:
    """The run in UTC; only the synoptic hours, on the hour, are runs."""
    if run.tzinfo is None:
        raise ValueError(f"forecast run time {run.isoformat()} has no time zone (runs are UTC)")
    run = run.astimezone(dt.UTC)
    if run.hour not in RUN_HOURS or (run.minute, run.second, run.microsecond) != (0, 0, 0):
        raise ValueError(f"forecast runs start at {RUN_HOURS} UTC on the hour, not {run.isoformat()}")
    return run


def run_key(origin: str, run: dt.datetime) -> str:
    """A run key that names who requested the run and which run: ``schedule:2023123100``."""
    return f"{origin}:{check_run(run):%Y%m%d%H}"


def latest_run(at: dt.datetime) -> dt.datetime:
    """The newest run that has started at ``at``."""
    at = at.astimezone(dt.UTC)
    hour = max(hour for hour in RUN_HOURS if hour <= at.hour)
    return at.replace(hour=hour, minute=0, second=0, microsecond=0)


def runs_between(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    """Every run from ``first`` to ``last`` (both runs), oldest first."""
    runs, run = [], check_run(first)
    while run <= last:
        runs.append(run)
        run += RUN_INTERVAL
    return runs


@dataclass(frozen=True)
class ForecastTiming:
    """When runs are due, how far back late ones are looked for, and how long runs are kept."""

    publication_delay: dt.timedelta = DEFAULT_PUBLICATION_DELAY
    late_lookback: dt.timedelta = dt.timedelta(hours=48)
    retention: dt.timedelta = dt.timedelta(days=14)

    def __post_init__(self) -> None:
        if self.publication_delay % dt.timedelta(minutes=1) or not (
            dt.timedelta(0) <= self.publication_delay < dt.timedelta(days=1)
        ):
            raise ValueError(
                f"{DELAY_VARIABLE}: the publication delay must be whole minutes from 0 to under 24 h, "
                f"got {self.publication_delay}"
            )
        if self.late_lookback < RUN_INTERVAL:
            raise ValueError(f"{LOOKBACK_VARIABLE}: the late-run lookback must cover one run interval (6 h)")
        if self.retention <= self.late_lookback + RUN_INTERVAL:
            # a run the late-run sensor fetches must outlive the next retention, or it is removed as it lands
            raise ValueError(
                f"{RETENTION_VARIABLE}: runs must be kept longer than the late-run lookback plus one run "
                f"({self.late_lookback + RUN_INTERVAL}), got {self.retention}"
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> ForecastTiming:
        """The timing from the ``FORECAST_*`` variables, each defaulting to the field's default."""
        default = cls()
        return cls(
            publication_delay=publication_delay(environ),
            late_lookback=dt.timedelta(
                hours=_number(environ, LOOKBACK_VARIABLE, default.late_lookback, 3600)
            ),
            retention=dt.timedelta(days=_number(environ, RETENTION_VARIABLE, default.retention, 86400)),
        )

    @property
    def schedule_cron(self) -> str:
        """One tick per run, at its start plus the publication delay: ``30 4,10,16,22 * * *``."""
        minutes = int(self.publication_delay.total_seconds()) // 60
        hours = sorted((hour + minutes // 60) % 24 for hour in RUN_HOURS)
        return f"{minutes % 60} {','.join(map(str, hours))} * * *"

    def run_for_tick(self, tick: dt.datetime) -> dt.datetime:
        """The run a schedule tick is for: the tick less the publication delay."""
        return check_run(tick.astimezone(dt.UTC) - self.publication_delay)

    def due(self, run: dt.datetime, now: dt.datetime) -> bool:
        """Whether the run's schedule tick has passed."""
        return run + self.publication_delay <= now


def _number(environ: Mapping[str, str], name: str, default: dt.timedelta, unit_s: int) -> float:
    value = environ.get(name, "").strip()
    if not value:
        return default.total_seconds() / unit_s
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def late_candidates(
    timing: ForecastTiming, now: dt.datetime, newest_stored: dt.datetime | None
) -> list[dt.datetime]:
    """The runs the late-run sensor looks at: those due within the lookback before ``now``, and those
    within the lookback before the newest stored run (a replayed past source has its gaps there)."""
    windows = [latest_run(now - timing.publication_delay)]
    if newest_stored is not None:
        windows.append(newest_stored)
    runs = {
        run
        for last in windows
        for run in runs_between(latest_run(last - timing.late_lookback + RUN_INTERVAL), last)
        if run >= FIRST_FORECAST_RUN and timing.due(run, now)
    }
    return sorted(runs)


def published_run(forecasts_url: str, run: dt.datetime, allowed: Sequence[str]) -> RemoteFile | None:
    """The run's file as the provider lists it, or None when it is not (yet) published.

    The run's own folder is listed (one request, whatever the scheme); a folder that is not there is
    an unpublished run, while any other failure of the source is raised.
    """
    folder = run_url(forecasts_url, run).rpartition("/")[0] + "/"
    if scheme_of(folder) == "file" and not local_path(folder).is_dir():
        return None
    try:
        listed = list_remote(folder, allowed_prefixes=allowed)
    except SourceNotFound:
        return None
    name = run_file(run).rpartition("/")[2]
    return next((file for file in listed if file.name == name), None)


def not_published_reason(forecasts_url: str, run: dt.datetime) -> str:
    return (
        f"run {run:%Y-%m-%d %H} UTC is not published yet: expected {redact_url(run_url(forecasts_url, run))}"
    )


@dataclass(frozen=True)
class GribFraming:
    """What the GRIB2 framing of a file says, read from message headers only (no decoding)."""

    messages: int
    problem: str | None

    @property
    def complete(self) -> bool:
        return self.problem is None


def grib_framing(path: Path) -> GribFraming:
    """Walk the file's GRIB2 messages by their declared lengths: a truncated or padded file, or one that
    is not GRIB2, shows as a problem naming the byte where it goes wrong."""
    size, offset, messages = path.stat().st_size, 0, 0
    with path.open("rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(_GRIB_HEADER)
            if len(header) < _GRIB_HEADER or header[:4] != b"GRIB" or header[7] != 2:
                return GribFraming(messages, f"no GRIB2 message starts at byte {offset} of {size}")
            length = int.from_bytes(header[8:16], "big")
            if offset + length > size:
                problem = (
                    f"message {messages + 1} at byte {offset} declares {length} bytes, {size - offset} remain"
                )
                return GribFraming(messages, f"truncated: {problem}")
            handle.seek(offset + length - len(_GRIB_END))
            if handle.read(len(_GRIB_END)) != _GRIB_END:
                return GribFraming(messages, f"message {messages + 1} at byte {offset} does not end in 7777")
            offset, messages = offset + length, messages + 1
    return GribFraming(messages, None if messages else "the file holds no GRIB2 message")


def stored_runs(store: Storage, asset_path: Sequence[str]) -> list[dt.datetime]:
    """The runs that have objects under an asset's folder, oldest first."""
    keys = {
        match.group(1)
        for info in store.list(AssetLocation(asset_path).folder)
        if (match := _PARTITION_FOLDER.search(info.key))
    }
    return sorted(run_of(key) for key in keys)


def expired_runs(runs: Iterable[dt.datetime], retention: dt.timedelta) -> list[dt.datetime]:
    """Runs older than ``retention`` before the newest of them, oldest first."""
    runs = sorted(runs)
    return [run for run in runs if run < runs[-1] - retention] if runs else []


@dataclass(frozen=True)
class Removed:
    """One run's objects removed from one asset."""

    asset_path: tuple[str, ...]
    run: dt.datetime
    objects: int
    bytes: int


def remove_run(store: Storage, asset_path: Sequence[str], run: dt.datetime) -> Removed:
    """Delete every object of the run's partition folder of an asset, its ``part`` object first: for the
    fields that is the manifest, so a reader never finds a manifest naming a COG already removed."""
    location = AssetLocation(asset_path, {SINGLE_DIMENSION: partition_key(run)})
    part = f"{location.folder}{DEFAULT_OBJECT_NAME}."
    objects = sorted(store.list(location.folder), key=lambda info: not info.key.startswith(part))
    for info in objects:
        store.delete(info.key)
    return Removed(tuple(asset_path), run, len(objects), sum(info.size for info in objects))
