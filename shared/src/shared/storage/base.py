"""The storage API: one interface over a local directory and an S3 bucket prefix.

Keys are relative, ``/``-separated object keys produced by :mod:`shared.storage.layout`. Every write is
atomic: a reader sees either the previous object or the complete new one, never a partial object.
"""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath


class StorageError(RuntimeError):
    """A storage operation failed; the message names the object's URI."""


class ObjectNotFoundError(StorageError, FileNotFoundError):
    """The object does not exist in storage."""


@dataclass(frozen=True)
class ObjectInfo:
    """What a listing or a write tells about one stored object."""

    key: str
    uri: str
    size: int
    modified: datetime
    etag: str | None = None


def check_key(key: str) -> str:
    """Reject keys that are absolute or climb out of the storage root (untrusted names end up here)."""
    path = PurePosixPath(key)
    if not key or path.is_absolute() or ".." in path.parts or "\\" in key:
        raise StorageError(f"object key {key!r} is not a relative key inside the storage root")
    return path.as_posix()


class Storage(ABC):
    """Object storage rooted at ``url``; subclasses implement the local and S3 flavours."""

    url: str

    @abstractmethod
    def uri(self, key: str) -> str:
        """The full URI of a key (a local path or ``s3://bucket/prefix/key``), for humans and metadata."""

    @abstractmethod
    def gdal_path(self, key: str) -> str:
        """The path GDAL opens: a local path, or ``/vsis3/bucket/prefix/key`` for ranged reads."""

    @abstractmethod
    def gdal_options(self) -> dict[str, str]:
        """GDAL configuration options to read this storage (no credentials: those stay in the environment).

        Both flavours turn off GDAL's ``.aux.xml`` side files: readers must never write into storage.
        """

    @abstractmethod
    def polars_path(self, key: str) -> str:
        """The path polars reads and scans."""

    @abstractmethod
    def polars_options(self) -> dict[str, str] | None:
        """polars ``storage_options`` (no credentials: polars reads them from the environment)."""

    @abstractmethod
    def put_file(self, local_path: Path, key: str) -> ObjectInfo:
        """Store a local file under ``key`` atomically, replacing any previous object."""

    @abstractmethod
    def get_file(self, key: str, local_path: Path) -> Path:
        """Download ``key`` to ``local_path`` (written atomically)."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The whole object; for small objects only."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and modification time; raises :class:`ObjectNotFoundError` when absent."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Objects whose key starts with ``prefix`` (a folder prefix should end with ``/``), sorted by key."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Delete one object; returns whether it existed."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""
        try:
            self.stat(key)
        except ObjectNotFoundError:
            return False
        return True

    def put_bytes(self, data: bytes, key: str) -> ObjectInfo:
        """Store bytes atomically (through a temporary local file, so both flavours share one path)."""
        with self.writer(key) as path:
            path.write_bytes(data)
        return self.stat(key)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        """Yield a local file holding the object, for readers that are fastest on local files.

        The default downloads into a temporary directory removed afterwards; local storage yields the
        stored file itself.
        """
        staging = Path(tempfile.mkdtemp(prefix="platform-read-"))
        try:
            yield self.get_file(key, staging / PurePosixPath(key).name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @contextmanager
    def writer(self, key: str) -> Iterator[Path]:
        """Yield a local path to write; on success it is stored under ``key``, on error nothing changes.

        The default stages in a temporary directory; local storage overrides this to stage next to the
        destination so that storing is a rename rather than a copy.
        """
        check_key(key)
        staging = Path(tempfile.mkdtemp(prefix="platform-write-"))
        try:
            path = staging / PurePosixPath(key).name
            yield path
            self.put_file(path, key)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
