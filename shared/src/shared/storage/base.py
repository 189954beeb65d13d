"""The storage API: one interface over a local directory and an S3 bucket prefix.

Keys are relative, ``/``-separated object keys produced by :mod:`shared.storage.layout`. Every write is
atomic: a reader sees either the previous object or the complete new one, never a partial object.
"""

from __future__ import annotations

import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath


class StorageError(RuntimeError):
    """A storage operation failed; the message names the object's URI."""


class ObjectNotFoundError(StorageError, FileNotFoundError):
    """The object does not exist in storage."""


class StorageUnavailableError(StorageError):
    """The network or the storage endpoint kept failing through every retry: a transient fault, so the
    step may succeed when run again (see :data:`shared.resources.platform.TRANSIENT_STEP_RETRY`)."""


class InsufficientDiskError(StorageError):
    """Staging objects locally would not leave the required free space on the staging disk."""


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

    def stage_files(
        self, keys: Sequence[str], directory: Path, spare_factor: float = 0.0, concurrency: int = 8
    ) -> tuple[Path, ...]:
        """Local files holding ``keys`` (in order), downloaded into ``directory`` with retries.

        GDAL reading ``/vsis3/`` cannot recover a connection reset mid-body, so pipeline steps stage
        their raster inputs through this API instead. Disk use is bounded: before downloading, the
        inputs' total size times ``1 + spare_factor`` (``1.0`` for a step that writes an output as large
        as its inputs) must fit in the free space of ``directory``, else :class:`InsufficientDiskError`.
        Each key gets its own sub-folder so equal file names never collide. The caller removes
        ``directory``; local storage overrides this to return the stored files without copying.
        """
        sizes = [self.stat(key).size for key in keys]
        require_free_space(directory, sum(sizes) * (1.0 + spare_factor), keys)
        targets = [directory / str(index) / PurePosixPath(key).name for index, key in enumerate(keys)]
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(keys)))) as pool:
            return tuple(pool.map(self.get_file, keys, targets))

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


def require_free_space(directory: Path, needed_bytes: float, keys: Sequence[str]) -> None:
    """Refuse to stage when ``needed_bytes`` would not fit on ``directory``'s disk: failing early with
    the numbers beats filling a node's disk halfway through a download."""
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if needed_bytes > free:
        raise InsufficientDiskError(
            f"staging {len(keys)} object(s) in {directory} needs {needed_bytes / 1e6:.0f} MB but only "
            f"{free / 1e6:.0f} MB are free; point TMPDIR at a larger volume"
        )
