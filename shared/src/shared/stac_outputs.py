"""A static STAC catalogue of the platform's outputs, kept current by the IO managers.

Analysts discover what exists by browsing ``{root}/catalog.json`` (QGIS's STAC browser, pystac,
STAC Browser) instead of listing prefixes. Layout under the storage root::

    catalog.json                                   the root catalogue, one child per asset family
    stac/collections/{family}.json                 one collection per asset (key path joined by ``.``)
    stac/items/{family}/{partition}.json           one item per stored partition

Links between them are relative, so the catalogue works wherever the root is served or copied. Asset
hrefs are absolute ``s3://bucket/key`` URIs on S3 (local paths on local storage): STAC hrefs are URIs,
and a ``/vsis3/...`` path would be a relative reference that pystac and validators resolve against the
item's own location (``s3://bucket/stac/items/x/vsis3/...``). QGIS's STAC browser turns ``s3://`` hrefs
of COG and Parquet assets into ``/vsis3/`` itself (``QgsStacAsset::uri``), and GDAL opens the same
``/vsis3/`` path (:meth:`shared.storage.Storage.gdal_path`) with the standard AWS variables.

Raster facts go where STAC 1.1 puts them: the projection extension (``proj:code``, ``proj:shape``,
``proj:transform``, ``proj:bbox``, read from the COG header with ranged reads) and the core ``bands``
with ``nodata`` and ``data_type`` (STAC 1.1 moved those out of the raster extension; its v1.1.0
``raster:bands`` schema is not bundled for offline validation, so it is not declared).

Concurrency: an item is one object written with one PUT, so it is atomic. The collection and the root
list their children, and two materialisations finishing together must not drop each other's link.
Each writer converges (:func:`_converge`): it reads the stored document, rebuilds it from a *fresh
listing* of the children (merging the extents of children the stored document does not link yet), and
writes only when the result differs, then repeats until a read finds nothing to change. A writer thus
returns only after seeing a stored document that links every child listed after its own item was
stored. A stale writer (one that listed before another's item existed) may overwrite a good document,
but it then verifies its own write against a fresh listing, sees the missing child and rewrites.
Every document write is followed by such a verification by its writer, so the last write of all was
verified against a listing made after every item stored so far: no item is left unlinked.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from shared.storage import ObjectNotFoundError, Storage
from shared.storage.layout import CANDIDATE_NAME, COG, FLATGEOBUF, PARQUET, AssetLocation

ROOT_KEY = "catalog.json"
STAC_PREFIX = "stac/"
COLLECTIONS_PREFIX = f"{STAC_PREFIX}collections/"
ITEMS_PREFIX = f"{STAC_PREFIX}items/"
ROOT_ID = "platform-outputs"
STAC_VERSION = "1.1.0"
"""The STAC version of the hand-built collections and root (the one pystac writes items in)."""

MEDIA_TYPES = {
    COG: "image/tiff; application=geotiff; profile=cloud-optimized",
    PARQUET: "application/vnd.apache.parquet",
    FLATGEOBUF: "application/vnd.flatgeobuf",
}
"""The stored formats the catalogue describes, by extension (QGIS recognises the first two)."""

PROJECTION_EXTENSION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
_WHOLE_WORLD = [-180.0, -90.0, 180.0, 90.0]
_ATTEMPTS = 20
_UNPARTITIONED = "all"


class StacCatalogueError(RuntimeError):
    """The catalogue could not be brought in line with storage (a document kept changing under us)."""


def collection_id(asset_path: Iterable[str]) -> str:
    """The collection of an asset family: its key path joined by ``.`` (``elevation.dtm.consolidated``)."""
    return ".".join(asset_path)


def item_key(location: AssetLocation) -> str:
    """Where the item of one partition is stored."""
    segments = location.folder.split("/")[len(location.asset_path) : -1]
    return f"{ITEMS_PREFIX}{collection_id(location.asset_path)}/{','.join(segments) or _UNPARTITIONED}.json"


def catalogue_partition(storage: Storage, location: AssetLocation) -> str | None:
    """Describe the partition's published files in its item, then link it from its collection and root.

    Called by the IO managers after they store a partition. Every ``.tif``, ``.parquet`` and ``.fgb``
    directly in the partition's folder is an asset of the item, except ``candidate.*`` (versions their
    checks rejected). A partition without such files loses its item. Returns the item's key, or None.
    """
    files = published_files(storage, location)
    key = item_key(location)
    if files:
        storage.put_bytes(_dump(_item(storage, location, files)), key)
    else:
        storage.delete(key)
    family = collection_id(location.asset_path)
    collection = f"{COLLECTIONS_PREFIX}{family}.json"
    _converge(storage, collection, lambda stored: _collection(storage, family, stored))
    _converge(storage, ROOT_KEY, lambda stored: _root(storage))
    return key if files else None


def published_files(storage: Storage, location: AssetLocation) -> list[str]:
    """Keys of the partition's files in the catalogued formats (not those of nested assets' folders)."""
    folder = location.folder
    keys = []
    for info in storage.list(folder):
        name = info.key[len(folder) :]
        stem, _, extension = name.rpartition(".")
        if "/" not in name and extension in MEDIA_TYPES and stem != CANDIDATE_NAME:
            keys.append(info.key)
    return keys


def _item(storage: Storage, location: AssetLocation, keys: list[str]) -> dict[str, Any]:
    import pystac

    family = collection_id(location.asset_path)
    stored = max(storage.stat(key).modified for key in keys)
    assets: dict[str, pystac.Asset] = {}
    footprints: list[list[float]] = []
    for key in keys:
        name = key.rpartition("/")[2]
        extension = name.rpartition(".")[2]
        fields: dict[str, Any] = {}
        if extension == COG:
            fields, raster_box = _raster_fields(storage, key)
            footprints.append(raster_box)
        elif extension == PARQUET and (table_box := _geoparquet_footprint(storage, key)):
            footprints.append(table_box)
        assets[name] = pystac.Asset(storage.uri(key), name, None, MEDIA_TYPES[extension], ["data"], fields)
    bbox = _union(footprints) if footprints else None
    item = pystac.Item(
        id=f"{family}:{item_key(location).rpartition('/')[2].removesuffix('.json')}",
        geometry=_polygon(bbox) if bbox else None,
        bbox=bbox,
        datetime=stored.astimezone(UTC),
        properties={"title": f"{'/'.join(location.asset_path)} {dict(location.partition) or ''}".strip()},
        collection=family,
    )
    for name, asset in assets.items():
        item.add_asset(name, asset)
    if any(field.startswith("proj:") for asset in assets.values() for field in asset.extra_fields):
        item.stac_extensions.append(PROJECTION_EXTENSION)
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    document["links"] = [
        {"rel": "root", "href": "../../../catalog.json", "type": "application/json"},
        {"rel": "parent", "href": f"../../collections/{family}.json", "type": "application/json"},
        {"rel": "collection", "href": f"../../collections/{family}.json", "type": "application/json"},
    ]
    return document


def _raster_fields(storage: Storage, key: str) -> tuple[dict[str, Any], list[float]]:
    """Projection fields and bands of a COG from its header (ranged reads), and its WGS84 bbox."""
    import rasterio
    from rasterio.warp import transform_bounds

    with rasterio.Env(**storage.gdal_options()), rasterio.open(storage.gdal_path(key)) as dataset:
        epsg = dataset.crs.to_epsg() if dataset.crs else None
        crs_field = {"proj:code": f"EPSG:{epsg}"} if epsg else {"proj:wkt2": dataset.crs.to_wkt()}
        fields = crs_field | {
            "proj:shape": [dataset.height, dataset.width],
            "proj:transform": list(dataset.transform)[:6],
            "proj:bbox": list(dataset.bounds),
            "bands": [
                {"data_type": dtype} | ({} if nodata is None else {"nodata": _json_number(nodata)})
                for dtype, nodata in zip(dataset.dtypes, dataset.nodatavals, strict=True)
            ],
        }
        footprint = list(transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21))
    return fields, footprint


def _geoparquet_footprint(storage: Storage, key: str) -> list[float] | None:
    """The WGS84 bbox from a GeoParquet footer's ``geo`` metadata (a ranged read); None for plain tables."""
    import polars as pl

    metadata = pl.read_parquet_metadata(storage.polars_path(key), storage_options=storage.polars_options())
    geo = json.loads(metadata["geo"]) if "geo" in metadata else None
    column = geo["columns"][geo["primary_column"]] if geo else None
    if not column or "bbox" not in column:
        return None
    from pyproj import CRS, Transformer

    source = CRS.from_json_dict(column["crs"]) if column.get("crs") else CRS.from_epsg(4326)
    transformer = Transformer.from_crs(source, CRS.from_epsg(4326), always_xy=True)
    box = column["bbox"]
    west, south, east, north = box[:2] + box[2:4] if len(box) == 4 else box[:2] + box[3:5]  # 2D or 3D
    return list(transformer.transform_bounds(west, south, east, north, densify_pts=21))


