"""Write and read vector layers: GeoParquet 1.1 (WKB, CRS as PROJJSON) and FlatGeobuf with a spatial index.

GeoParquet is the platform's storage format (tables stay tables); FlatGeobuf is for analysts: QGIS reads
it from S3 with ranged requests, and its packed R-tree lets it fetch only the features in view.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from shared.vectors.geoframe import GEOMETRY, GeoFrame

GEOPARQUET_VERSION = "1.1.0"


class NotGeoParquetError(ValueError):
    """A Parquet file without GeoParquet ``geo`` metadata."""


class FlatGeobufError(ValueError):
    """The layer cannot be written as FlatGeobuf; the message says which features or columns."""


def geo_metadata(layer: GeoFrame) -> dict[str, Any]:
    """The ``geo`` key of a GeoParquet file's metadata for ``layer``."""
    import pyproj

    column: dict[str, Any] = {
        "encoding": "WKB",
        "geometry_types": layer.geometry_types(),
        "crs": pyproj.CRS.from_user_input(layer.crs).to_json_dict(),
    }
    if layer.frame.height:
        column["bbox"] = list(layer.bounds())
    return {"version": GEOPARQUET_VERSION, "primary_column": GEOMETRY, "columns": {GEOMETRY: column}}


def write_geoparquet(layer: GeoFrame, path: Path, compression_level: int = 3) -> None:
    """zstd Parquet with the ``geo`` metadata that GDAL, QGIS and geopandas read."""
    import pyarrow.parquet as pq

    table = layer.frame.to_arrow()
    metadata = dict(table.schema.metadata or {}) | {b"geo": json.dumps(geo_metadata(layer)).encode()}
    pq.write_table(
        table.replace_schema_metadata(metadata),
        path,
        compression="zstd",
        compression_level=compression_level,
    )


def read_geoparquet(path: Path, source: str) -> GeoFrame:
    """A GeoParquet file as a :class:`GeoFrame` in the CRS its metadata names (``source`` names the file)."""
    import pyarrow.parquet as pq
    import pyproj

    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(b"geo")
    if raw is None:
        raise NotGeoParquetError(f"{source}: Parquet without GeoParquet 'geo' metadata")
    column = json.loads(raw)["columns"][GEOMETRY]
    crs = pyproj.CRS.from_json_dict(column["crs"])
    epsg = crs.to_epsg()
    return GeoFrame(pl.DataFrame(table), f"EPSG:{epsg}" if epsg else crs.to_wkt())


def write_flatgeobuf(layer: GeoFrame, path: Path, name: str) -> None:
    """FlatGeobuf with a packed Hilbert R-tree (``SPATIAL_INDEX=YES``), written by GDAL through pyogrio.

    ``name`` is the layer name QGIS shows; without it GDAL takes the (temporary) file name, which would
    also make the bytes differ from run to run.

    The R-tree needs a box per feature, so null and empty geometries are refused up front with their rows
    named; columns GDAL has no field type for (all-null ``Null``, durations...) fail with the column named.
    """
    import pyogrio

    _check_every_feature_has_geometry(layer)
    types = layer.geometry_types()
    try:
        pyogrio.write_arrow(
            layer.frame.to_arrow(),
            path,
            layer=name,
            driver="FlatGeobuf",
            geometry_name=GEOMETRY,
            geometry_type=types[0] if len(types) == 1 else "Unknown",
            crs=layer.crs,
            layer_options={"SPATIAL_INDEX": "YES"},
        )
    except (pyogrio.errors.DataLayerError, pyogrio.errors.DataSourceError) as error:
        raise FlatGeobufError(f"GDAL's FlatGeobuf driver refused the layer: {error}") from error


def _check_every_feature_has_geometry(layer: GeoFrame) -> None:
    import shapely

    geometries = layer.geometries()
    rows = np.flatnonzero(shapely.is_missing(geometries) | shapely.is_empty(geometries))
    if rows.size:
        raise FlatGeobufError(
            f"{rows.size} of {len(geometries)} features have a null or empty geometry (rows "
            f"{rows[:10].tolist()}{', ...' if rows.size > 10 else ''}), which a spatially indexed "
            "FlatGeobuf cannot hold"
        )
