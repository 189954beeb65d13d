"""A month's scenes copied unchanged into the raw layer, each file checked against what the catalogue
declares before it is stored, and the manifest that lists them.

Layout, in the partition's folder ``satellite/scenes/month=YYYY-MM/region=R/``: content-addressed
objects, ``{item_id}_{band}_{sha256[:16]}.tif`` for each of the ``red``, ``nir`` and ``scl`` files and
``{item_id}_{sha256[:16]}.json`` for the item as published; ``part.parquet`` beside them is the manifest
(:data:`MANIFEST_SCHEMA`, one row per scene and file, with each object's key, size and SHA-256). A changed
file gets a new key, so the objects a published manifest lists are never overwritten: publishing the new
manifest (one atomic write, after its audit) is the single switch from one version of the month to the
next, and a step that fails halfway leaves the published version whole. Objects no manifest lists any
more (an old version, a failed attempt) are left in place; an identical file stored again is not written.

One scene is one unit: its files are downloaded (:func:`landing_zone.sources.fetch`: retried on
transient faults and resumed by range requests where the source allows) into a scratch folder, compared
with the SHA-256 the item declares, if any, and their real grid read with rasterio; only when every file
of the scene decodes and lies on the grid the catalogue declares (CRS, shape, transform) are they stored.
A scene that cannot be used is raised as :class:`SceneSkipped` with the reason (the worker pool records
it) and nothing of it is stored; one that could not be fetched this time (:class:`SceneFetchError`) fails
the step, so the month is not published without it.
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
from shared.storage.checksums import file_sha256
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
``skipped`` with the ``reason`` (a skipped scene has no ``object_key``, ``bytes`` or ``sha256``). Readers
take the objects' keys from here, never from the naming scheme."""

MANIFEST_DESCRIPTIONS = {
    "item_id": "STAC item id of the scene in the satellite catalogue",
    "datetime": "Acquisition time of the scene (UTC, the item's datetime)",
    "band": "File of the scene: red, nir, scl (scene classification) or item (the STAC item JSON)",
    "status": "stored, or skipped with the reason",
    "source_url": "Where the catalogue's asset (or item) was fetched from",
    "object_key": "Storage key of the stored, content-addressed copy; null for a skipped scene",
    "bytes": "Size of the stored copy in bytes; null for a skipped scene",
    "sha256": "SHA-256 of the stored copy (hex); null for a skipped scene",
    "crs": "CRS the catalogue declares for the band (proj:code); null for the item row",
    "height": "Rows of the band's grid in pixels (proj:shape); null for the item row",
    "width": "Columns of the band's grid in pixels (proj:shape); null for the item row",
    "transform": "Affine transform of the band's grid, six coefficients (m, proj:transform); null for "
    "the item row",
}
"""Descriptions, with units, of :data:`MANIFEST_SCHEMA`'s columns."""

SOURCE_MISSING = "missing at the source"
CHECKSUM_MISMATCH = "checksum mismatch"
"""Labels of the skip reasons a download can give: the source says the file does not exist, or its bytes
are not the ones the item declares. Both recur on every attempt, so the scene is skipped, not retried."""

GRID_TOLERANCE = 1e-6
"""Largest difference between a declared and a real transform term, as a share of the cell size."""

DIGEST_CHARS = 16
"""Hex digits of the SHA-256 in an object key: 64 bits, so two different files of one item and band
never share a key (and the name stays readable)."""


class SceneSkipped(SkipItem):
    """The scene cannot be used (not declared fully, missing at the source, not the declared bytes, not
    decodable, not on its declared grid): a fact about the input that another attempt would meet again."""


class SceneFetchError(RuntimeError):
    """A file of the scene could not be fetched although the source may hold it (the source kept failing
    through every retry, refused access, answered nonsense): the month must not publish without the scene,
    so the step fails and is retried. The message names the item, the band and the redacted URL."""


def copy_scene(
    scene: Scene, store: Storage, location: AssetLocation, allowed_prefixes: Sequence[str]
) -> list[dict[str, Any]]:
    """Download, check and store one scene; its manifest rows.

    Raises :class:`SceneSkipped` for a scene that cannot be used and :class:`SceneFetchError` for one
    that could not be fetched this time. Each file goes to its content-addressed key
    (:func:`object_key`), written only when no object holds it yet (:func:`store_once`).
    """
    if scene.problem:
        raise SceneSkipped(f"{scene.item_id}: {scene.problem}")
    try:  # before anything is downloaded: an item id unfit for an object name skips the scene
        object_key(location, scene.item_id, ITEM, "0" * DIGEST_CHARS)
    except InvalidLayoutError as error:
        raise SceneSkipped(f"{scene.item_id}: {error}") from None
    with tempfile.TemporaryDirectory(prefix="satellite-scene-") as scratch:
        destinations = {band: Path(scratch, f"{band}.tif") for band in BANDS} | {
            ITEM: Path(scratch, "item.json")
        }
        fetched = download(scene, destinations, allowed_prefixes)
        for band in BANDS:
            path = fetched[band].path
            problem = grid_difference(scene.assets[band].grid, path) or undecodable(path)
            if problem:
                raise SceneSkipped(f"{scene.item_id}: {band}: {problem}")
        keys = {band: object_key(location, scene.item_id, band, got.sha256) for band, got in fetched.items()}
        for band, got in fetched.items():  # only now: nothing of a defective scene is stored
            store_once(store, got.path, keys[band], got.sha256)
    return [
        _row(scene, band, STORED, source_url=got.url, object_key=keys[band], size=got.size, sha=got.sha256)
        for band, got in fetched.items()
    ]


