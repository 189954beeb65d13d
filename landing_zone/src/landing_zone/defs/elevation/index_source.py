"""Read the elevation tile index (a WFS GetFeature GeoJSON) into a table with absolute tile URLs."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from urllib.parse import urljoin

import polars as pl

from landing_zone.sources import fetch, parse_tile_index

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
}


def read_index(index_url: str) -> pl.DataFrame:
    """Fetch and validate the index; tile URLs are resolved against the index's own URL."""
    with tempfile.TemporaryDirectory(prefix="wfs-index-") as scratch:
        document = fetch(index_url, Path(scratch) / "index.geojson").path.read_text(encoding="utf-8")
    entries = parse_tile_index(json.loads(document))
    rows = [
        {
            "tile_id": e.tile_id,
            "map_sheet": e.map_sheet,
            "region": e.region,
            "format": e.format,
            "url": urljoin(index_url, e.url),
            "crs": e.crs,
            "west": e.bbox[0],
            "south": e.bbox[1],
            "east": e.bbox[2],
            "north": e.bbox[3],
            "updated": e.updated,
        }
        for e in entries
    ]
    return pl.DataFrame(rows, schema=INDEX_SCHEMA).sort("tile_id")


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
