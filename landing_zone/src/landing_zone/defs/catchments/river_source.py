"""Read the published river network (GeoJSON) into lines with their receiving river, checked.

Each feature is one river from source to mouth: a LineString with ``river_id`` and ``receiving`` (the
river it flows into, null for a basin's main river). Errors name the file and the feature, because a
broken network breaks every catchment downstream of it.

What is checked, and why:

- the CRS: a declared ``crs`` must be one PROJ knows, and the coordinates must lie where that CRS is used
  (its area of use); without ``crs`` the file is RFC 7946 GeoJSON, WGS 84 longitude/latitude, so
  coordinates outside [-180, 180] x [-90, 90] mean the CRS is missing, not that the river is off the map.
  Whether the rivers lie in the region is checked against the analysis DEM by :func:`check_rivers_reach`.
- every vertex finite; at least two distinct vertices; source and mouth different.
- a valid river line is simple: water never passes the same point twice, so a line that crosses or runs
  back over itself is a digitising error, and left in, its reaches share pour points and their
  catchments come out empty. Repaired, not refused, where the repair keeps the river: repeated vertices
  are dropped, loops are cut out at the crossing (source, mouth and the path between them stay). Each
  repaired river is counted by kind in :attr:`RiverNetwork.repaired`; a river that cannot be repaired
  fails the whole file, since dropping it would silently cut off every river that flows into it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.catchments.reaches import RiverLine
from landing_zone.sources import fetch, redact_url
from shared.vectors.geoframe import GeoFrame
from shared.vectors.lines import drop_repeated_vertices, remove_loops

GEOJSON_DEFAULT_CRS = "EPSG:4326"
"""RFC 7946: GeoJSON without a ``crs`` member is WGS 84."""

REPEATED_VERTICES = "repeated_vertices"
"""Repair kind: consecutive duplicate vertices dropped."""

SELF_CROSSINGS = "self_crossings"
"""Repair kind: loops where the line crossed or ran back over itself cut out."""


class RiverSourceError(ValueError):
    """The river network document is not usable; the message names the file and the feature."""


@dataclass(frozen=True)
class RiverNetwork:
    """The checked rivers, and the ids of the rivers repaired on the way by kind of repair."""

    layer: GeoFrame
    repaired: dict[str, list[str]]

    def metadata(self) -> dict[str, Any]:
        """What the asset records: how many rivers each kind of repair touched, and which."""
        counts: dict[str, Any] = {f"repaired_{kind}": len(ids) for kind, ids in self.repaired.items()}
        return counts | {"repaired_river_ids": {kind: ids for kind, ids in self.repaired.items() if ids}}


@dataclass
class _Feature:
    """One river as read: where it is in the file (for errors), its attributes and its vertices."""

    where: str
    row: dict[str, Any]
    points: np.ndarray = field(repr=False)


def read_rivers(url: str, allowed_prefixes: Sequence[str] | None = None) -> RiverNetwork:
    """Fetch (confined to ``allowed_prefixes``) and validate the river network; one row per river."""
    with tempfile.TemporaryDirectory(prefix="rivers-") as scratch:
        path = fetch(
            url, Path(scratch) / "rivers.geojson", allowed_prefixes=allowed_prefixes, what="rivers"
        ).path
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RiverSourceError(f"{redact_url(url)}: not a GeoJSON document: {error}") from error
    return parse_river_network(document, redact_url(url))


def parse_rivers(document: dict[str, Any], source: str) -> GeoFrame:
    """The rivers of a GeoJSON FeatureCollection as a :class:`GeoFrame` (repairs applied, not reported)."""
    return parse_river_network(document, source).layer


def parse_river_network(document: dict[str, Any], source: str) -> RiverNetwork:
    """The rivers of a GeoJSON FeatureCollection, checked and repaired, with what was repaired."""
    import shapely

    features = document.get("features") if isinstance(document, dict) else None
    if not isinstance(features, list) or not features:
        raise RiverSourceError(f"{source}: expected a FeatureCollection with at least one river")
    crs, declared = _crs(document, source)
    rivers = [_river(feature, f"{source}: feature {number}") for number, feature in enumerate(features)]
    _check_position(rivers, crs, declared, source)
    repaired: dict[str, list[str]] = {REPEATED_VERTICES: [], SELF_CROSSINGS: []}
    lines = [shapely.LineString(_repaired(river, repaired)) for river in rivers]
    length_m = _length_in_metres(crs)
    schema = {"river_id": pl.String, "name": pl.String, "receiving": pl.String, "length_m": pl.Float64}
    rows = [river.row | {"length_m": length_m(line)} for river, line in zip(rivers, lines, strict=True)]
    frame = pl.DataFrame(rows, schema=schema)
    _check_links(frame, source)
    return RiverNetwork(GeoFrame.from_geometries(frame, lines, crs), repaired)


def _crs(document: dict[str, Any], source: str) -> tuple[str, bool]:
    """The CRS the coordinates are in, and whether the file declares it (else RFC 7946's WGS 84)."""
    import pyproj

    member = document.get("crs")
    if member is None:
        return GEOJSON_DEFAULT_CRS, False
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    if not isinstance(name, str) or not name:
        raise RiverSourceError(f"{source}: the 'crs' member names no CRS (properties.name): {member!r:.200}")
    try:
        pyproj.CRS.from_user_input(name)
    except pyproj.exceptions.CRSError as error:
        raise RiverSourceError(f"{source}: declared CRS {name!r} is not a CRS PROJ knows: {error}") from error
    return name, True


def _river(feature: Any, where: str) -> _Feature:
    if not isinstance(feature, dict):
        raise RiverSourceError(f"{where}: not a GeoJSON Feature object")
    properties = feature.get("properties") or {}
    geometry = feature.get("geometry") or {}
    river_id = properties.get("river_id") if isinstance(properties, dict) else None
    if not isinstance(river_id, str) or not river_id:
        raise RiverSourceError(f"{where}: no river_id")
    where = f"{where} ({river_id})"
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    if kind != "LineString":
        raise RiverSourceError(f"{where}: geometry is {kind}, not a LineString")
    row = {"river_id": river_id, "name": properties.get("name"), "receiving": properties.get("receiving")}
    return _Feature(where, row, _vertices(geometry.get("coordinates"), where))


def _vertices(coordinates: Any, where: str) -> np.ndarray:
    """The (x, y) of each position; z, if any, is dropped."""
    try:
        array = np.asarray(coordinates, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise RiverSourceError(f"{where}: coordinates are not a list of [x, y] positions: {error}") from error
    if array.ndim != 2 or array.shape[1] < 2 or len(array) < 2:
        raise RiverSourceError(f"{where}: needs at least two [x, y] vertices, got shape {array.shape}")
    points = array[:, :2]
    bad = np.flatnonzero(~np.isfinite(points).all(axis=1))
    if bad.size:
        raise RiverSourceError(
            f"{where}: vertex {bad[0]} is not finite: {points[bad[0]].tolist()} ({bad.size} such vertices)"
        )
    return points


def _check_position(rivers: list[_Feature], crs: str, declared: bool, source: str) -> None:
    """Refuse coordinates that cannot be in ``crs``: the CRS is missing, or declared wrongly."""
    import pyproj

    parsed = pyproj.CRS.from_user_input(crs)
    if parsed.is_geographic:
        _check_lon_lat(rivers, crs, declared)
    else:
        _check_area_of_use(rivers, parsed, crs, source)


def _check_lon_lat(rivers: list[_Feature], crs: str, declared: bool) -> None:
    for river in rivers:
        outside = np.flatnonzero((np.abs(river.points[:, 0]) > 180) | (np.abs(river.points[:, 1]) > 90))
        if not outside.size:
            continue
        x, y = river.points[outside[0]].tolist()
        if declared:
            raise RiverSourceError(
                f"{river.where}: vertex ({x}, {y}) is outside the longitude/latitude range of the "
                f"declared CRS {crs}"
            )
        raise RiverSourceError(
            f"{river.where}: vertex ({x}, {y}) is not longitude/latitude, and the file has no 'crs' "
            "member (RFC 7946 GeoJSON is WGS 84 lon/lat): the CRS is missing; declare it in the file"
        )


def _check_area_of_use(rivers: list[_Feature], parsed: Any, crs: str, source: str) -> None:
    """The rivers' extent, in lon/lat, must meet the area where ``crs`` is defined for use."""
    import pyproj

    area = parsed.area_of_use
    if area is None or area.west > area.east:  # no area recorded, or one across the antimeridian
        return
    points = np.vstack([river.points for river in rivers])
    (left, bottom), (right, top) = points.min(axis=0).tolist(), points.max(axis=0).tolist()
    bounds = (left, bottom, right, top)
    try:
        transformer = pyproj.Transformer.from_crs(parsed, "EPSG:4326", always_xy=True)
        west, south, east, north = transformer.transform_bounds(left, bottom, right, top, densify_pts=21)
    except pyproj.exceptions.ProjError:
        west = south = east = north = float("nan")
    meets = west <= area.east and east >= area.west and south <= area.north and north >= area.south
    if not meets:
        raise RiverSourceError(
            f"{source}: the rivers' extent {_box(bounds)} in the declared CRS {crs} is, in lon/lat, "
            f"{_box((west, south, east, north))}, outside the area where {crs} is used "
            f"({area.name}: {_box(area.bounds)}): the declared CRS does not fit the coordinates"
        )


def _repaired(river: _Feature, repaired: dict[str, list[str]]) -> np.ndarray:
    """The river's vertices made a valid line, noting each repair; refuses what cannot be repaired."""
    import shapely

    river_id = river.row["river_id"]
    points = drop_repeated_vertices(river.points)
    if len(points) < len(river.points):
        repaired[REPEATED_VERTICES].append(river_id)
    if len(points) < 2:
        raise RiverSourceError(f"{river.where}: needs at least two distinct vertices, all are {points[0]}")
    if np.array_equal(points[0], points[-1]):
        raise RiverSourceError(
            f"{river.where}: starts and ends at the same point {points[0].tolist()}: a river runs from "
            "source to mouth"
        )
    simple = remove_loops(points)
    if len(simple) != len(points):
        repaired[SELF_CROSSINGS].append(river_id)
    if not shapely.is_simple(shapely.LineString(simple)):
        raise RiverSourceError(f"{river.where}: crosses itself and the loop could not be cut out")
    return simple


def _length_in_metres(crs: str) -> Callable[[Any], float]:
    """Line length in metres: planar in a projected CRS, geodesic on the ellipsoid in a geographic one."""
    import pyproj

    parsed = pyproj.CRS.from_user_input(crs)
    if not parsed.is_geographic:
        return lambda line: float(line.length)
    geod = parsed.get_geod() or pyproj.Geod(ellps="WGS84")
    return lambda line: float(geod.geometry_length(line))


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


def check_rivers_reach(
    layer: GeoFrame, where: str, region_crs: str, region_bounds: tuple[float, float, float, float]
) -> None:
    """Refuse rivers that, moved into the region's CRS, do not touch the region at all.

    A wrongly declared CRS still transforms without error, to somewhere thousands of km away, where the
    alignment finds no valley and reports a meaningless offset; this makes it an error naming the CRS.
    """
    import pyproj
    import shapely

    target = pyproj.CRS.from_user_input(region_crs)
    lines = layer.geometries()
    if not target.equals(pyproj.CRS.from_user_input(layer.crs)):
        transformer = pyproj.Transformer.from_crs(layer.crs, target, always_xy=True)
        lines = shapely.transform(
            lines, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
    if shapely.intersects(lines, shapely.box(*region_bounds)).any():
        return
    epsg = target.to_epsg()
    name = f"EPSG:{epsg}" if epsg else target.name
    raise RiverSourceError(
        f"{where}: no river reaches the region: the rivers, declared in {layer.crs} with extent "
        f"{_box(layer.bounds())}, lie at {_box(shapely.total_bounds(lines).tolist())} in {name}, "
        f"but the region covers {_box(region_bounds)}: is the declared CRS wrong?"
    )


def _box(bounds: Any) -> str:
    """(west, south, east, north) rounded for a message."""
    return "(" + ", ".join(f"{value:.8g}" for value in bounds) + ")"


def river_lines(layer: GeoFrame) -> list[RiverLine]:
    """The layer's rivers as coordinate arrays for splitting into reaches."""
    import shapely

    return [
        RiverLine(row["river_id"], shapely.get_coordinates(line), row["receiving"])
        for row, line in zip(layer.frame.iter_rows(named=True), layer.geometries(), strict=True)
    ]
