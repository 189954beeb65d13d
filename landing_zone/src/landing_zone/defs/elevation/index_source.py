"""Read the elevation tile index (a WFS GetFeature GeoJSON) into a table with absolute tile URLs.

The index is provider input and is read as hostile:

- a document that is not JSON (a truncated download) fails naming the index URL and the position;
- a malformed feature fails the whole index, naming the index and the feature (a silently dropped tile
  is a hole in the DEM), and so does a bounding box that does not fit its CRS (metres declared as
  degrees or the other way round), which would otherwise surface as GDAL's bare "Too many points
  failed to transform" in the middle of a conversion;
- a tile URL that leads outside the provider (``file:///proc/self/environ``, ``../../../etc/passwd``,
  another host or scheme) keeps its row, with the refusal in ``refused_reason``, so that this one
  tile is skipped with its reason while the others are still fetched.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import polars as pl

from landing_zone.sources import (
    MalformedIndexError,
    TileIndexEntry,
    fetch,
    parse_tile_index,
    provider_root,
    redact_url,
)
from landing_zone.sources.confinement import refusal
from landing_zone.sources.urls import without_userinfo

INDEX_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "tile_id": pl.String,
    "map_sheet": pl.String,
    "region": pl.String,
    "format": pl.String,
    "url": pl.String,
    "crs": pl.String,
    "west": pl.Float64,
    "south": pl.Float64,
    "east": pl.Float64,
    "north": pl.Float64,
    "updated": pl.Datetime("us", "UTC"),
    "refused_reason": pl.String,
}
"""One row per tile; ``refused_reason`` is null for a usable tile, else why its URL was refused."""

_AREA_MARGIN_DEG = 1.0
"""How far (in degrees) a tile may reach beyond its CRS's published area of use: edge tiles overhang it
a little, while coordinates in the wrong unit miss it by far more."""


def read_index(index_url: str, allowed_prefixes: Sequence[str] | None = None) -> pl.DataFrame:
    """Fetch and validate the index; tile URLs are resolved against the index's own URL and confined.

    ``allowed_prefixes`` (default: the folder of the index) bound the index's redirects and every tile
    URL; a tile outside them gets its ``refused_reason``. Raises :class:`MalformedIndexError` naming
    the index (and the feature) for a document that is not JSON, a malformed feature, or a bounding box
    that does not fit its CRS.
    """
    allowed = tuple(allowed_prefixes) if allowed_prefixes is not None else (provider_root(index_url),)
    where = f"tile index {redact_url(index_url)}"
    document = _load(index_url, allowed, where)
    entries = _entries(document, where)
    _check_coordinates(entries, _declared_crs(document), where)
    rows = [_row(entry, index_url, allowed, where) for entry in entries]
    return pl.DataFrame(rows, schema=INDEX_SCHEMA).sort("tile_id")


def _load(index_url: str, allowed: tuple[str, ...], where: str) -> Any:
    """The index document, parsed; a file that is not UTF-8 JSON fails naming the index and position."""
    with tempfile.TemporaryDirectory(prefix="wfs-index-") as scratch:
        raw = fetch(index_url, Path(scratch) / "index.geojson", allowed_prefixes=allowed, what=where)
        data = raw.path.read_bytes()
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise _document_error(where, f"not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        problem = (
            f"not valid JSON at line {error.lineno}, column {error.colno} (character {error.pos} "
            f"of {len(data)} bytes): {error.msg}"
        )
        if error.pos >= len(error.doc.rstrip()):
            problem += "; the document ends early, it looks truncated"
        raise _document_error(where, problem) from None


def _document_error(where: str, problem: str) -> MalformedIndexError:
    return MalformedIndexError(f"{where}: {problem}", index=None, feature_id=None, field="document")


def _entries(document: Any, where: str) -> list[TileIndexEntry]:
    """The parsed entries, with the index named in any error."""
    try:
        return parse_tile_index(document)
    except MalformedIndexError as error:
        raise MalformedIndexError(
            f"{where}: {error}", index=error.index, feature_id=error.feature_id, field=error.field
        ) from None


def _declared_crs(document: Any) -> str | None:
    """The collection's own ``crs`` member (GeoJSON 2008 style, as WFS services still write it)."""
    crs = document.get("crs") if isinstance(document, dict) else None
    properties = crs.get("properties") if isinstance(crs, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    return name if isinstance(name, str) and name else None


def _check_coordinates(entries: Sequence[TileIndexEntry], declared: str | None, where: str) -> None:
    """Each bounding box must lie in its CRS's area of use (its own CRS, else the collection's)."""
    for index, entry in enumerate(entries):
        crs = entry.crs or declared
        if not crs:
            continue
        problem = _misfit(crs, entry.bbox)
        if problem:
            field = "crs" if problem.startswith("unknown CRS") else "bbox"
            raise MalformedIndexError(
                f"{where}: feature {index} (tile {entry.tile_id!r}): field {field!r}: {problem}",
                index=index,
                feature_id=entry.tile_id,
                field=field,
            )


def _misfit(crs: str, bbox: tuple[float, float, float, float]) -> str | None:
    """Why ``bbox`` cannot be in ``crs``, or None when its corners fall in the CRS's area of use."""
    try:
        to_geographic, area = _geographic(crs)
    except ValueError as error:
        return f"unknown CRS {crs!r} ({error})"
    west, south, east, north = bbox
    lons, lats = to_geographic.transform(
        [west, east, east, west], [south, south, north, north], errcheck=False
    )
    corners = list(zip(lons, lats, strict=True))
    fits = all(math.isfinite(lon) and math.isfinite(lat) for lon, lat in corners) and all(
        _in_area(lon, lat, area) for lon, lat in corners
    )
    if fits:
        return None
    shown = ", ".join(f"({lon:.4g}, {lat:.4g})" for lon, lat in corners)
    return (
        f"the coordinates {bbox} do not fit the CRS {crs}: as longitude/latitude they are [{shown}], "
        f"outside its area of use {area} (coordinates in another CRS or unit?)"
    )


@cache
def _geographic(crs: str) -> tuple[Any, tuple[float, float, float, float]]:
    """A transformer from ``crs`` to its geographic CRS (x = lon, y = lat) and its area of use in degrees.

    pyproj is imported here: definitions import this module's callers and must start light.
    """
    import pyproj

    try:
        parsed = pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as error:
        raise ValueError(str(error)) from None
    geographic = parsed.geodetic_crs or pyproj.CRS("EPSG:4326")
    used = parsed.area_of_use
    area = (used.west, used.south, used.east, used.north) if used else (-180.0, -90.0, 180.0, 90.0)
    return pyproj.Transformer.from_crs(parsed, geographic, always_xy=True), area


def _in_area(lon: float, lat: float, area: tuple[float, float, float, float]) -> bool:
    west, south, east, north = area
    in_lat = south - _AREA_MARGIN_DEG <= lat <= north + _AREA_MARGIN_DEG
    crosses_antimeridian = west > east
    return in_lat and (crosses_antimeridian or west - _AREA_MARGIN_DEG <= lon <= east + _AREA_MARGIN_DEG)


def _row(entry: TileIndexEntry, index_url: str, allowed: tuple[str, ...], where: str) -> dict[str, Any]:
    url = urljoin(index_url, entry.url)
    return {
        "tile_id": entry.tile_id,
        "map_sheet": entry.map_sheet,
        "region": entry.region,
        "format": entry.format,
        "url": without_userinfo(url),  # the table is readable by analysts: no credentials in it
        "crs": entry.crs,
        "west": entry.bbox[0],
        "south": entry.bbox[1],
        "east": entry.bbox[2],
        "north": entry.bbox[3],
        "updated": entry.updated,
        "refused_reason": refusal(url, allowed, f"{where}, tile {entry.tile_id!r}"),
    }


def sheet_fingerprints(index: pl.DataFrame, region: str) -> dict[str, str]:
    """One digest per map sheet of a region over its tiles' ids, URLs and update times: a changed
    digest means the sheet must be downloaded and converted again."""
    fingerprints = {}
    in_region = index.filter(pl.col("region") == region).sort("tile_id")
    for (sheet,), tiles in in_region.group_by("map_sheet", maintain_order=True):
        digest = hashlib.sha256()
        for row in tiles.select("tile_id", "url", "updated").iter_rows():
            digest.update(repr(row).encode())
        fingerprints[str(sheet)] = digest.hexdigest()[:16]
    return dict(sorted(fingerprints.items()))


def index_fingerprint(index: pl.DataFrame) -> str:
    """A digest of the whole index, recorded on the snapshot so the sensor can tell it is current."""
    digest = hashlib.sha256()
    for row in index.select("tile_id", "url", "updated", "region", "map_sheet").sort("tile_id").iter_rows():
        digest.update(repr(row).encode())
    return digest.hexdigest()[:16]
