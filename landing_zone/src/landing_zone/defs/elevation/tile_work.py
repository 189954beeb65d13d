"""Per-tile work of the elevation pipeline, run through the worker pool: download and convert.

Each function handles one tile and returns one row of the stage's table; a tile that cannot be used
raises a :class:`~shared.workers.SkipItem` subclass with the reason, which the pool records.

Objects are named by content, so nothing stored is ever overwritten by a different version:

- raw: ``{tile_id}.{sha256 of the bytes, 16 digits}.{ext}``. The raw layer is append-only: a
  re-download with another checksum becomes a new object beside the old one.
- converted: ``{tile_id}.{digest of raw checksum, conversion settings, conversion and GDAL version}.tif``,
  written only when that key holds nothing yet. A candidate that fails its checks lies beside the
  published tiles without replacing any; the published table says which objects are current.

A tile that cannot be downloaded or converted this time keeps its last published version (status
``kept``, with the reason), so one defective re-download never punches a hole into the mosaic.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from landing_zone.defs.elevation.conversion import ConversionSettings, convert_tile
from landing_zone.defs.elevation.tile_readers import Footprint, TileDefect
from shared.storage import Storage
from shared.storage.layout import COG, AssetLocation
from shared.workers import PoolReport, SkipItem

DIGEST_DIGITS = 16


class TileUnavailable(SkipItem):
    """The provider's tile could not be fetched (refused URL, failed or inconsistent download)."""


def download_tile(
    row: dict[str, Any],
    storage: Storage,
    raw: AssetLocation,
    allowed_prefixes: Sequence[str],
    index_url: str,
) -> dict[str, Any]:
    """Fetch one tile (and an ASC's ``.prj`` when the provider has one) into the raw layer, unchanged.

    Both fetches, and any redirect they meet, are confined to the provider's ``allowed_prefixes``; the
    index URL's credentials, if it has any, are lent to tiles on the index's own host only.
    """
    from landing_zone.sources import FetchError, SourceNotFound, check_name, fetch
    from landing_zone.sources.urls import with_userinfo_of

    tile_id = check_name(row["tile_id"])
    if row.get("refused_reason"):
        raise TileUnavailable(str(row["refused_reason"]))
    with tempfile.TemporaryDirectory(prefix="raw-tile-") as scratch:
        try:
            result = fetch(
                with_userinfo_of(row["url"], index_url),
                Path(scratch) / f"{tile_id}.{row['format']}",
                allowed_prefixes=allowed_prefixes,
                what=f"tile {tile_id!r}",
            )
        except FetchError as error:
            raise TileUnavailable(f"{tile_id}: download failed: {error}") from error
        key = _store_version(storage, result.path, raw, tile_id, row["format"], result.sha256)
        prj_key = None
        if row["format"] == "asc":
            prj_url = with_userinfo_of(row["url"].rsplit(".", 1)[0] + ".prj", index_url)
            try:
                prj = fetch(
                    prj_url,
                    Path(scratch) / f"{tile_id}.prj",
                    allowed_prefixes=allowed_prefixes,
                    what=f"tile {tile_id!r}",
                )
            except SourceNotFound:
                prj = None  # optional: the index's CRS applies (a refused or failed one skips the tile)
            except FetchError as error:
                raise TileUnavailable(f"{tile_id}: its .prj could not be fetched: {error}") from error
            if prj is not None:
                prj_key = _store_version(storage, prj.path, raw, tile_id, "prj", prj.sha256)
    return {
        **row,
        "status": "downloaded",
        "raw_key": key,
        "prj_key": prj_key,
        "bytes": result.size,
        "sha256": result.sha256,
    }


def _store_version(
    storage: Storage,
    local: Path,
    raw: AssetLocation,
    tile_id: str,
    ext: str,
    sha256: str,
) -> str:
    """Put one raw file under its content-addressed key unless that version is already stored."""
    key = raw.key(ext, name=f"{tile_id}.{sha256[:DIGEST_DIGITS]}")
    if not storage.exists(key):
        storage.put_file(local, key)
    return key


def convert_raw_tile(
    row: dict[str, Any],
    storage: Storage,
    settings: ConversionSettings,
    converted: AssetLocation,
) -> dict[str, Any]:
    """Convert one raw tile into a COG in the converted layer and return its statistics."""
    from rio_cogeo.cogeo import cog_validate

    footprint = Footprint(row["west"], row["south"], row["east"], row["north"], row["crs"])
    with tempfile.TemporaryDirectory(prefix="convert-tile-") as scratch:
        workdir = Path(scratch)
        raw = storage.get_file(row["raw_key"], workdir / f"{row['tile_id']}.{row['format']}")
        prj = storage.get_file(row["prj_key"], workdir / f"{row['tile_id']}.prj") if row["prj_key"] else None
        cog = workdir / f"{row['tile_id']}.tif"
        stats = convert_tile(raw, row["tile_id"], row["format"], footprint, settings, cog, prj)
        is_cog, errors, _ = cog_validate(str(cog), strict=True)
        if not is_cog:
            raise TileDefect(f"{raw.name}: converted file is not a valid COG: {errors}")
        version = _conversion_digest(row["sha256"], settings)
        key = converted.key(COG, name=f"{row['tile_id']}.{version}")
        # Never replace a stored version: the key names the same raw bytes, settings and code.
        info = storage.stat(key) if storage.exists(key) else storage.put_file(cog, key)
    return {
        **asdict(stats),
        "status": "converted",
        "map_sheet": row["map_sheet"],
        "region": row["region"],
        "raw_sha256": row["sha256"],
        "cog_key": key,
        "bytes": info.size,
        "is_cog": is_cog,
    }


