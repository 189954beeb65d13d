"""Vector IO manager: :class:`GeoFrame` layers as GeoParquet, plus FlatGeobuf for layers analysts open.

Every layer is stored as ``part.parquet`` (GeoParquet 1.1). An asset whose definition metadata sets
``flatgeobuf: True`` also gets ``part.fgb`` beside it, with a spatial index, so QGIS can open it
straight from S3 (``/vsis3/...``); the metadata records both URIs and the GDAL path to paste.
Inputs load as :class:`GeoFrame` (or ``dict[str, GeoFrame]`` for several partitions).
"""

import time
from typing import Any, ClassVar

from dagster import InputContext, MetadataValue, OutputContext
from pydantic import Field

from shared.io_managers.base import StorageIOManager, UnsupportedAnnotationError
from shared.io_managers.metadata import object_metadata, table_metadata
from shared.vectors.formats import read_geoparquet, write_flatgeobuf, write_geoparquet
from shared.vectors.geoframe import GeoFrame

FLATGEOBUF = "flatgeobuf"
"""Asset definition metadata flag: also publish the layer as FlatGeobuf for analysts."""


class VectorIOManager(StorageIOManager):
    """Stores each asset partition as ``{asset path}/{dim=value...}/part.parquet`` (GeoParquet)."""

    extension: ClassVar[str] = "parquet"
    compression_level: int = Field(default=3, description="zstd level of the GeoParquet files.")

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        if not isinstance(obj, GeoFrame):
            raise UnsupportedAnnotationError(
                f"{context.asset_key.to_user_string()}: the vector IO manager stores a GeoFrame, "
                f"not {type(obj).__name__}"
            )
        key = self.output_key(context)
        started = time.perf_counter()
        with self.store.writer(key) as path:
            write_geoparquet(obj, path, self.compression_level)
        metadata = object_metadata(self.store.stat(key), time.perf_counter() - started)
        metadata |= table_metadata(obj.frame.schema, obj.frame.height) | _layer_metadata(obj)
        if (context.definition_metadata or {}).get(FLATGEOBUF):
            metadata |= self._publish_flatgeobuf(obj, key)
        context.add_output_metadata(metadata)

    def load_input(self, context: InputContext) -> Any:
        return self.load_objects(context, (GeoFrame,), lambda key, _: self._load_one(key, context))

    def _load_one(self, key: str, context: InputContext) -> GeoFrame:
        self.require(key, context)
        with self.store.local_copy(key) as path:
            return read_geoparquet(path, self.store.uri(key))

    def _publish_flatgeobuf(self, layer: GeoFrame, parquet_key: str) -> dict[str, Any]:
        key = parquet_key.removesuffix(".parquet") + ".fgb"
        with self.store.writer(key) as path:
            write_flatgeobuf(layer, path)
        return {
            "flatgeobuf_uri": MetadataValue.path(self.store.uri(key)),
            "flatgeobuf_gdal_path": MetadataValue.text(self.store.gdal_path(key)),
            "flatgeobuf_bytes": MetadataValue.int(self.store.stat(key).size),
        }


def _layer_metadata(layer: GeoFrame) -> dict[str, Any]:
    return {
        "crs": MetadataValue.text(layer.crs),
        "geometry_types": MetadataValue.json(layer.geometry_types()),
        "bounds": MetadataValue.json(list(layer.bounds()) if layer.frame.height else []),
    }
