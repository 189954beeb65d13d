"""A network's provider directory compared with its raw layer: which files are new, changed, unchanged or
gone. The ``sync_plan`` asset shows this plan and the sync sensor acts on it, so both always agree.

Run keys carry each file's size and ETag, so a revised file runs again and an unchanged one never does.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from landing_zone.defs.stations.provider_listing import STATION_LIST, is_source, provider_files, source_key
from landing_zone.defs.stations.raw_layer import stored_records
from landing_zone.sources import RemoteFile, StoredState, SyncPlan, plan_sync, redact_url
from shared.storage import Storage

ACTIONS = ("new", "changed", "unchanged", "gone")
PLAN_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "name": pl.String(),
        "url": pl.String(),
        "size": pl.Int64(),
        "etag": pl.String(),
        "modified": pl.Datetime("us", "UTC"),
        "action": pl.String(),
    }
)
PLAN_DESCRIPTIONS = {
    "source": "Partition key of the file in the raw layer (its name's stem)",
    "name": "File name in the provider's directory",
    "url": "Where the provider publishes the file; null for a file gone from the provider",
    "size": "Size of the stored raw copy in bytes; null for a file not stored yet",
    "etag": "ETag of the stored raw copy's source; null when unknown",
    "modified": "Last-Modified time of the stored raw copy's source (UTC); null when unknown",
    "action": "What a sync does with the file: new, changed, unchanged or gone",
}
"""Descriptions of :data:`PLAN_SCHEMA`'s columns, for the catalogue."""


@dataclass(frozen=True)
class NetworkPlan:
    """The provider directory compared with the raw layer: the yearly files, and the station list."""

    sources: SyncPlan
    stored: Mapping[str, StoredState]
    station_list: SyncPlan

    def to_fetch(self) -> tuple[RemoteFile, ...]:
        return (*self.sources.new, *self.sources.changed)

    def listed_sources(self) -> set[str]:
        return {
            source_key(f.name) for f in (*self.sources.new, *self.sources.changed, *self.sources.unchanged)
        }


def plan_network(
    url: str,
    store: Storage,
    observations_path: Sequence[str],
    station_list_path: Sequence[str],
    allowed: Sequence[str] | None = None,
) -> NetworkPlan:
    """The listing at ``url`` compared with the records stored under the raw observations' and the
    station list's asset paths."""
    listing = provider_files(url, allowed)
    stored = {record.name: record.state() for record in stored_records(store, observations_path)}
    lists = {record.name: record.state() for record in stored_records(store, station_list_path)}
    return NetworkPlan(
        sources=plan_sync([file for file in listing if is_source(file.name)], stored),
        stored=stored,
        station_list=plan_sync([file for file in listing if file.name == STATION_LIST], lists),
    )


def plan_table(plan: NetworkPlan) -> pl.DataFrame:
    """One row per listed or stored file with its action; gone files carry their recorded state."""
    sources = plan.sources
    rows: list[dict[str, Any]] = [
        _plan_row(file.name, redact_url(file.url), file.state(), action)
        for action, files in (
            ("new", sources.new),
            ("changed", sources.changed),
            ("unchanged", sources.unchanged),
        )
        for file in files
    ]
    rows += [_plan_row(name, None, plan.stored[name], "gone") for name in sources.gone]
    return pl.DataFrame(rows, schema=PLAN_SCHEMA).sort("name")


def _plan_row(name: str, url: str | None, state: StoredState, action: str) -> dict[str, Any]:
    return {
        "source": source_key(name),
        "name": name,
        "url": url,
        "size": state.size,
        "etag": state.etag,
        "modified": state.modified,
        "action": action,
    }


def plan_metadata(plan: NetworkPlan, table: pl.DataFrame) -> dict[str, Any]:
    """Counts per action, the station list's action, and a fingerprint: equal plans, equal fingerprints."""
    counts = {action: table.filter(pl.col("action") == action).height for action in ACTIONS}
    station_list = plan.station_list
    list_action = next(
        (action for action, files in (("new", station_list.new), ("changed", station_list.changed)) if files),
        "gone" if station_list.gone else "unchanged",
    )
    rows = json.dumps(table.to_dicts(), default=str, sort_keys=True)
    return counts | {
        "station_list": list_action,
        "plan_fingerprint": hashlib.sha256(rows.encode()).hexdigest(),
    }


def run_key(file: RemoteFile) -> str:
    """Changes whenever the file does, so a revised file runs again and an unchanged one never."""
    return f"{file.name}|{file.size}|{file.etag or (file.modified.isoformat() if file.modified else '')}"