CONVERSION_VERSION = 1
"""Raise when the conversion's output changes for the same input and settings (a new algorithm), so
the new tiles get new keys instead of replacing published ones before their checks ran."""


def _conversion_digest(raw_sha256: str, settings: ConversionSettings) -> str:
    """Names a converted tile by what it was made from: raw bytes, settings, conversion and GDAL version."""
    import rasterio

    made_from = f"{raw_sha256}|{settings!r}|{CONVERSION_VERSION}|{rasterio.__gdal_version__}"
    return hashlib.sha256(made_from.encode()).hexdigest()[:DIGEST_DIGITS]


RAW_COLUMNS = {
    "status": pl.String,
    "reason": pl.String,
    "raw_key": pl.String,
    "prj_key": pl.String,
    "bytes": pl.Int64,
    "sha256": pl.String,
}

CONVERTED_SCHEMA = {
    "tile_id": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "map_sheet": pl.String,
    "region": pl.String,
    "crs": pl.String,
    "cell_size": pl.Float64,
    "west": pl.Float64,
    "south": pl.Float64,
    "east": pl.Float64,
    "north": pl.Float64,
    "width": pl.Int64,
    "height": pl.Int64,
    "nodata_fraction": pl.Float64,
    "filled_cells": pl.Int64,
    "min_m": pl.Float64,
    "max_m": pl.Float64,
    "mean_m": pl.Float64,
    "raw_sha256": pl.String,
    "cog_key": pl.String,
    "bytes": pl.Int64,
    "is_cog": pl.Boolean,
}

TILE_DESCRIPTIONS = {
    "raw_key": "Storage key of the tile's unchanged raw file",
    "prj_key": "Storage key of the raw file's .prj side file; null when the provider sends none",
    "cell_size": "Cell size of the converted COG (m)",
    "width": "Width of the converted COG in cells",
    "height": "Height of the converted COG in cells",
    "nodata_fraction": "Share (0-1) of the tile's cells without a value after filling",
    "filled_cells": "Cells without a value in the raw tile that were filled from their neighbours",
    "min_m": "Lowest elevation of the tile (m above sea level)",
    "max_m": "Highest elevation of the tile (m above sea level)",
    "mean_m": "Mean elevation of the tile (m above sea level)",
    "raw_sha256": "SHA-256 of the raw file the COG was converted from (hex)",
    "is_cog": "Whether the stored file validates as a Cloud Optimized GeoTIFF",
}
"""Descriptions, with units, of the raw and converted tile tables' own columns (the index's columns, ids,
bounds and object sizes are described in :data:`shared.columns.COMMON`)."""

USABLE = ("downloaded", "converted", "kept")
"""Statuses of rows whose object the next stage may use: fresh, or the last published version kept."""


def stage_table(
    report: PoolReport[dict[str, Any]],
    skipped_rows: dict[str, dict[str, Any]],
    previous: pl.DataFrame | None,
    schema: dict[str, Any],
) -> pl.DataFrame:
    """The stage's rows: results, then each skipped tile as its previous usable row (``kept``) or a skip.

    ``skipped_rows`` gives the columns a skipped tile keeps (its index row or partition); ``previous`` is
    the stage's published table, whose usable rows stand in for tiles that failed this time.
    """
    earlier = _usable_rows(previous)
    rows = [result.value or {} for result in report.succeeded]
    for result in report.skipped:
        if result.key in earlier:
            reason = f"kept the last published version: {result.reason}"
            rows.append({**earlier[result.key], "status": "kept", "reason": reason})
        else:
            skipped = {**skipped_rows[result.key], "tile_id": result.key}
            rows.append({**skipped, "status": "skipped", "reason": result.reason})
    return pl.DataFrame(rows, schema=schema).sort("tile_id")


def _usable_rows(previous: pl.DataFrame | None) -> dict[str, dict[str, Any]]:
    if previous is None or "status" not in previous.columns:
        return {}
    usable = previous.filter(pl.col("status").is_in(USABLE))
    return {row["tile_id"]: row for row in usable.iter_rows(named=True)}


SUPERSEDED_GRACE = timedelta(hours=1)
"""How long an unlisted tile object is left alone: a run of the same sheet still in flight (a backfill
beside a sensor run) may have written it without having published its table yet."""


def unreferenced_objects(storage: Storage, prefix: str, tables: list[pl.DataFrame], column: str) -> list[str]:
    """Tile objects under ``prefix`` that none of ``tables`` lists and that are older than the grace
    period: superseded versions to delete."""
    referenced = {key for table in tables for key in table[column].drop_nulls().to_list()}
    cutoff = datetime.now(UTC) - SUPERSEDED_GRACE
    return [
        info.key
        for info in storage.list(prefix)
        if info.key.endswith(f".{COG}") and info.key not in referenced and info.modified < cutoff
    ]
