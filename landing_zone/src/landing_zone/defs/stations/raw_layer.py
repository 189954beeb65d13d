"""The raw layer of a station network: each provider file stored unchanged, with a record of its fetch.

A file is fetched (verified against the listing), parsed with the network's
:class:`~landing_zone.defs.stations.provider_formats.ProviderFormat` and only then stored, with a
``source.json`` beside it recording what was fetched: the next sync plan compares the listing with those
records. A file whose format changed therefore fails before anything is written, and the partition's
previous zip and table stay as they were.

Raw layer of a partition (layout contract, dimension = the dynamic partitions' name)::

    {network}/raw_observations/{network}_sources={stem}/{stem}.zip      the provider's file, unchanged
    {network}/raw_observations/{network}_sources={stem}/source.json     what was fetched (SourceRecord)
    {network}/raw_observations/{network}_sources={stem}/part.parquet    the typed table (IO manager)
"""

import hashlib
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

import polars as pl
from pydantic import BaseModel, Field

from landing_zone.defs.stations.provider_formats import (
    FORMATS,
    Network,
    ProviderFormatError,
    parse_provider_csv,
)
from landing_zone.defs.stations.provider_listing import is_local
from landing_zone.sources import (
    FetchResult,
    RemoteFile,
    StoredState,
    fetch,
    redact_url,
    safe_extract_zip,
)
from shared.storage import ObjectInfo, Storage
from shared.storage.layout import JSON, AssetLocation

RECORD_NAME = "source"
"""Name of the JSON record stored beside each raw file: ``source.json``."""
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
class Ingested:
    """A provider file taken into the raw layer: its parsed table, the fetch, and the stored object."""

    table: pl.DataFrame
    fetched: FetchResult
    stored: ObjectInfo


def stored_records(store: Storage, asset_path: Sequence[str]) -> list[SourceRecord]:
    """Every ``source.json`` under an asset's folder (a few at a time: on S3 each is one request)."""
    record_keys = [
        info.key
        for info in store.list(AssetLocation(asset_path).folder)
        if info.key.endswith(f"/{RECORD_NAME}.{JSON}")
    ]
    with ThreadPoolExecutor(_RECORD_READERS, thread_name_prefix="source-records") as pool:
        return list(pool.map(lambda k: SourceRecord.model_validate_json(store.get_bytes(k)), record_keys))


def fetch_verified(file: RemoteFile, folder: Path, allowed: Sequence[str] | None = None) -> FetchResult:
    """Download a listed file, checked against its listed size (and, for local files, its SHA-256);
    with ``allowed``, its URL and every redirect must stay under those prefixes."""
    return fetch(
        file.url,
        folder / PurePosixPath(file.name).name,
        expected_size=file.size,
        expected_sha256=file.etag if is_local(file) else None,
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
    location: AssetLocation,
    stored_name: str,
    parse: Callable[[Path, Path], pl.DataFrame],
    allowed: Sequence[str] | None = None,
) -> Ingested:
    """Fetch, parse, and only then store: a file that cannot be parsed leaves the raw layer untouched.

    ``parse(downloaded_file, work_dir)`` returns the table. ``allowed`` confines the fetch (see
    :func:`fetch_verified`).
    """
    ext = PurePosixPath(file.name).suffix.lstrip(".").lower()
    with tempfile.TemporaryDirectory(prefix="station-sync-") as tmp:
        fetched = fetch_verified(file, Path(tmp, "download"), allowed)
        table = parse(fetched.path, Path(tmp, "extract"))
        stored = store_source(
            store,
            location.key(ext, name=stored_name),
            location.key(JSON, name=RECORD_NAME),
            file,
            fetched,
        )
    return Ingested(table=table, fetched=fetched, stored=stored)
