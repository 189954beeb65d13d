"""Parquet IO manager: polars frames and lists of pydantic models as zstd Parquet objects.

Outputs: ``pl.DataFrame``, ``pl.LazyFrame`` (streamed to disk with ``sink_parquet``, never collected in
memory) or ``list[Model]``. Inputs get what their annotation asks for: ``pl.DataFrame``, ``pl.LazyFrame``
(a lazy scan, so filters push down to the file or S3 range reads; the only input read by polars'
own S3 client), ``list[Model]``, or ``dict[str, X]``
keyed by partition when an input spans several upstream partitions. With several partitions and a
frame annotation, the partitions are concatenated in partition order.
"""

import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from dagster import InputContext, OutputContext
from pydantic import BaseModel, Field

from shared.columns import declared_descriptions, model_descriptions
from shared.io_managers.base import (
    StorageIOManager,
    UnsupportedAnnotationError,
    input_annotation,
    split_mapping_annotation,
)
from shared.io_managers.metadata import object_metadata, table_metadata, time_range
from shared.io_managers.pydantic_frames import (
    frame_to_models,
    is_model_list,
    model_of,
    models_to_frame,
)
from shared.storage.layout import PARQUET

ALLOW_MISSING_PARTITIONS = "allow_missing_partitions"
"""Input metadata flag: load the upstream partitions that exist and leave out the others."""

SUPPORTED_INPUTS = "pl.DataFrame, pl.LazyFrame, list[PydanticModel] or dict[str, one of those]"


class CorruptParquetError(ValueError):
    """A stored object cannot be read as Parquet."""


class ParquetIOManager(StorageIOManager):
    """Stores each asset partition as ``{asset path}/{dim=value...}/part.parquet`` (zstd)."""

    extension: ClassVar[str] = PARQUET
    compression_level: int = Field(default=3, description="zstd level; 3 balances speed and size.")

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if obj is None:
            return
        frame = self._as_frame(context, obj)
        key = self.output_key(context)
        started = time.perf_counter()
        with self.store.writer(key) as path:
            schema, rows, span = self._write(frame, path)
        info = self.store.stat(key)
        descriptions = _model_descriptions(context, obj) | declared_descriptions(context.definition_metadata)
        context.add_output_metadata(
            object_metadata(info, time.perf_counter() - started)
            | table_metadata(schema, rows, descriptions)
            | span
        )

    def load_input(self, context: InputContext) -> Any:
        per_partition, annotation = split_mapping_annotation(input_annotation(context))
        _check_supported(annotation, context)
        keys = self.input_keys(context)
        if len(keys) > 1 and (context.definition_metadata or {}).get(ALLOW_MISSING_PARTITIONS):
            keys = {partition: key for partition, key in keys.items() if self.store.exists(key)}
        if per_partition:
            return {partition: self._load_one(key, annotation, context) for partition, key in keys.items()}
        if len(keys) == 1:
            return self._load_one(next(iter(keys.values())), annotation, context)
        return self._load_many(list(keys.values()), annotation, context)

    def _as_frame(self, context: OutputContext, obj: Any) -> pl.DataFrame | pl.LazyFrame:
        if isinstance(obj, pl.DataFrame | pl.LazyFrame):
            return obj
        if isinstance(obj, list):
            annotation = context.dagster_type.typing_type
            if is_model_list(annotation):
                return models_to_frame(obj, model_of(annotation))
            if obj and isinstance(obj[0], BaseModel) and all(type(item) is type(obj[0]) for item in obj):
                return models_to_frame(obj, type(obj[0]))
        raise UnsupportedAnnotationError(
            f"{context.asset_key.to_user_string()}: cannot store {type(obj).__name__} as Parquet; return a "
            "pl.DataFrame, a pl.LazyFrame or a list of one pydantic model (annotate an empty list as "
            "list[Model])"
        )

    def _write(self, frame: pl.DataFrame | pl.LazyFrame, path: Path) -> tuple[pl.Schema, int, dict[str, Any]]:
        """Write the table; its schema, row count and time range (read back from the file for a lazy
        frame, which must not be computed twice)."""
        options: dict[str, Any] = {"compression": "zstd", "compression_level": self.compression_level}
        if isinstance(frame, pl.LazyFrame):
            frame.sink_parquet(path, **options)
            written = pl.scan_parquet(path)
            return written.collect_schema(), written.select(pl.len()).collect().item(), time_range(written)
        frame.write_parquet(path, **options)
        return frame.schema, frame.height, time_range(frame)

    def _scan(self, key: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.store.polars_path(key), storage_options=self.store.polars_options())

    def _load_one(self, key: str, annotation: Any, context: InputContext) -> Any:
        self.require(key, context)
        uri = self.store.uri(key)
        try:
            if annotation is pl.LazyFrame:
                lazy = self._scan(key)
                lazy.collect_schema()  # reads the footer now, so a corrupt file fails here, not downstream
                return lazy
            # One whole-object download then a local read: faster than polars' ranged S3 reads
            # for a full-table load (measured in benchmarks/io.py).
            with self.store.local_copy(key) as path:
                frame = pl.read_parquet(path)
        except (pl.exceptions.PolarsError, OSError) as error:
            raise CorruptParquetError(f"{uri} is not readable Parquet: {error}") from error
        return self._shape(frame, annotation, uri)

    def _load_many(self, keys: list[str], annotation: Any, context: InputContext) -> Any:
        for key in keys:
            self.require(key, context)
        if annotation is pl.LazyFrame:
            return pl.concat([self._scan(key) for key in keys], how="vertical")
        where = f"{len(keys)} partitions of {context.asset_key.to_user_string()}"
        # Downloaded through the storage API (retries, resumed bodies, logged) rather than read by
        # polars' own object-store client, whose retries an operator cannot see.
        with tempfile.TemporaryDirectory(prefix="parquet-inputs-") as scratch:
            paths = self.store.stage_files(keys, Path(scratch))
            try:
                frame = pl.concat([pl.read_parquet(path) for path in paths], how="vertical")
            except (pl.exceptions.PolarsError, OSError) as error:
                raise CorruptParquetError(f"{where}: not readable Parquet: {error}") from error
        return self._shape(frame, annotation, where)

    def _shape(self, frame: pl.DataFrame, annotation: Any, source: str) -> Any:
        if is_model_list(annotation):
            return frame_to_models(frame, model_of(annotation), source)
        return frame


def _model_descriptions(context: OutputContext, obj: Any) -> dict[str, str]:
    """The row model's field descriptions when the output is a list of pydantic models."""
    annotation = context.dagster_type.typing_type
    if is_model_list(annotation):
        return model_descriptions(model_of(annotation))
    if isinstance(obj, list) and obj and isinstance(obj[0], BaseModel):
        return model_descriptions(type(obj[0]))
    return {}


def _check_supported(annotation: Any, context: InputContext) -> None:
    """Fail before any read when the consumer asks for a type this manager cannot produce."""
    if annotation in (pl.DataFrame, pl.LazyFrame, Any, None) or is_model_list(annotation):
        return
    raise UnsupportedAnnotationError(
        f"input {context.name!r} (asset {context.asset_key.to_user_string()}) is annotated "
        f"{annotation!r}; the Parquet IO manager loads {SUPPORTED_INPUTS}"
    )
