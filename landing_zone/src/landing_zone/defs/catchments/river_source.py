"""Read the published river network (GeoJSON) into lines with their receiving river, checked.

Each feature is one river from source to mouth: a LineString with ``river_id`` and ``receiving`` (the
river it flows into, null for a basin's main river). Errors name the file and the feature, because a
broken network breaks every catchment downstream of it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.catchments.reaches import RiverLine
from landing_zone.sources import fetch
from shared.vectors.geoframe import GeoFrame

GEOJSON_DEFAULT_CRS = "EPSG:4326"
"""RFC 7946: GeoJSON without a ``crs`` member is WGS 84."""


class RiverSourceError(ValueError):
    """The river network document is not usable; the message names the file and the feature."""


def read_rivers(url: str) -> GeoFrame:
    """Fetch and validate the river network; one row per river with its length."""
    with tempfile.TemporaryDirectory(prefix="rivers-") as scratch:
        path = fetch(url, Path(scratch) / "rivers.geojson").path
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RiverSourceError(f"{url}: not a GeoJSON document: {error}") from error
    return parse_rivers(document, url)


def parse_rivers(document: dict[str, Any], source: str) -> GeoFrame:
    """The rivers of a GeoJSON FeatureCollection as a :class:`GeoFrame`."""
    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise RiverSourceError(f"{source}: expected a FeatureCollection with at least one river")
    crs = ((document.get("crs") or {}).get("properties") or {}).get("name") or GEOJSON_DEFAULT_CRS
    length_m = _length_in_metres(crs)
    rows, lines = [], []
    for number, feature in enumerate(features):
        row, line = _river(feature, f"{source}: feature {number}")
        rows.append(row | {"length_m": length_m(line)})
        lines.append(line)
    schema = {"river_id": pl.String, "name": pl.String, "receiving": pl.String, "length_m": pl.Float64}
    frame = pl.DataFrame(rows, schema=schema)
    _check_links(frame, source)
    return GeoFrame.from_geometries(frame, lines, crs)


def _length_in_metres(crs: str) -> Callable[[Any], float]:
    """Line length in metres: planar in a projected CRS, geodesic on the ellipsoid in a geographic one."""
    import pyproj

    parsed = pyproj.CRS.from_user_input(crs)
    if not parsed.is_geographic:
        return lambda line: float(line.length)
    geod = parsed.get_geod() or pyproj.Geod(ellps="WGS84")
    return lambda line: float(geod.geometry_length(line))


def _river(feature: Any, where: str) -> tuple[dict[str, Any], Any]:
    import shapely

    properties = (feature or {}).get("properties") or {}
    geometry = (feature or {}).get("geometry") or {}
    river_id = properties.get("river_id")
    if not isinstance(river_id, str) or not river_id:
        raise RiverSourceError(f"{where}: no river_id")
    if geometry.get("type") != "LineString":
        raise RiverSourceError(f"{where} ({river_id}): geometry is {geometry.get('type')}, not a LineString")
    coordinates = np.asarray(geometry.get("coordinates"), dtype=np.float64)
    if coordinates.ndim != 2 or len(coordinates) < 2 or not np.isfinite(coordinates).all():
        raise RiverSourceError(f"{where} ({river_id}): needs at least two finite vertices")
    row = {"river_id": river_id, "name": properties.get("name"), "receiving": properties.get("receiving")}
    return row, shapely.LineString(coordinates[:, :2])


def _check_links(frame: pl.DataFrame, source: str) -> None:
    duplicated = frame.filter(pl.col("river_id").is_duplicated())["river_id"].unique().to_list()
    if duplicated:
        raise RiverSourceError(f"{source}: river_id not unique: {sorted(duplicated)}")
    known = set(frame["river_id"])
    unknown = frame.filter(pl.col("receiving").is_not_null() & ~pl.col("receiving").is_in(known))
    if unknown.height:
        first = unknown.row(0, named=True)
        raise RiverSourceError(
            f"{source}: river {first['river_id']} flows into unknown river {first['receiving']}"
        )


def river_lines(layer: GeoFrame) -> list[RiverLine]:
    """The layer's rivers as coordinate arrays for splitting into reaches."""
    import shapely

    return [
        RiverLine(row["river_id"], shapely.get_coordinates(line), row["receiving"])
        for row, line in zip(layer.frame.iter_rows(named=True), layer.geometries(), strict=True)
    ]
