"""Sync a station network's provider directory into the raw layer: one component, meteo and hydro.

``{network}/sync_plan`` compares the provider's listing with what the raw layer holds and says which
yearly files are new, changed, unchanged or gone. ``{network}_sync_sensor`` evaluates the same plan on
every tick: it keeps the dynamic partitions ``{network}_sources`` (one per provider file) equal to the
listing and requests ``{network}/raw_observations`` runs for new and changed files only, with run keys
that carry the file's size and ETag, so a revised file runs again and an unchanged one never does.

A ``raw_observations`` partition fetches its file (verified against the listing), parses it with the
network's :class:`~landing_zone.defs.stations.provider_formats.ProviderFormat` and only then stores the
zip unchanged in the raw layer, with a ``source.json`` beside it recording what was fetched: the next
plan compares the listing with those records. A file whose format changed therefore fails before
anything is written, and the partition's previous zip and table stay as they were.
``{network}/stations`` does the same for the provider's ``stations.csv``.

Raw layer of a partition (layout contract, dimension = the dynamic partitions' name)::

    {network}/raw_observations/{network}_sources={stem}/{stem}.zip      the provider's file, unchanged
    {network}/raw_observations/{network}_sources={stem}/source.json     what was fetched (SourceRecord)
    {network}/raw_observations/{network}_sources={stem}/part.parquet    the typed table (IO manager)

Listed files, and every redirect while fetching them, must stay under the network's allowed prefixes
(:meth:`SourcesResource.allowed_prefixes`: the provider directory, plus configured extras); a listed file
that leads elsewhere (a symbolic link out of a local directory, a link off an autoindex) fails the
listing naming the file, before anything is fetched.

For a local provider directory the listing's ETag is the SHA-256 of each file: reading a local file is
as cheap as listing it, and modification times change when a directory is copied or republished without
a byte changing. HTTP and S3 listings keep the server's ETags.
"""

import hashlib
import json
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import dagster as dg
import polars as pl
from pydantic import BaseModel, Field

from landing_zone.defs.stations.provider_formats import (
    FORMATS,
    STATION_LIST_FORMAT,
    ProviderFormatError,
    parse_provider_csv,
)
from landing_zone.resources.sources import SourcesResource
from landing_zone.sources import (
    FetchError,
    FetchResult,
    RemoteFile,
    StoredState,
    SyncPlan,
    check_name,
    fetch,
    list_remote,
    plan_sync,
    redact_url,
    safe_extract_zip,
)
from landing_zone.sources.urls import local_path, scheme_of
from shared.assets.landing_zone import station_key
from shared.io_managers.partitions import partition_dimensions
from shared.k8s import K8sOpTags
from shared.resources.storage import StorageResource
from shared.storage import ObjectInfo, Storage, object_key
from shared.storage.layout import asset_prefix

Network = Literal["meteo", "hydro"]
NETWORKS: tuple[Network, ...] = ("meteo", "hydro")

METEO_SYNC_PLAN = station_key("meteo", "sync_plan")
METEO_STATIONS = station_key("meteo", "stations")
METEO_RAW_OBSERVATIONS = station_key("meteo", "raw_observations")
HYDRO_SYNC_PLAN = station_key("hydro", "sync_plan")
HYDRO_STATIONS = station_key("hydro", "stations")
HYDRO_RAW_OBSERVATIONS = station_key("hydro", "raw_observations")

STATION_LIST = "stations.csv"
"""The provider's list of stations, at the top of each network's directory."""
RECORD_NAME = "source"
"""Name of the JSON record stored beside each raw file: ``source.json``."""
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
_RECORD_READERS = 8


class SourceRecord(BaseModel, frozen=True):
    """What the raw layer records beside a stored provider file: the listing it was fetched from."""

    name: str = Field(description="Path relative to the provider directory, e.g. 2019/250190391_2019.zip.")
    url: str = Field(description="Where it was fetched from (redacted).")
    size: int | None
    etag: str | None
    modified: datetime | None
    sha256: str = Field(description="SHA-256 of the stored bytes.")

    def state(self) -> StoredState:
        return StoredState(size=self.size, etag=self.etag, modified=self.modified)


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


def source_key(name: str) -> str:
    """The partition key of a provider file: its stem (``2019/250190391_2019.zip`` -> ``250190391_2019``)."""
    return check_name(PurePosixPath(name).stem)