def _collection(storage: Storage, family: str, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The family's collection linking every stored item; extents grown by the items not linked yet."""
    linked = {link["href"] for link in (stored or {}).get("links", []) if link["rel"] == "item"}
    spatial = (stored or {}).get("extent", {}).get("spatial", {}).get("bbox", [None])[0]
    interval = (stored or {}).get("extent", {}).get("temporal", {}).get("interval", [[None, None]])[0]
    hrefs = []
    for info in storage.list(f"{ITEMS_PREFIX}{family}/"):
        href = f"../items/{family}/{info.key.rpartition('/')[2]}"
        item = None if href in linked else _read(storage, info.key)
        if href in linked or item:
            hrefs.append(href)  # an item removed since the listing is left out
        if item:
            spatial = _union([box for box in (spatial, item.get("bbox")) if box]) or spatial
            moment = item["properties"].get("datetime")
            interval = [_earliest(interval[0], moment), _latest(interval[1], moment)]
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": family,
        "title": family.replace(".", "/"),
        "description": f"Partitions of the asset {family.replace('.', '/')} as stored by the platform.",
        "license": "other",
        "extent": {"spatial": {"bbox": [spatial or _WHOLE_WORLD]}, "temporal": {"interval": [interval]}},
        "links": [
            {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../../catalog.json", "type": "application/json"},
            *({"rel": "item", "href": href, "type": "application/geo+json"} for href in sorted(hrefs)),
        ],
    }


def _root(storage: Storage) -> dict[str, Any]:
    children = sorted(info.key.rpartition("/")[2] for info in storage.list(COLLECTIONS_PREFIX))
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": ROOT_ID,
        "title": "Water-data platform outputs",
        "description": "Every published raster and table of the platform, one collection per asset.",
        "links": [
            {"rel": "root", "href": "./catalog.json", "type": "application/json"},
            *(
                {"rel": "child", "href": f"./{COLLECTIONS_PREFIX}{name}", "type": "application/json"}
                for name in children
            ),
        ],
    }


