"""Local-directory storage: the embedded default for ``make demo`` and ``dagster dev``."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from shared.storage.base import ObjectInfo, ObjectNotFoundError, Storage, check_key

_TEMP_MARK = ".tmp-"


class LocalStorage(Storage):
    """Objects are files under ``root``; writes go to a hidden temporary sibling, then ``os.replace``.

    The rename makes every write atomic for readers. There is no fsync: this is the development and
    demo backend, and crash durability is the object store's job in production (an fsync per object
    cost as much as the IO manager's whole overhead over plain polars).
    """

    def __init__(self, root: Path) -> None:
        self.root = root.expanduser().resolve()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def gdal_path(self, key: str) -> str:
        return str(self._path(key))

    def gdal_options(self) -> dict[str, str]:
        return {"GDAL_PAM_ENABLED": "NO"}

    def polars_path(self, key: str) -> str:
        return str(self._path(key))

    def polars_options(self) -> dict[str, str] | None:
        return None

    @contextmanager
    def writer(self, key: str) -> Iterator[Path]:
        destination = self._path(key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = destination.with_name(f"{_TEMP_MARK}{uuid.uuid4().hex}-{destination.name}")
        try:
            yield staging
            staging.replace(destination)
        finally:
            staging.unlink(missing_ok=True)

    @contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        yield self._existing(key)

    def stage_files(
        self, keys: Sequence[str], directory: Path, spare_factor: float = 0.0, concurrency: int = 8
    ) -> tuple[Path, ...]:
        """The stored files themselves: they already are local, so copying would only cost disk."""
        return tuple(self._existing(key) for key in keys)

    def put_file(self, local_path: Path, key: str) -> ObjectInfo:
        with self.writer(key) as staging:
            shutil.copyfile(local_path, staging)
        return self.stat(key)

    def get_file(self, key: str, local_path: Path) -> Path:
        source = self._existing(key)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        staging = local_path.with_name(f"{_TEMP_MARK}{uuid.uuid4().hex}-{local_path.name}")
        try:
            shutil.copyfile(source, staging)
            staging.replace(local_path)
        finally:
            staging.unlink(missing_ok=True)
        return local_path

    def get_bytes(self, key: str) -> bytes:
        return self._existing(key).read_bytes()

    def stat(self, key: str) -> ObjectInfo:
        path = self._existing(key)
        return self._info(path)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.exists():
            return
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if path.is_file() and key.startswith(prefix) and not path.name.startswith(_TEMP_MARK):
                yield self._info(path)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise ObjectNotFoundError(f"no object at {path}")
        return path

    def _info(self, path: Path) -> ObjectInfo:
        stat = path.stat()
        return ObjectInfo(
            key=path.relative_to(self.root).as_posix(),
            uri=str(path),
            size=stat.st_size,
            modified=datetime.fromtimestamp(stat.st_mtime, tz=UTC),
        )