def provider_files(url: str, allowed: Sequence[str] | None = None) -> list[RemoteFile]:
    """The provider's yearly zips and station list, local ones with their SHA-256 as ETag.

    Every listed file must lie under ``allowed`` (default: the directory itself), else
    :class:`SourceUrlRefused` names it. Raises ``ValueError`` when two zips share a stem, since they
    would share one partition.
    """
    listing = list_remote(url, allowed_prefixes=allowed)
    files = [file for file in listing if _is_source(file.name) or file.name == STATION_LIST]
    stems = [source_key(file.name) for file in files if _is_source(file.name)]
    shared = sorted({stem for stem in stems if stems.count(stem) > 1})
    if shared:
        raise ValueError(f"{redact_url(url)}: several files would share the partitions {shared}")
    return [_with_content_etag(file) if _is_local(file) else file for file in files]


def _is_source(name: str) -> bool:
    return name.lower().endswith(".zip")


def _is_local(file: RemoteFile) -> bool:
    return scheme_of(file.url) == "file"


def _with_content_etag(file: RemoteFile) -> RemoteFile:
    with local_path(file.url).open("rb") as handle:
        return replace(file, etag=hashlib.file_digest(handle, "sha256").hexdigest())


def stored_records(store: Storage, key: dg.AssetKey) -> list[SourceRecord]:
    """Every ``source.json`` under an asset's folder (a few at a time: on S3 each is one request)."""
    record_keys = [
        info.key
        for info in store.list(f"{asset_prefix(key.path)}/")
        if info.key.endswith(f"/{RECORD_NAME}.json")
    ]
    with ThreadPoolExecutor(_RECORD_READERS, thread_name_prefix="source-records") as pool:
        return list(pool.map(lambda k: SourceRecord.model_validate_json(store.get_bytes(k)), record_keys))


