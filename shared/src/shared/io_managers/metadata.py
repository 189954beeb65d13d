"""Materialisation metadata shared by the IO managers: size, URI, duration, table schema."""

from __future__ import annotations

from typing import Any

import polars as pl
from dagster import MetadataValue, TableColumn, TableSchema

from shared.storage import ObjectInfo


def object_metadata(info: ObjectInfo, duration_s: float) -> dict[str, Any]:
    """What every stored object reports: its URI (paste into QGIS or polars), bytes and write time."""
    return {
        "uri": MetadataValue.path(info.uri),
        "bytes": MetadataValue.int(info.size),
        "duration_s": MetadataValue.float(round(duration_s, 3)),
    }


def table_metadata(schema: pl.Schema, row_count: int) -> dict[str, Any]:
    """Dagster's standard table metadata: column schema and row count."""
    columns = [TableColumn(name=name, type=str(dtype)) for name, dtype in schema.items()]
    return {
        "dagster/column_schema": TableSchema(columns=columns),
        "dagster/row_count": MetadataValue.int(row_count),
    }
