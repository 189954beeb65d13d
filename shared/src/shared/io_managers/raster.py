"""Raster IO manager: stores finished COGs atomically and hands downstream a path GDAL opens.

The asset writes its COG locally (block-wise, see :mod:`shared.rasters.cog`) and returns a
:class:`CogFile` or a ``Path``; the manager checks it really is a georeferenced COG, uploads it in one
atomic step and records what an analyst needs (CRS, bounds, resolution, dtype, size, overviews, URI).
After storing, the manager removes the local COG, and its whole folder when the asset made it with
:func:`shared.rasters.handles.scratch_dir`.

Loading never decodes pixels: inputs get a :class:`StoredRaster` (or its GDAL path as ``str``). By
default the object is first staged to a local temporary folder through the storage API, because GDAL's
``/vsis3/`` reader cannot recover a connection reset in the middle of a body (a flaky endpoint failed
whole runs that way), while the storage API retries and resumes. The staged copy is removed when the
``StoredRaster`` is garbage collected (a ``str`` input's copy at process exit); staging refuses to fill
the disk (:meth:`shared.storage.Storage.stage_files`). ``stage_inputs=False`` hands out ``/vsis3/`` paths
instead, for steps that read small windows of large rasters with ranged reads.
"""

import atexit
import shutil
import tempfile
import time
import weakref
from pathlib import Path
from typing import Any, ClassVar

from dagster import InputContext, MetadataValue, OutputContext
from pydantic import Field

from shared.io_managers.base import StorageIOManager, UnsupportedAnnotationError
from shared.io_managers.metadata import object_metadata
from shared.rasters.cog import RasterDescription, describe_raster
from shared.rasters.handles import CogFile, StoredRaster, remove_stored
from shared.storage.layout import COG

_LOCAL_GDAL_OPTIONS = {"GDAL_PAM_ENABLED": "NO"}


class NotACogError(ValueError):
    """What an asset handed over is not a georeferenced Cloud Optimized GeoTIFF."""


class RasterIOManager(StorageIOManager):
    """Stores each asset partition as ``{asset path}/{dim=value...}/part.tif``."""

    extension: ClassVar[str] = COG

    stage_inputs: bool = Field(
        default=True,
        description="Copy inputs to local disk (with retries) before the step reads them; off: /vsis3/.",
    )

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        cog = _as_cog_file(obj, context)
        description = _checked_description(cog.path, context)
        key = self.output_key(context)
        started = time.perf_counter()
        info = self.store.put_file(cog.path, key)
        remove_stored(cog)
        context.add_output_metadata(
            object_metadata(info, time.perf_counter() - started, self.store.gdal_path(key))
            | raster_metadata(description)
        )

    def load_input(self, context: InputContext) -> Any:
        return self.load_objects(
            context, (StoredRaster, str), lambda key, annotation: self._load_one(key, annotation, context)
        )

    def _load_one(self, key: str, annotation: Any, context: InputContext) -> StoredRaster | str:
        self.require(key, context)
        if not self.stage_inputs:
            stored = StoredRaster(self.store.uri(key), self.store.gdal_path(key), self.store.gdal_options())
            return stored.gdal_path if annotation is str else stored
        staging = Path(tempfile.mkdtemp(prefix="raster-input-"))
        try:
            (local,) = self.store.stage_files([key], staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if annotation is str:
            atexit.register(shutil.rmtree, staging, ignore_errors=True)
            return str(local)
        stored = StoredRaster(self.store.uri(key), str(local), dict(_LOCAL_GDAL_OPTIONS))
        weakref.finalize(stored, shutil.rmtree, staging, ignore_errors=True)
        return stored


def raster_metadata(description: RasterDescription) -> dict[str, Any]:
    """Metadata of a raster as plain values (JSON for the tuples) so the UI can show and compare it."""
    return {
        "crs": MetadataValue.text(description.crs),
        "bounds": MetadataValue.json(list(description.bounds)),
        "resolution": MetadataValue.json(list(description.resolution)),
        "dtype": MetadataValue.text(description.dtype),
        "size": MetadataValue.text(f"{description.width}x{description.height}x{description.band_count}"),
        "nodata": MetadataValue.text("none" if description.nodata is None else repr(description.nodata)),
        "overview_levels": MetadataValue.json(list(description.overview_levels)),
        "block_size": MetadataValue.json(list(description.block_size)),
    }


def _as_cog_file(obj: Any, context: OutputContext) -> CogFile:
    if isinstance(obj, CogFile):
        return obj
    if isinstance(obj, str | Path):
        return CogFile(Path(obj), remove_after_store=False)
    raise UnsupportedAnnotationError(
        f"{context.asset_key.to_user_string()}: the raster IO manager stores a finished local COG given "
        f"as CogFile or Path, not {type(obj).__name__}"
    )


def _checked_description(path: Path, context: OutputContext) -> RasterDescription:
    """Describe the COG and refuse what would break readers: not a COG, no CRS, no file."""
    asset = context.asset_key.to_user_string()
    if not path.is_file():
        raise FileNotFoundError(f"{asset}: the COG to store does not exist: {path}")
    try:
        description = describe_raster(path)
    except Exception as error:
        raise NotACogError(f"{asset}: {path} is not a readable raster: {error}") from error
    if not description.is_cog:
        raise NotACogError(
            f"{asset}: {path} has layout {description.layout}, not COG; write it with "
            "shared.rasters.cog.copy_to_cog"
        )
    if not description.crs:
        raise NotACogError(f"{asset}: {path} has no CRS; readers could not place it")
    return description
