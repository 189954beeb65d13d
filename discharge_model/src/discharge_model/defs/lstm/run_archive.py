"""Stored model runs: each trained run directory is one immutable zip, and a small pointer names the
current one.

Layout in the lstm asset partition's folder (:class:`shared.storage.layout.AssetLocation`)::

    discharge_model/lstm/partition={region}/run-{run_id}.zip     one per successful training, never rewritten
    discharge_model/lstm/partition={region}/current.json         {"archive": key, ...}, written last

Publishing uploads the archive under a name no earlier run used, then replaces the pointer; both writes
are atomic (storage contract). A run that fails before the pointer is written leaves the pointer, and so
the published model, as it was: at worst an unreferenced archive remains. Old archives stay, so two
models can be compared and any one reloaded by its key (the lstm asset's metadata names it). Nothing here
imports torch or NeuralHydrology.
"""

from __future__ import annotations

import datetime as dt
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from shared.storage import ObjectNotFoundError, Storage, StorageError
from shared.storage.checksums import file_sha256
from shared.storage.layout import JSON, AssetLocation

ARCHIVE_EXT = "zip"
ARCHIVE_PREFIX = "run-"
POINTER_NAME = "current"
"""``current.json``: the pointer to the published run."""


class ModelNotFoundError(LookupError):
    """No trained model has been published for the partition (or the pointer names a missing archive)."""


@dataclass(frozen=True)
class PublishedRun:
    """A run archive in storage and the pointer record that publishes it."""

    key: str
    uri: str
    size: int
    sha256: str
    record: dict[str, Any]


def new_run_id(dagster_run_id: str, now: dt.datetime | None = None) -> str:
    """A run name that sorts by training time and cannot collide between Dagster runs:
    ``20250115T103000Z-1a2b3c4d``."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{dagster_run_id.replace('-', '')[:8]}"


def archive_key(location: AssetLocation, run_id: str) -> str:
    """Where the run ``run_id`` of this partition is stored."""
    return location.key(ARCHIVE_EXT, name=f"{ARCHIVE_PREFIX}{run_id}")


def pack(run_dir: Path, destination: Path) -> Path:
    """Zip every file of ``run_dir`` (weights, scaler, config, log), paths relative to it, in sorted order."""
    files = sorted(path for path in run_dir.rglob("*") if path.is_file())
    if not files:
        raise ValueError(f"run directory {run_dir} holds no files")
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            bundle.write(path, path.relative_to(run_dir).as_posix())
    return destination


def publish(
    storage: Storage, location: AssetLocation, archive: Path, run_id: str, record: dict[str, Any]
) -> PublishedRun:
    """Upload ``archive`` as the run ``run_id``, then point ``current.json`` at it (in that order).

    Refuses to replace an existing archive: a stored model is immutable, whatever happens to the run that
    made it.
    """
    key = archive_key(location, run_id)
    if storage.exists(key):
        raise StorageError(f"{storage.uri(key)} already exists; a stored model run is never overwritten")
    digest = file_sha256(archive)
    info = storage.put_file(archive, key)
    pointer = {"archive": key, "run_id": run_id, "sha256": digest, "size": info.size, **record}
    storage.put_bytes(
        json.dumps(pointer, indent=2, sort_keys=True, default=str).encode(), pointer_key(location)
    )
    return PublishedRun(key=key, uri=info.uri, size=info.size, sha256=digest, record=pointer)


def pointer_key(location: AssetLocation) -> str:
    """The key of the partition's ``current.json``."""
    return location.key(JSON, name=POINTER_NAME)


def current(storage: Storage, location: AssetLocation) -> dict[str, Any]:
    """The published run's pointer record; :class:`ModelNotFoundError` before the first training."""
    key = pointer_key(location)
    return stored_record(
        storage,
        key,
        ModelNotFoundError(
            f"no trained model at {storage.uri(key)}: materialise the lstm asset for this partition first"
        ),
    )


def stored_record(storage: Storage, key: str, missing: LookupError) -> dict[str, Any]:
    """The JSON record at ``key`` (a model pointer: ``current.json``, ``promoted.json``); ``missing`` is
    raised when there is none yet."""
    try:
        record: dict[str, Any] = json.loads(storage.get_bytes(key))
    except ObjectNotFoundError:
        raise missing from None
    return record


def fetch(storage: Storage, key: str, destination: Path, sha256: str | None = None) -> Path:
    """Download and unpack the run archive ``key`` into ``destination``; returns the run directory.

    With ``sha256`` the download is verified first, so a reloaded model is the one the pointer names.
    """
    destination.mkdir(parents=True, exist_ok=True)
    local = destination / PurePosixPath(key).name
    try:
        storage.get_file(key, local)
    except ObjectNotFoundError:
        raise ModelNotFoundError(f"the model archive {storage.uri(key)} is missing") from None
    if sha256 is not None and file_sha256(local) != sha256:
        raise StorageError(f"{storage.uri(key)} does not match its recorded SHA-256 {sha256}")
    run_dir = destination / "run"
    root = run_dir.resolve()
    with zipfile.ZipFile(local) as bundle:
        for member in bundle.namelist():
            if not (root / member).resolve().is_relative_to(root):
                raise StorageError(f"{storage.uri(key)}: member {member!r} would unpack outside the run dir")
        bundle.extractall(run_dir)
    local.unlink()
    return run_dir
