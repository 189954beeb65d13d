"""Column descriptions, with units, declared once per table and shown wherever Dagster shows a table.

A table's descriptions are a plain ``{column: description}`` dict beside the schema that declares it
(domain modules, which must not import Dagster), or the ``Field`` descriptions of its pydantic row
model. The asset hands them to :func:`described_columns`, which puts Dagster's ``dagster/column_schema``
into the asset's definition metadata, so the catalogue lists every column before anything is
materialised; the IO managers then copy those descriptions onto the schema they record for each
materialisation, with the types actually stored (:func:`shared.io_managers.metadata.table_metadata`).

Columns that mean the same in every table (ids, bounds, object sizes, checksums) are described once in
:data:`COMMON`; a table's own dict wins over it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl
from dagster import TableColumn, TableSchema, TableSchemaMetadataValue
from pydantic import BaseModel

COLUMN_SCHEMA = "dagster/column_schema"

COMMON: dict[str, str] = {
    "region": "Region the row belongs to (a key of shared/regions.yaml)",
    "catchment_id": "Progressive catchment's id (= the reach_id of its outlet reach)",
    "reach_id": "Reach id, stable for the region's river network and conditioning strategy",
    "river_id": "River id from the hydrography source",
    "downstream_id": "Id of the reach this one drains into; null at the region's outlets",
    "area_km2": "Catchment area in km2",
    "upstream_area_km2": "Area draining through the reach's pour point in km2",
    "tile_id": "Map tile id from the provider's tile index",
    "map_sheet": "Map sheet name of the tile in the national sheet grid",
    "format": "File format the provider publishes the tile in",
    "url": "Where the provider publishes the object (https URL)",
    "crs": "Coordinate reference system (EPSG code or WKT)",
    "west": "Western bound in the row's CRS (m)",
    "south": "Southern bound in the row's CRS (m)",
    "east": "Eastern bound in the row's CRS (m)",
    "north": "Northern bound in the row's CRS (m)",
    "updated": "When the provider last updated the object (UTC)",
    "refused_reason": "Why the row was refused at indexing; null when accepted",
    "status": "Outcome for the row (e.g. stored, skipped, failed)",
    "reason": "Why the row was skipped or failed; null when it succeeded",
    "bytes": "Size of the stored object in bytes",
    "size": "Size of the source file in bytes",
    "sha256": "SHA-256 of the stored object (hex)",
    "cog_key": "Storage key of the Cloud Optimized GeoTIFF the row describes",
    "source": "Provider file the row was read from",
    "line": "Line number in the source file (1-based)",
    "station": "Station code of the provider",
    "gauge": "Hydrological gauge's station code",
    "basin": "Basin id of the model (= the gauge's station code)",
    "variable": "Variable name (unit in its suffix: _mm, _c, _pct, _hpa, _m3s, _cm)",
    "date": "Day the row describes (UTC calendar day)",
    "time": "Observation day (UTC, midnight)",
    "run_time": "Forecast run's reference time (UTC)",
    "lead_day": "Days after the forecast run's day (1 = the first day forecast)",
    "model_run": "Id of the trained model run that produced the row",
    "band": "Band number in the COG (1-based)",
    "geometry": "Geometry as WKB, in the layer's CRS (GeoParquet)",
    "length_m": "Line length in m",
    "name": "Name as published by the provider",
}


class UndescribedColumnsError(ValueError):
    """A table declares columns nobody described: the catalogue would show them without a meaning."""


def model_descriptions(model: type[BaseModel]) -> dict[str, str]:
    """A pydantic row model's ``Field`` descriptions (the fields that have one)."""
    return {name: field.description for name, field in model.model_fields.items() if field.description}


def describe(columns: Iterable[str], descriptions: Mapping[str, str], table: str) -> dict[str, str]:
    """Every column's description, from the table's own dict, else :data:`COMMON`; refuses gaps.

    A dict may describe more columns than one table has, so tables of one family (a raw and a
    converted tile table) share it."""
    resolved = {name: descriptions.get(name) or COMMON.get(name, "") for name in columns}
    missing = [name for name, text in resolved.items() if not text.strip()]
    if missing:
        raise UndescribedColumnsError(
            f"{table}: columns {missing} have no description; add them beside the table's schema"
        )
    return resolved


def described_columns(
    table: str,
    schema: Mapping[str, Any] | type[BaseModel],
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, TableSchema]:
    """Definition metadata declaring ``schema``'s columns with their types and descriptions.

    ``schema`` is a polars schema (or ``{column: dtype}`` dict) or a pydantic row model, whose field
    descriptions are used; ``table`` names the table in errors.
    """
    dtypes: Mapping[str, Any]
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        from shared.io_managers.pydantic_frames import polars_schema

        descriptions = model_descriptions(schema) | dict(descriptions or {})
        dtypes = polars_schema(schema)
    else:
        dtypes = schema
    types = {name: _type_name(dtype) for name, dtype in dtypes.items()}
    texts = describe(types, descriptions or {}, table)
    columns = [TableColumn(name=name, type=types[name], description=texts[name]) for name in types]
    return {COLUMN_SCHEMA: TableSchema(columns=columns)}


def declared_descriptions(definition_metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """``{column: description}`` of an asset's declared column schema (empty when it declares none)."""
    declared = (definition_metadata or {}).get(COLUMN_SCHEMA)
    if isinstance(declared, TableSchemaMetadataValue):
        declared = declared.schema
    if not isinstance(declared, TableSchema):
        return {}
    return {column.name: column.description for column in declared.columns if column.description}


def _type_name(dtype: Any) -> str:
    return str(dtype() if isinstance(dtype, type) and issubclass(dtype, pl.DataType) else dtype)
