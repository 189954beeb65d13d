"""A month's scenes copied unchanged into the raw layer, each file checked against what the catalogue
declares before it is stored, and the manifest that lists them.

Layout, in the partition's folder ``satellite/scenes/month=YYYY-MM/region=R/``: ``{item_id}_{band}.tif``
for each of the ``red``, ``nir`` and ``scl`` files and ``{item_id}.json`` for the item as published;
``part.parquet`` beside them is the manifest (:data:`MANIFEST_SCHEMA`, one row per scene and file).

One scene is one unit: its files are downloaded (:func:`landing_zone.sources.fetch`: verified against
the SHA-256 the item declares, if any, and resumed by range requests where the source allows) into a
scratch folder and their real grid read
with rasterio; only when every file of the scene decodes and lies on the grid the catalogue declares
(CRS, shape, transform) are they stored, each in one atomic write. A scene that fails is
raised as :class:`SceneSkipped` with the reason (the worker pool records it) and nothing of it is
stored, so a stored copy is never replaced by a defective one.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from landing_zone.defs.satellite.catalogue import BANDS, DeclaredGrid, Scene
from shared.storage import Storage
from shared.storage.layout import COG, JSON, AssetLocation, InvalidLayoutError
from shared.workers import SkipItem

if TYPE_CHECKING:
    from landing_zone.sources import FetchResult

ITEM = "item"
"""The ``band`` of the manifest row that lists the item's JSON."""

STORED, SKIPPED = "stored", "skipped"

MANIFEST_SCHEMA: dict[str, Any] = {
    "item_id": pl.String,
    "datetime": pl.Datetime("us", "UTC"),
    "band": pl.String,
    "status": pl.String,
    "reason": pl.String,
    "source_url": pl.String,
    "object_key": pl.String,
    "bytes": pl.Int64,
    "sha256": pl.String,
    "crs": pl.String,
    "height": pl.Int64,
    "width": pl.Int64,
    "transform": pl.List(pl.Float64),
}
"""One row per scene and file (``red``, ``nir``, ``scl``, ``item``). ``crs``/``height``/``width``/
``transform`` are the grid the catalogue declares (null for the item row); ``status`` is ``stored`` or
``skipped`` with the ``reason`` (a skipped scene has no ``object_key``, ``bytes`` or ``sha256``)."""

DOWNLOAD_FAILED = "download failed"
"""Marks a skip reason as a failed download: the only kind that may go away when the step is retried."""

GRID_TOLERANCE = 1e-6
"""Largest difference between a declared and a real transform term, as a share of the cell size."""


class SceneSkipped(SkipItem):
    """The scene cannot be used (not declared fully, not downloadable, not on its declared grid)."""


