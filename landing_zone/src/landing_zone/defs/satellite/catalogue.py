"""The satellite catalogue as the platform sees it: per month and region, the scenes it declares.

A static STAC catalogue (one per region: ``SourcesResource.region_url("satellite_catalog", region)``) is
read through :mod:`landing_zone.sources.stac`, which pages through the child links and keeps every href
inside the source's allowed prefixes. Each item is one acquisition; it belongs to the month of its
``datetime`` (``start_datetime`` for an item covering a period) and to the region when its ``bbox``
(WGS84, as STAC requires) intersects the region's ``bounds`` from the regions file (every item does when
the region has none: then the catalogue is the region's own).

What is kept of an item is what the platform relies on: the hrefs of the ``red``, ``nir`` and ``scl``
assets and the grid each declares through the projection extension (``proj:code``, or the older
``proj:epsg``, at the item or the asset; ``proj:shape`` and ``proj:transform`` per asset). An item that
lacks one of them is still listed, with its ``problem``, so the scenes asset can skip it with the reason
while the rest of the month is used.

Each month's ``fingerprint`` changes when its scenes change: the item ids, each asset's href relative to
the catalogue's folder (so a catalogue republished under a new version folder with the same files is
not a change), and whatever the provider declares about the file (``file:checksum``, ``file:size``,
``updated``, the declared grid). The sensor runs a month again only when it changes. Months are UTC
months of the acquisition time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pystac

    from shared.regions import Region

BANDS = ("red", "nir", "scl")
"""The assets a scene needs: red and near infrared for NDVI, the scene classification as its mask."""

SHA256_MULTIHASH = "1220"
"""Multihash prefix of a SHA2-256 digest (function 0x12, length 0x20), as the STAC file extension uses."""

_CHANGE_FIELDS = ("file:checksum", "file:size", "updated", "proj:shape")


class CatalogueError(ValueError):
    """The catalogue cannot be read as a satellite catalogue; the message names the URL."""


@dataclass(frozen=True)
class DeclaredGrid:
    """The grid an asset declares: CRS, ``(rows, cols)`` and the GDAL-order affine transform."""

    crs: str
    shape: tuple[int, int]
    transform: tuple[float, float, float, float, float, float]

    @property
    def cell_size(self) -> float:
        """The coarser of the two cell sides, in CRS units (metres for a projected CRS)."""
        return max(abs(self.transform[0]), abs(self.transform[4]))


@dataclass(frozen=True)
class SceneAsset:
    """One file of a scene: where it is, the grid the catalogue declares for it and, when the catalogue
    declares one (``file:checksum`` as a SHA2-256 multihash), the SHA-256 its bytes must have."""

    name: str
    href: str
    grid: DeclaredGrid
    sha256: str | None = None


@dataclass(frozen=True)
class Scene:
    """One acquisition (STAC item). ``problem`` says why it cannot be used, empty when it can."""

    item_id: str
    datetime: dt.datetime
    item_href: str
    assets: Mapping[str, SceneAsset]
    problem: str = ""
    change_marks: tuple[str, ...] = ()


@dataclass(frozen=True)
class MonthScenes:
    """The scenes of one month of one region, sorted by time then id."""

    month: str
    scenes: tuple[Scene, ...]

    @property
    def fingerprint(self) -> str:
        """16 hex digits that change whenever the month's scenes (or what is declared of them) change."""
        marks = [[scene.item_id, *scene.change_marks] for scene in self.scenes]
        return hashlib.sha256(json.dumps(marks, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Catalogue:
    """A region's catalogue by month, and the items that could not be placed in a month (with why)."""

    months: Mapping[str, MonthScenes]
    unplaced: Mapping[str, str] = field(default_factory=dict)


def read_catalogue(url: str, allowed_prefixes: Sequence[str], place: Region) -> Catalogue:
    """The region's scenes by month from the catalogue at ``url`` (links confined to ``allowed_prefixes``)."""
    from pystac.errors import STACError

    from landing_zone.sources import FetchError
    from landing_zone.sources.stac import list_items

    try:
        items = list_items(url, allowed_prefixes=allowed_prefixes)
    except (OSError, ValueError, KeyError, FetchError, STACError) as error:
        raise CatalogueError(f"satellite catalogue {url}: {error}") from error
    region_bbox = _wgs84_bounds(place)
    by_month: dict[str, list[Scene]] = {}
    unplaced: dict[str, str] = {}
    for item in items:
        if region_bbox is not None and not _intersects(item.bbox, region_bbox):
            continue
        when = item.datetime or item.common_metadata.start_datetime
        if when is None:
            unplaced[item.id] = "the item has neither datetime nor start_datetime"
            continue
        when = when.astimezone(dt.UTC) if when.tzinfo else when.replace(tzinfo=dt.UTC)
        by_month.setdefault(f"{when:%Y-%m}", []).append(scene_of(item, when, allowed_prefixes))
    months = {
        month: MonthScenes(month, tuple(sorted(scenes, key=lambda s: (s.datetime, s.item_id))))
        for month, scenes in sorted(by_month.items())
    }
    return Catalogue(months, unplaced)


def scene_of(item: pystac.Item, when: dt.datetime, allowed_prefixes: Sequence[str]) -> Scene:
    """The item as a scene; a missing asset or grid declaration becomes its ``problem``."""
    from landing_zone.sources import FetchError
    from landing_zone.sources.stac import asset_href

    item_href = item.get_self_href() or ""
    root = _catalogue_folder(item)
    assets: dict[str, SceneAsset] = {}
    marks = [str(item.properties.get("updated", ""))]
    problems = []
    for name in BANDS:
        try:
            href = asset_href(item, name, allowed_prefixes)
            grid = declared_grid(item, name)
        except (KeyError, ValueError, FetchError) as error:  # FetchError: an href outside the source
            problems.append(str(error).strip("'\""))
            continue
        extra = item.assets[name].extra_fields
        assets[name] = SceneAsset(name, href, grid, declared_sha256(extra.get("file:checksum")))
        declared = [extra.get(key) for key in _CHANGE_FIELDS]
        marks.append(json.dumps([name, _relative(href, root), declared, grid.crs, grid.transform]))
    return Scene(item.id, when, item_href, assets, "; ".join(problems), tuple(marks))


def declared_grid(item: pystac.Item, name: str) -> DeclaredGrid:
    """The grid the projection extension declares for asset ``name`` (asset fields over item fields)."""
    fields = {**item.properties, **item.assets[name].extra_fields}
    crs = fields.get("proj:code") or (f"EPSG:{fields['proj:epsg']}" if fields.get("proj:epsg") else None)
    shape: list[Any] = fields.get("proj:shape") or []
    transform: list[Any] = fields.get("proj:transform") or []
    missing = [
        k for k, v in (("proj:code", crs), ("proj:shape", shape), ("proj:transform", transform)) if not v
    ]
    if missing:
        raise ValueError(f"item {item.id!r}, asset {name!r}: no {', '.join(missing)} declared")
    if len(shape) != 2 or len(transform) not in (6, 9):
        raise ValueError(
            f"item {item.id!r}, asset {name!r}: proj:shape {shape} or proj:transform {transform} malformed"
        )
    a, b, c, d, e, f = (float(value) for value in transform[:6])
    return DeclaredGrid(str(crs), (int(shape[0]), int(shape[1])), (a, b, c, d, e, f))


def declared_sha256(checksum: object) -> str | None:
    """The SHA-256 hex digest of a ``file:checksum`` multihash (``1220`` + 64 hex digits), else None:
    another hash function cannot be verified by the download, so it only marks changes."""
    if isinstance(checksum, str) and len(checksum) == 68 and checksum.lower().startswith(SHA256_MULTIHASH):
        digest = checksum[4:].lower()
        return digest if all(c in "0123456789abcdef" for c in digest) else None
    return None


def _catalogue_folder(item: pystac.Item) -> str:
    """The folder of the catalogue the item was read from, spelled as pystac spells the asset hrefs."""
    catalogue = item.get_root()
    href = catalogue.get_self_href() if catalogue is not None else None
    return href.rpartition("/")[0] + "/" if href else ""


def _relative(href: str, root: str) -> str:
    """The href below the catalogue's folder: the same file in a republished catalogue compares equal."""
    return href[len(root) :] if root and href.startswith(root) else href


def _wgs84_bounds(place: Region) -> tuple[float, float, float, float] | None:
    """The region's configured bounds in WGS84 (STAC bboxes are WGS84), None when it has none."""
    if place.bounds is None:
        return None
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(place.crs, "EPSG:4326", always_xy=True)
    left, bottom, right, top = place.bounds
    west, south, east, north = to_wgs84.transform_bounds(left, bottom, right, top, densify_pts=21)
    return (west, south, east, north)


def _intersects(bbox: Sequence[float] | None, region: tuple[float, float, float, float]) -> bool:
    """Whether a STAC bbox (2D or 3D) overlaps the region's; an item without one is kept."""
    if not bbox:
        return True
    half = len(bbox) // 2
    west, south, east, north = bbox[0], bbox[1], bbox[half], bbox[half + 1]
    return west < region[2] and east > region[0] and south < region[3] and north > region[1]
