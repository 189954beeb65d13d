"""Vector IO manager: :class:`GeoFrame` layers as GeoParquet, plus FlatGeobuf for layers analysts open.

Every layer is stored as ``part.parquet`` (GeoParquet 1.1). An asset whose definition metadata sets
``flatgeobuf: True`` also gets ``part.fgb`` beside it, with a spatial index, so QGIS can open it
straight from S3 (``/vsis3/...``); the metadata records both URIs and the GDAL path to paste.
Inputs load as :class:`GeoFrame` (or ``dict[str, GeoFrame]`` for several partitions).

The pair is published as one unit. Both files are built locally first, so a layer either format refuses
changes nothing in storage. Then the FlatGeobuf is stored, and the GeoParquet last: downstream assets
read only the GeoParquet, so once they see a new version its FlatGeobuf is already in place. The one
window left is the reverse: if storing the GeoParquet fails after the FlatGeobuf succeeded, analysts see
the new FlatGeobuf beside the old GeoParquet until the failed materialisation is re-run; the platform
itself never reads a mismatched pair. (A manifest naming both would close that window too, but every
reader, QGIS included, would then have to go through it instead of opening the file.)
"""

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, ClassVar

from dagster import InputContext, MetadataValue, OutputContext
from pydantic import Field

from shared.columns import declared_descriptions
from shared.io_managers.base import StorageIOManager, UnsupportedAnnotationError
from shared.io_managers.metadata import object_metadata, table_metadata
from shared.storage.layout import FLATGEOBUF as FLATGEOBUF_EXTENSION
from shared.storage.layout import PARQUET
from shared.vectors.formats import FlatGeobufError, read_geoparquet, write_flatgeobuf, write_geoparquet
from shared.vectors.geoframe import GeoFrame

FLATGEOBUF = "flatgeobuf"
"""Asset definition metadata flag: also publish the layer as FlatGeobuf for analysts."""


class VectorIOManager(StorageIOManager):
    """Stores each asset partition as ``{asset path}/{dim=value...}/part.parquet`` (GeoParquet)."""

    extension: ClassVar[str] = PARQUET
    compression_level: int = Field(default=3, description="zstd level of the GeoParquet files.")

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if not isinstance(obj, GeoFrame):
            raise UnsupportedAnnotationError(
                f"{context.asset_key.to_user_string()}: the vector IO manager stores a GeoFrame, "
                f"not {type(obj).__name__}"
            )
        location = self.output_location(context)
        key = location.key(self.extension)
        wants_flatgeobuf = (context.definition_metadata or {}).get(FLATGEOBUF)
        flatgeobuf_key = location.key(FLATGEOBUF_EXTENSION) if wants_flatgeobuf else None
        started = time.perf_counter()
        self._publish(obj, key, flatgeobuf_key, context.asset_key.to_user_string())
        info = self.store.stat(key)
        metadata = object_metadata(info, time.perf_counter() - started, self.store.gdal_path(key))
        descriptions = declared_descriptions(context.definition_metadata)
        metadata |= table_metadata(obj.frame.schema, obj.frame.height, descriptions) | _layer_metadata(obj)
        if flatgeobuf_key:
            metadata |= self._flatgeobuf_metadata(flatgeobuf_key)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> Any:
        return self.load_objects(context, (GeoFrame,), lambda key, _: self._load_one(key, context))

    def _load_one(self, key: str, context: InputContext) -> GeoFrame:
        self.require(key, context)
        with self.store.local_copy(key) as path:
            return read_geoparquet(path, self.store.uri(key))

    def _publish(self, layer: GeoFrame, key: str, flatgeobuf_key: str | None, asset: str) -> None:
        """Build every file, then store the FlatGeobuf before the GeoParquet (see the module docstring).

        Each writer stores its file when its block exits without error; the stack exits them in reverse,
        so the FlatGeobuf writer, entered last, stores first, and any error before or while storing it
        leaves the GeoParquet unstored too.
        """
        with ExitStack() as writers:
            parquet_path = writers.enter_context(self.store.writer(key))
            write_geoparquet(layer, parquet_path, self.compression_level)
            if flatgeobuf_key:
                flatgeobuf_path = writers.enter_context(self.store.writer(flatgeobuf_key))
                self._build_flatgeobuf(layer, flatgeobuf_path, flatgeobuf_key, asset)

    def _build_flatgeobuf(self, layer: GeoFrame, path: Path, key: str, asset: str) -> None:
        try:
            write_flatgeobuf(layer, path, name=asset.rsplit("/", 1)[-1])
        except FlatGeobufError as error:
            raise FlatGeobufError(
                f"{asset}: cannot build {self.store.uri(key)}: {error}; neither it nor the GeoParquet "
                "beside it was changed"
            ) from error

    def _flatgeobuf_metadata(self, key: str) -> dict[str, Any]:
        return {
            "flatgeobuf_uri": MetadataValue.path(self.store.uri(key)),
            "flatgeobuf_gdal_path": MetadataValue.path(self.store.gdal_path(key)),
            "flatgeobuf_bytes": MetadataValue.int(self.store.stat(key).size),
        }


def _layer_metadata(layer: GeoFrame) -> dict[str, Any]:
    return {
        "crs": MetadataValue.text(layer.crs),
        "geometry_types": MetadataValue.json(layer.geometry_types()),
        "bounds": MetadataValue.json(list(layer.bounds()) if layer.frame.height else []),
    }