def object_key(location: AssetLocation, item_id: str, band: str, sha256: str) -> str:
    """``{item_id}_{band}_{sha256[:16]}.tif``, or ``{item_id}_{sha256[:16]}.json`` for the item.

    Content-addressed: a changed file gets a new key and never overwrites the bytes a published manifest
    describes, so publishing the new manifest is the one switch from the old version to the new.
    """
    digest = sha256[:DIGEST_CHARS]
    if band == ITEM:
        return location.key(JSON, name=f"{item_id}_{digest}")
    return location.key(COG, name=f"{item_id}_{band}_{digest}")


def store_once(store: Storage, path: Path, key: str, sha256: str) -> None:
    """Store ``path`` under its content-addressed ``key`` unless an object with these bytes is there.

    An object already at the key is kept when its SHA-256 is ``sha256`` (a rerun of an unchanged file):
    a stored object is never replaced by a write. One with other bytes is damaged (the key promises these
    bytes), so it is rewritten with the bytes its key names.
    """
    if store.exists(key) and stored_sha256(store, key) == sha256:
        return
    store.put_file(path, key)


def stored_sha256(store: Storage, key: str) -> str:
    """SHA-256 of a stored object, read through a local copy (the stored file itself on local storage, a
    download on S3)."""
    with store.local_copy(key) as path:
        return file_sha256(path)


def download(
    scene: Scene, destinations: Mapping[str, Path], allowed_prefixes: Sequence[str]
) -> dict[str, FetchResult]:
    """Every file of the scene (bands and item) to its local destination, compared with the SHA-256 the
    item declares, if any.

    A file the source does not have, or whose bytes are not the declared ones, skips the scene; any other
    failure (retries spent on 5xx or lost connections, a refusal) raises :class:`SceneFetchError`.
    """
    from landing_zone.sources import FetchError, SourceNotFound, SourceUrlRefused, fetch

    hrefs = {**{band: scene.assets[band].href for band in BANDS}, ITEM: scene.item_href}
    fetched = {}
    for band, href in hrefs.items():
        try:
            got = fetch(href, destinations[band], allowed_prefixes=allowed_prefixes, what=scene.item_id)
        except SourceNotFound as error:
            raise SceneSkipped(f"{scene.item_id}: {band}: {SOURCE_MISSING}: {error}") from None
        except SourceUrlRefused as error:  # a redirect off the source: the provider's doing, every time
            raise SceneSkipped(f"{scene.item_id}: {band}: {error}") from None
        except FetchError as error:
            raise SceneFetchError(f"{scene.item_id}: {band}: {error}") from None  # names the URL
        declared = scene.assets[band].sha256 if band in scene.assets else None
        if declared is not None and got.sha256 != declared:
            raise SceneSkipped(
                f"{scene.item_id}: {band}: {CHECKSUM_MISMATCH}: {got.url} has SHA-256 {got.sha256}, "
                f"the item declares {declared}"
            )
        fetched[band] = got
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


def grid_difference(declared: DeclaredGrid, path: str | Path) -> str:
    """How the local raster at ``path`` differs from its declared grid; empty when it lies on it."""
    import rasterio
    from rasterio.crs import CRS
    from rasterio.errors import RasterioError

    try:
        with rasterio.open(path) as dataset:
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


def stored_mismatches(store: Storage, table: pl.DataFrame) -> list[dict[str, str]]:
    """Every stored object the manifest lists that is not what the manifest says: missing, another size
    or SHA-256, or (a band) off the grid its row declares. Each object is read whole, one at a time."""
    from shared.storage import ObjectNotFoundError

    mismatches = []
    for row in table.filter(pl.col("status") == STORED).iter_rows(named=True):
        key = row["object_key"]
        try:
            problem = _object_difference(store, row)
        except ObjectNotFoundError:
            problem = "missing from storage"
        if problem:
            mismatches.append(
                {"item_id": row["item_id"], "band": row["band"], "key": key, "problem": problem}
            )
    return mismatches


def _object_difference(store: Storage, row: Mapping[str, Any]) -> str:
    """How the stored object of a manifest row differs from the row; empty when it does not."""
    with store.local_copy(row["object_key"]) as path:
        size, sha = path.stat().st_size, file_sha256(path)
        if (size, sha) != (row["bytes"], row["sha256"]):
            said = f"{row['bytes']} bytes with SHA-256 {row['sha256']}"
            return f"{size} bytes with SHA-256 {sha}, the manifest says {said}"
        if row["band"] == ITEM:
            return ""
        declared = DeclaredGrid(row["crs"], (row["height"], row["width"]), tuple(row["transform"]))
        return grid_difference(declared, path)
