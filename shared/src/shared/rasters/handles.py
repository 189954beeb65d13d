"""The small typed objects exchanged with the raster IO manager: a COG to store, a stored COG to read,
and the scratch folders assets write their COGs in."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCRATCH_MARK = ".platform-scratch"


@dataclass(frozen=True)
class CogFile:
    """A finished local COG that an asset returns; the IO manager stores it (and by default removes it).

    With ``remove_after_store`` the manager also removes the COG's folder when :func:`scratch_dir` made
    it, intermediates included, so no step leaves temporary folders behind.
    """

    path: Path
    remove_after_store: bool = True


def scratch_dir(prefix: str) -> Path:
    """A new temporary folder for one output COG and its intermediates, marked as disposable.

    The raster IO manager deletes a marked folder once it stored the COG inside it: an asset cannot
    clean up after returning, and a plain ``mkdtemp`` would leak one folder per run. A step that fails
    before its output is stored leaves it to process exit (each step runs in its own process or pod).
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    (folder / SCRATCH_MARK).touch()
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def remove_stored(cog: CogFile) -> None:
    """Remove a stored COG and, when :func:`scratch_dir` made its folder, the whole folder."""
    if not cog.remove_after_store:
        return
    folder = cog.path.parent
    if (folder / SCRATCH_MARK).is_file():
        shutil.rmtree(folder, ignore_errors=True)
    else:
        cog.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class StoredRaster:
    """A stored raster as a path GDAL opens, never an in-memory array.

    The raster IO manager hands out a local copy staged through the storage API (its retries survive
    what GDAL's ``/vsis3/`` cannot: a connection reset mid-body), removed when this handle is garbage
    collected; with staging turned off, the ``/vsis3/`` path for ranged reads. ``uri`` always names the
    stored object. ``gdal_options`` carry endpoint settings only; credentials come from the environment.
    """

    uri: str
    gdal_path: str
    gdal_options: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def open(self) -> Iterator[Any]:
        """Open with rasterio inside a GDAL environment configured for the storage (ranged reads on S3)."""
        import rasterio

        with rasterio.Env(**self.gdal_options), rasterio.open(self.gdal_path) as dataset:
            yield dataset
