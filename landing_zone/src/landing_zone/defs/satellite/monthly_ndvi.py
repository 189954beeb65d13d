"""A month's NDVI composite from the scenes the raw layer holds, on the region's grid.

The grid: the consolidated DTM's CRS and bounds (the region as every other raster of it is stored),
snapped outward to whole cells of the scenes' finest ground sampling distance, which is read from the
``proj:transform`` the catalogue declares for the red and near-infrared files (10 m for Sentinel-2; a
Landsat catalogue would give 30 m), never assumed. The compositing itself (block-wise reprojection,
masking by the scene classification, per-pixel median and count) is :mod:`.compositing`.

The scenes are read from local files: :meth:`shared.storage.Storage.stage_files` downloads them with the
storage API's retries (GDAL's ``/vsis3/`` reader cannot recover a connection reset mid-body) after
checking they fit on disk; local storage hands out the stored files themselves. Their keys are the
manifest's ``object_key`` column (content-addressed, :mod:`.raw_scenes`), never rebuilt from names.

What the inputs lack (no stored scene, a DTM without CRS, no scene the compositing can use) raises
``ValueError``: it would recur on every attempt, and the asset fails the step without a retry.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from landing_zone.defs.satellite.compositing import (
    CompositeSummary,
    SceneBands,
    TargetGrid,
    composite_ndvi,
)
from landing_zone.defs.satellite.raw_scenes import ITEM, STORED
from shared.rasters.cog import describe_raster
from shared.storage import Storage

NDVI_BANDS = ("red", "nir")
"""The bands whose declared cell size sets the composite's: the mask may be coarser (SCL is 20 m)."""


@dataclass(frozen=True)
class RegionExtent:
    """Where the region's rasters lie: the CRS and bounds of its consolidated DTM."""

    crs: str
    bounds: tuple[float, float, float, float]


def region_extent(gdal_path: str, gdal_options: Mapping[str, str]) -> RegionExtent:
    """The CRS and bounds of the region's consolidated DTM, from its header (no pixel is read)."""
    description = describe_raster(gdal_path, dict(gdal_options))
    if not description.crs:
        raise ValueError(f"the consolidated DTM {gdal_path} has no CRS: the region's grid is unknown")
    return RegionExtent(description.crs, description.bounds)


def stored_scenes(table: pl.DataFrame) -> dict[str, dict[str, str]]:
    """``{item_id: {band: object key}}`` of every stored scene in the manifest, in time order."""
    stored = table.filter((pl.col("status") == STORED) & (pl.col("band") != ITEM)).sort("datetime", "item_id")
    scenes: dict[str, dict[str, str]] = {}
    for row in stored.iter_rows(named=True):
        scenes.setdefault(row["item_id"], {})[row["band"]] = row["object_key"]
    return scenes


def scenes_gsd(table: pl.DataFrame) -> float:
    """The finest cell size the stored red and near-infrared files declare (CRS units: metres)."""
    rows = table.filter((pl.col("status") == STORED) & pl.col("band").is_in(NDVI_BANDS))
    if rows.is_empty():
        raise ValueError("the manifest lists no stored red or near-infrared file")
    sizes = [min(abs(t[0]), abs(t[4])) for t in rows["transform"].to_list()]
    return float(min(sizes))


def composite_month(
    store: Storage, table: pl.DataFrame, grid: TargetGrid, destination: Path, cache_mb: int
) -> CompositeSummary:
    """Stage the month's stored scenes locally and composite them into ``destination``."""
    scenes = stored_scenes(table)
    if not scenes:
        raise ValueError("the manifest lists no stored scene")
    keys = [key for bands in scenes.values() for key in (bands["red"], bands["nir"], bands["scl"])]
    with tempfile.TemporaryDirectory(prefix="ndvi-scenes-") as scratch:
        paths = dict(zip(keys, store.stage_files(keys, Path(scratch)), strict=True))
        bands = [scene_bands(item_id, keys_of, paths) for item_id, keys_of in scenes.items()]
        return composite_ndvi(bands, grid, destination, gdal_cache_mb=cache_mb)


def scene_bands(item_id: str, keys: Mapping[str, str], paths: Mapping[str, Path]) -> SceneBands:
    """One scene's staged files as the compositing reads them."""
    return SceneBands(
        item_id=item_id,
        red=str(paths[keys["red"]]),
        nir=str(paths[keys["nir"]]),
        mask=str(paths[keys["scl"]]),
    )
