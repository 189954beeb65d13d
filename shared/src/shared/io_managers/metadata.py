"""Materialisation metadata shared by the IO managers: size, URIs, duration, described columns, time range.

URIs come from the storage (:meth:`shared.storage.Storage.uri` and ``gdal_path``), the one place that
knows the flavour: ``s3://bucket/key`` and ``/vsis3/bucket/key`` on S3, a file path locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

from shared.columns import COLUMN_SCHEMA
from shared.storage import ObjectInfo

TIME_COLUMNS = ("time", "date", "datetime", "month", "run_time")
"""Columns that make a table a time series, in order of preference: the first present, temporal one
gives the table's ``time_range``."""


def object_metadata(info: ObjectInfo, duration_s: float, gdal_path: str | None = None) -> dict[str, Any]:
    """What every stored object reports: its URI (for polars, boto3, the AWS CLI), bytes and write time,
    and for what GDAL and QGIS open, the path to paste (``/vsis3/...`` on S3)."""
    metadata = {
        "uri": MetadataValue.path(info.uri),
        "bytes": MetadataValue.int(info.size),
        "duration_s": MetadataValue.float(round(duration_s, 3)),
    }
    if gdal_path is not None:
        metadata["gdal_path"] = MetadataValue.path(gdal_path)
    return metadata


def table_metadata(
    schema: pl.Schema, row_count: int, descriptions: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Dagster's standard table metadata: the stored column schema, described where the asset declared
    its columns (:mod:`shared.columns`), and the row count. Stored columns the declaration misses are
    listed as ``undescribed_columns``, so a table that drifted from its declaration shows it."""
    descriptions = descriptions or {}
    columns = [
        TableColumn(name=name, type=str(dtype), description=descriptions.get(name))
        for name, dtype in schema.items()
    ]
    metadata: dict[str, Any] = {
        COLUMN_SCHEMA: TableSchema(columns=columns),
        "dagster/row_count": MetadataValue.int(row_count),
    }
    undescribed = [name for name in schema if name not in descriptions]
    if descriptions and undescribed:
        metadata["undescribed_columns"] = MetadataValue.json(undescribed)
    return metadata


def time_range(frame: pl.DataFrame | pl.LazyFrame) -> dict[str, Any]:
    """First and last value of the table's time column (:data:`TIME_COLUMNS`), so a reader sees the
    span of a series without opening it; nothing for tables without one or without rows."""
    schema = frame.collect_schema()
    column = next((name for name in TIME_COLUMNS if name in schema and schema[name].is_temporal()), None)
    if column is None:
        return {}
    lazy = frame.lazy().select(first=pl.col(column).min(), last=pl.col(column).max())
    first, last = lazy.collect().row(0)
    if first is None:
        return {}
    return {"time_range": MetadataValue.json({"column": column, "first": str(first), "last": str(last)})}
