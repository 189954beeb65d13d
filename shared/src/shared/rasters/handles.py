"""The small typed objects exchanged with the raster IO manager: a COG to store, a stored COG to read."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class CogFile:
    """A finished local COG that an asset returns; the IO manager stores it (and by default removes it)."""

    path: Path
    remove_after_store: bool = True


@dataclass(frozen=True)
class StoredRaster:
    """A stored raster as a path GDAL opens (local or ``/vsis3/``), never an in-memory array.

    ``gdal_options`` carry endpoint settings only; credentials come from the environment.
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