def plan_network(
    network: Network, url: str, store: Storage, allowed: Sequence[str] | None = None
) -> NetworkPlan:
    """The listing at ``url`` compared with the raw layer: what the asset shows and the sensor acts on."""
    listing = provider_files(url, allowed)
    stored = {
        record.name: record.state()
        for record in stored_records(store, station_key(network, "raw_observations"))
    }
    lists = {
        record.name: record.state() for record in stored_records(store, station_key(network, "stations"))
    }
    return NetworkPlan(
        sources=plan_sync([file for file in listing if _is_source(file.name)], stored),
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


def fetch_verified(file: RemoteFile, folder: Path, allowed: Sequence[str] | None = None) -> FetchResult:
    """Download a listed file, checked against its listed size (and, for local files, its SHA-256);
    with ``allowed``, its URL and every redirect must stay under those prefixes."""
    return fetch(
        file.url,
        folder / PurePosixPath(file.name).name,
        expected_size=file.size,
        expected_sha256=file.etag if _is_local(file) else None,
        allowed_prefixes=allowed,
        what=f"listed file {file.name!r}",
    )


def read_provider_zip(zip_path: Path, network: Network, source: str, work_dir: Path) -> pl.DataFrame:
    """The one CSV inside a provider zip, parsed with the network's format.

    A file that is not a zip (an empty download, an HTML error page) fails naming the file.
    """
    try:
        members = safe_extract_zip(zip_path, work_dir)
    except zipfile.BadZipFile as error:
        raise ProviderFormatError(f"{network} {source}: {error}") from None
    if len(members) != 1 or members[0].suffix.lower() != ".csv":
        names = [path.relative_to(work_dir).as_posix() for path in members]
        raise ProviderFormatError(f"{network} {source}: expected one CSV file in the zip, found {names}")
    return parse_provider_csv(members[0], FORMATS[network], source)


def store_source(
    store: Storage, key: str, record_key: str, file: RemoteFile, fetched: FetchResult
) -> ObjectInfo:
    """Put the fetched file unchanged under ``key``, then its record (what the next plan compares).

    The raw layer is append-only: every delivered version is also kept under its content-addressed
    name (``{name}.{sha256, 16 digits}.{ext}``), so a revised file never erases the version it revises;
    ``key`` always holds the current one, which readers and the record refer to. A current version
    stored before versions were kept is given its own content-addressed copy before it is replaced.
    """
    if store.exists(key):
        current = store.get_bytes(key)  # provider files are small (one station-year)
        _keep_version(
            store, key, hashlib.sha256(current).hexdigest(), lambda name: store.put_bytes(current, name)
        )
    _keep_version(store, key, fetched.sha256, lambda name: store.put_file(fetched.path, name))
    info = store.put_file(fetched.path, key)
    record = SourceRecord(
        name=file.name,
        url=redact_url(file.url),
        size=file.size,
        etag=file.etag,
        modified=file.modified,
        sha256=fetched.sha256,
    )
    store.put_bytes(record.model_dump_json(indent=2).encode(), record_key)
    return info


def _keep_version(store: Storage, key: str, sha256: str, put: Callable[[str], ObjectInfo]) -> None:
    """Store one version under ``{stem}.{sha256[:16]}{suffix}`` beside ``key`` unless it is there."""
    path = PurePosixPath(key)
    versioned = str(path.with_stem(f"{path.stem}.{sha256[:16]}"))
    if not store.exists(versioned):
        put(versioned)


def ingest(
    file: RemoteFile,
    store: Storage,
    asset_key: dg.AssetKey,
    partition: Mapping[str, str] | None,
    stored_name: str,
    parse: Callable[[Path, Path], pl.DataFrame],
    allowed: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Fetch, parse, and only then store: a file that cannot be parsed leaves the raw layer untouched.

    ``parse(downloaded_file, work_dir)`` returns the table; the returned metadata describes the file.
    ``allowed`` confines the fetch (see :func:`fetch_verified`).
    """
    ext = PurePosixPath(file.name).suffix.lstrip(".").lower()
    with tempfile.TemporaryDirectory(prefix="station-sync-") as tmp:
        fetched = fetch_verified(file, Path(tmp, "download"), allowed)
        table = parse(fetched.path, Path(tmp, "extract"))
        info = store_source(
            store,
            object_key(asset_key.path, partition, ext, name=stored_name),
            object_key(asset_key.path, partition, "json", name=RECORD_NAME),
            file,
            fetched,
        )
    return table, {
        "source_url": fetched.url,
        "source_name": file.name,
        "source_sha256": fetched.sha256,
        "source_bytes": fetched.size,
        "raw_uri": dg.MetadataValue.path(info.uri),
    }


def listed_file(
    url: str, name_matches: Callable[[RemoteFile], bool], what: str, allowed: Sequence[str] | None = None
) -> RemoteFile:
    """The one listed file a run is about; it must still be listed (the plan may be older than the run)."""
    found = [file for file in provider_files(url, allowed) if name_matches(file)]
    if not found:
        raise FetchError(f"{redact_url(url)}: {what} is no longer listed")
    return found[0]


def time_span(table: pl.DataFrame) -> dict[str, Any]:
    """First and last time of a table, for metadata (nothing for an empty one)."""
    if table.is_empty():
        return {}
    return {"first_time": str(table["time"].min()), "last_time": str(table["time"].max())}


class StationSync(dg.Component, dg.Model, dg.Resolvable):
    """Sync plan, station list, raw observations and the sync sensor of one station network."""

    network: Network = Field(
        description="meteo or hydro: names the asset keys, the source URL and the format."
    )

    def key(self, stage: str) -> dg.AssetKey:
        return station_key(self.network, stage)

    @property
    def partitions_name(self) -> str:
        return f"{self.network}_sources"

    @property
    def sources_partitions(self) -> dg.DynamicPartitionsDefinition:
        return dg.DynamicPartitionsDefinition(name=self.partitions_name)

    def url(self, sources: SourcesResource) -> str:
        return sources.meteo_url if self.network == "meteo" else sources.hydro_url

    def allowed(self, sources: SourcesResource) -> tuple[str, ...]:
        """Where the provider's listed files may lie: its directory and any configured extras."""
        return sources.allowed_prefixes(self.network)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dg.Definitions(
            assets=[self._sync_plan(), self._stations(), self._raw_observations()],
            sensors=[self._sensor()],
        )

    def _sync_plan(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("sync_plan"),
            op_tags=K8sOpTags.small(),
            kinds={"parquet", "polars"},
            description=f"The {self.network} provider's yearly files compared with the raw layer: new, "
            "changed, unchanged or gone.",
        )
        def sync_plan(sources: SourcesResource, storage: StorageResource) -> dg.Output[pl.DataFrame]:
            plan = plan_network(self.network, self.url(sources), storage.get_storage(), self.allowed(sources))
            table = plan_table(plan)
            return dg.Output(table, metadata=plan_metadata(plan, table))

        return sync_plan

    def _stations(self) -> dg.AssetsDefinition:
        @dg.asset(
            key=self.key("stations"),
            op_tags=K8sOpTags.small(),
            kinds={"parquet", "polars"},
            description=f"The {self.network} provider's station list (code, name, river, WGS84 position, "
            "elevation); the file itself is kept unchanged beside the table.",
        )
        def stations(sources: SourcesResource, storage: StorageResource) -> dg.Output[pl.DataFrame]:
            allowed = self.allowed(sources)
            file = listed_file(self.url(sources), lambda f: f.name == STATION_LIST, STATION_LIST, allowed)
            table, metadata = ingest(
                file,
                storage.get_storage(),
                self.key("stations"),
                None,
                "stations",
                lambda path, _: parse_provider_csv(path, STATION_LIST_FORMAT, file.name),
                allowed,
            )
            return dg.Output(table, metadata=metadata | {"stations": table.height})

        return stations

    def _raw_observations(self) -> dg.AssetsDefinition:
        partitions = self.sources_partitions

        @dg.asset(
            key=self.key("raw_observations"),
            partitions_def=partitions,
            op_tags=K8sOpTags.small(),
            kinds={"parquet", "polars"},
            description=f"One {self.network} provider file, kept unchanged in the raw layer and parsed "
            "into a typed table (station, UTC time, one column per variable, source, line).",
        )
        def raw_observations(
            context: dg.AssetExecutionContext, sources: SourcesResource, storage: StorageResource
        ) -> dg.Output[pl.DataFrame]:
            source = context.partition_key
            allowed = self.allowed(sources)
            file = listed_file(
                self.url(sources),
                lambda f: _is_source(f.name) and source_key(f.name) == source,
                f"the file of partition {source!r}",
                allowed,
            )
            table, metadata = ingest(
                file,
                storage.get_storage(),
                self.key("raw_observations"),
                partition_dimensions(partitions, source),
                source,
                lambda path, work_dir: read_provider_zip(path, self.network, source, work_dir),
                allowed,
            )
            stations = table["station"].n_unique()
            return dg.Output(
                table, metadata=metadata | time_span(table) | {"rows": table.height, "stations": stations}
            )

        return raw_observations

    def _sensor(self) -> dg.SensorDefinition:
        partitions = self.sources_partitions
        raw_key, stations_key = self.key("raw_observations"), self.key("stations")

        @dg.sensor(
            name=f"{self.network}_sync_sensor",
            minimum_interval_seconds=3600,
            asset_selection=[raw_key, stations_key],
            description=f"Keeps {partitions.name} equal to the provider's files; runs new or changed ones.",
        )
        def sync_sensor(
            context: dg.SensorEvaluationContext, sources: SourcesResource, storage: StorageResource
        ) -> dg.SensorResult:
            plan = plan_network(self.network, self.url(sources), storage.get_storage(), self.allowed(sources))
            listed = plan.listed_sources()
            registered = set(context.instance.get_dynamic_partitions(self.partitions_name))
            return dg.SensorResult(
                run_requests=[
                    *(
                        dg.RunRequest(
                            run_key=run_key(f), asset_selection=[raw_key], partition_key=source_key(f.name)
                        )
                        for f in plan.to_fetch()
                    ),
                    *(
                        dg.RunRequest(run_key=run_key(f), asset_selection=[stations_key])
                        for f in (*plan.station_list.new, *plan.station_list.changed)
                    ),
                ],
                dynamic_partitions_requests=_partition_changes(partitions, listed, registered),
            )

        return sync_sensor


def _partition_changes(
    partitions: dg.DynamicPartitionsDefinition, listed: set[str], registered: set[str]
) -> Sequence[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest]:
    """Requests that make the registered partitions equal to the listed files."""
    changes: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if listed - registered:
        changes.append(partitions.build_add_request(sorted(listed - registered)))
    if registered - listed:
        changes.append(partitions.build_delete_request(sorted(registered - listed)))
    return changes


def station_definitions() -> dg.Definitions:
    """Both networks' sync."""
    return dg.Definitions.merge(
        *(dg.build_defs_for_component(StationSync(network=network)) for network in NETWORKS)
    )
