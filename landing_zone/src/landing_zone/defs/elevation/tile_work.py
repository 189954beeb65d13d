"""Per-tile work of the elevation pipeline, run through the worker pool: download and convert.

Each function handles one tile and returns one row of the stage's table; a tile that cannot be used
raises a :class:`~shared.workers.SkipItem` subclass with the reason, which the pool records.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from landing_zone.defs.elevation.conversion import ConversionSettings, convert_tile
from landing_zone.defs.elevation.tile_readers import Footprint, TileDefect
from shared.storage import Storage, object_key
from shared.workers import PoolReport


def download_tile(
    row: dict[str, Any], storage: Storage, raw_path: list[str], partition: dict[str, str]
) -> dict[str, Any]:
    """Fetch one tile (and an ASC's ``.prj`` when the provider has one) into the raw layer, unchanged."""
    from landing_zone.sources import FetchError, check_name, fetch

    tile_id = check_name(row["tile_id"])
    with tempfile.TemporaryDirectory(prefix="raw-tile-") as scratch:
        local = Path(scratch) / f"{tile_id}.{row['format']}"
        result = fetch(row["url"], local)
        key = object_key(raw_path, partition, row["format"], name=tile_id)
        storage.put_file(local, key)
        prj_key = None
        if row["format"] == "asc":
            prj_url = row["url"].rsplit(".", 1)[0] + ".prj"
            try:
                prj = fetch(prj_url, Path(scratch) / f"{tile_id}.prj")
            except FetchError:
                prj = None
            if prj is not None:
                prj_key = object_key(raw_path, partition, "prj", name=tile_id)
                storage.put_file(prj.path, prj_key)
    return {**row, "raw_key": key, "prj_key": prj_key, "bytes": result.size, "sha256": result.sha256}


def convert_raw_tile(
    row: dict[str, Any],
    storage: Storage,
    settings: ConversionSettings,
    converted_path: list[str],
    partition: dict[str, str],
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
        key = object_key(converted_path, partition, "tif", name=row["tile_id"])
        info = storage.put_file(cog, key)
    return {
        **asdict(stats),
        "map_sheet": row["map_sheet"],
        "region": row["region"],
        "cog_key": key,
        "bytes": info.size,
        "is_cog": is_cog,
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
    "cog_key": pl.String,
    "bytes": pl.Int64,
    "is_cog": pl.Boolean,
}


def converted_table(report: PoolReport[dict[str, Any]], partition: dict[str, str]) -> pl.DataFrame:
    """Converted tiles with their statistics, plus one row per skipped tile with its reason."""
    rows = [{**(result.value or {}), "status": "converted"} for result in report.succeeded]
    rows += [
        {"tile_id": result.key, "status": "skipped", "reason": result.reason, **partition}
        for result in report.skipped
    ]
    return pl.DataFrame(rows, schema=CONVERTED_SCHEMA).sort("tile_id")