def _converge(storage: Storage, key: str, build: Callable[[dict[str, Any] | None], dict[str, Any]]) -> None:
    """Write ``build(stored)`` until a fresh read finds nothing to change (see the module docstring)."""
    for attempt in range(_ATTEMPTS):
        stored = _read(storage, key)
        wanted = build(stored)
        if wanted == stored:
            return
        storage.put_bytes(_dump(wanted), key)
        if attempt:
            time.sleep(random.uniform(0, 0.05 * attempt))
    raise StacCatalogueError(f"{storage.uri(key)} kept changing during {_ATTEMPTS} rewrites")


def _read(storage: Storage, key: str) -> dict[str, Any] | None:
    try:
        document: dict[str, Any] = json.loads(storage.get_bytes(key))
    except ObjectNotFoundError:
        return None
    return document


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, indent=1).encode()


def _union(boxes: list[list[float]]) -> list[float] | None:
    if not boxes:
        return None
    return [
        min(box[0] for box in boxes),
        min(box[1] for box in boxes),
        max(box[2] for box in boxes),
        max(box[3] for box in boxes),
    ]


def _polygon(bbox: list[float]) -> dict[str, Any]:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _earliest(first: str | None, second: str | None) -> str | None:
    return min((moment for moment in (first, second) if moment), default=None)


def _latest(first: str | None, second: str | None) -> str | None:
    return max((moment for moment in (first, second) if moment), default=None)


def _json_number(value: float) -> float | str:
    """nodata as STAC writes it: a number, or ``"nan"``/``"inf"``/``"-inf"`` (JSON has no such numbers)."""
    if value != value:
        return "nan"
    if value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return float(value)


@dataclass(frozen=True)
class CatalogueAudit:
    """What a walk of the catalogue from its root found, against a listing of storage."""

    catalogued: int
    """Stored files (of the catalogued formats) that an item of the root's collections points at."""
    unreachable: tuple[str, ...]
    """Stored files no item points at."""
    dangling: tuple[str, ...]
    """Asset hrefs that point at no stored object."""


def audit_catalogue(storage: Storage) -> CatalogueAudit:
    """Walk root -> collections -> items -> asset hrefs and compare with what storage holds."""
    hrefs: set[str] = set()
    root = _read(storage, ROOT_KEY) or {"links": []}
    for child in (link for link in root["links"] if link["rel"] == "child"):
        collection_key = _resolve(ROOT_KEY, child["href"])
        collection = _read(storage, collection_key) or {"links": []}
        for link in (link for link in collection["links"] if link["rel"] == "item"):
            item = _read(storage, _resolve(collection_key, link["href"]))
            hrefs |= {asset["href"] for asset in (item or {}).get("assets", {}).values()}
    stored = {info.uri: info.key for info in storage.list() if _catalogued_format(info.key)}
    return CatalogueAudit(
        catalogued=len(hrefs & stored.keys()),
        unreachable=tuple(sorted(key for uri, key in stored.items() if uri not in hrefs)),
        dangling=tuple(sorted(hrefs - stored.keys())),
    )


def _catalogued_format(key: str) -> bool:
    stem, _, extension = key.rpartition("/")[2].rpartition(".")
    return extension in MEDIA_TYPES and stem != CANDIDATE_NAME and not is_catalogue_key(key)


def is_catalogue_key(key: str) -> bool:
    """Whether ``key`` is one of the catalogue's own documents."""
    return key == ROOT_KEY or key.startswith(STAC_PREFIX)


def _resolve(base_key: str, href: str) -> str:
    """The key a relative link of the document at ``base_key`` points at."""
    parts = base_key.split("/")[:-1]
    for part in href.split("/"):
        if part == "..":
            parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)