def copy_scene(
    scene: Scene, store: Storage, location: AssetLocation, allowed_prefixes: Sequence[str]
) -> list[dict[str, Any]]:
    """Download, check and store one scene; its manifest rows. Raises :class:`SceneSkipped`."""
    if scene.problem:
        raise SceneSkipped(f"{scene.item_id}: {scene.problem}")
    try:
        keys = {band: location.key(COG, name=f"{scene.item_id}_{band}") for band in BANDS}
        keys[ITEM] = location.key(JSON, name=scene.item_id)
    except InvalidLayoutError as error:
        raise SceneSkipped(f"{scene.item_id}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="satellite-scene-") as scratch:
        fetched = download(
            scene, {band: Path(scratch, Path(key).name) for band, key in keys.items()}, allowed_prefixes
        )
        for band in BANDS:
            path = fetched[band].path
            problem = grid_difference(scene.assets[band].grid, path) or undecodable(path)
            if problem:
                raise SceneSkipped(f"{scene.item_id}: {band}: {problem}")
        for band, result in fetched.items():  # only now: a defective scene replaces no stored copy
            store.put_file(result.path, keys[band])
    return [
        _row(scene, band, STORED, source_url=got.url, object_key=keys[band], size=got.size, sha=got.sha256)
        for band, got in fetched.items()
    ]


def download(
    scene: Scene, destinations: Mapping[str, Path], allowed_prefixes: Sequence[str]
) -> dict[str, FetchResult]:
    """Every file of the scene (bands and item) to its local destination, verified against the SHA-256
    the item declares, if any; the first failure skips the scene."""
    from landing_zone.sources import FetchError, fetch

    hrefs = {**{band: scene.assets[band].href for band in BANDS}, ITEM: scene.item_href}
    fetched = {}
    for band, href in hrefs.items():
        declared = scene.assets[band].sha256 if band in scene.assets else None
        try:
            fetched[band] = fetch(
                href,
                destinations[band],
                expected_sha256=declared,
                allowed_prefixes=allowed_prefixes,
                what=scene.item_id,
            )
        except FetchError as error:
            raise SceneSkipped(f"{scene.item_id}: {band}: {DOWNLOAD_FAILED}: {error}") from None
    return fetched


def skipped_rows(scene: Scene, reason: str) -> list[dict[str, Any]]:
    """The manifest rows of a scene that was not stored: one per band, with the reason."""
    return [_row(scene, band, SKIPPED, reason=reason) for band in BANDS]


def manifest(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The manifest table, sorted by time, item and band."""
    return pl.DataFrame(list(rows), schema=MANIFEST_SCHEMA).sort("datetime", "item_id", "band")


def _row(
    scene: Scene,
    band: str,
    status: str,
    *,
    reason: str = "",
    source_url: str | None = None,
    object_key: str | None = None,
    size: int | None = None,
    sha: str | None = None,
) -> dict[str, Any]:
    asset = scene.assets.get(band)
    grid = asset.grid if asset is not None else None
    return {
        "item_id": scene.item_id,
        "datetime": scene.datetime.astimezone(dt.UTC),
        "band": band,
        "status": status,
        "reason": reason,
        "source_url": source_url,
        "object_key": object_key,
        "bytes": size,
        "sha256": sha,
        "crs": grid.crs if grid else None,
        "height": grid.shape[0] if grid else None,
        "width": grid.shape[1] if grid else None,
        "transform": list(grid.transform) if grid else None,
    }


def grid_difference(
    declared: DeclaredGrid, path: str | Path, gdal_options: Mapping[str, str] | None = None
) -> str:
    """How the raster at ``path`` differs from its declared grid; empty when it lies on it."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import RasterioError

    try:
        with rasterio.Env(**dict(gdal_options or {})), rasterio.open(path) as dataset:
            crs, shape, transform = dataset.crs, (dataset.height, dataset.width), tuple(dataset.transform)[:6]
    except RasterioError as error:
        return f"not a readable raster: {error}"
    problems = []
    if crs is None or not _same_crs(CRS.from_user_input(declared.crs), crs):
        problems.append(f"CRS {crs.to_string() if crs else 'none'}, declared {declared.crs}")
    if shape != declared.shape:
        problems.append(f"shape {list(shape)}, declared {list(declared.shape)}")
    tolerance = GRID_TOLERANCE * declared.cell_size
    if any(abs(real - said) > tolerance for real, said in zip(transform, declared.transform, strict=True)):
        problems.append(f"transform {list(transform)}, declared {list(declared.transform)}")
    return "; ".join(problems)


def undecodable(path: str | Path) -> str:
    """Why the raster's pixels cannot be decoded (a truncated or damaged file), empty when every block
    of band 1 decodes: a header alone opens fine from a file cut short. Read one block at a time."""
    import rasterio
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as dataset:
            for _, window in dataset.block_windows(1):
                dataset.read(1, window=window)
    except RasterioError as error:
        return f"not a readable raster: {error}"
    return ""


def _same_crs(declared: Any, real: Any) -> bool:
    """Equal by EPSG code where both have one (GeoTIFF keys and a ``proj:code`` spell it differently)."""
    declared_epsg, real_epsg = declared.to_epsg(), real.to_epsg()
    if declared_epsg is not None and real_epsg is not None:
        return bool(declared_epsg == real_epsg)
    return bool(declared == real)


def stored_grid_mismatches(
    store: Storage, table: pl.DataFrame, gdal_options: Mapping[str, str] | None = None
) -> list[dict[str, str]]:
    """Every stored band whose stored copy is not on the grid its manifest row declares (headers only)."""
    mismatches = []
    for row in table.filter((pl.col("status") == STORED) & (pl.col("band") != ITEM)).iter_rows(named=True):
        declared = DeclaredGrid(row["crs"], (row["height"], row["width"]), tuple(row["transform"]))
        problem = grid_difference(declared, store.gdal_path(row["object_key"]), gdal_options)
        if problem:
            mismatches.append({"item_id": row["item_id"], "band": row["band"], "problem": problem})
    return mismatches
