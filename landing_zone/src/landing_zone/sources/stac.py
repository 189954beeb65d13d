"""Static STAC catalogues: list their items, resolve asset hrefs, and validate them offline.

Imagery providers (and our own outputs) publish static catalogues: JSON files linked by relative
hrefs, on a web server or a local disk. Reading goes through pystac with a :class:`pystac.StacIO`
that fetches ``http(s)`` through the platform's HTTP plumbing (connection pool, retries, redacted
errors) instead of pystac's bare requests, and ``s3://`` through the platform's S3 client (endpoint
and credentials from the standard AWS variables), for catalogues on S3-compatible storage.

Every href read (catalogue links, items) and every asset href handed out must stay under the
catalogue's allowed prefixes, by default the folder of the catalogue itself
(:func:`~landing_zone.sources.confinement.confine_url`): a link to ``file:///etc/passwd`` or to another
site fails naming the item, instead of being read or downloaded.

Validation must not depend on schemas.stacspec.org being reachable (no service is, from a cluster
without egress) nor hang waiting for it. pystac bundles the core STAC JSON schemas of the version it
writes; the schemas of the extensions our catalogues use ship in ``stac_schemas/`` beside this module
(the projection extension v2.0.0). :func:`validate_catalog` validates against those only: a catalogue
of another STAC version, or an object that declares an extension whose schema is not bundled, raises
:class:`OfflineSchemaError` naming it instead of reaching out to the network.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import pystac
from pystac.serialization.identify import identify_stac_object, identify_stac_object_type
from pystac.stac_io import DefaultStacIO
from pystac.stac_object import STACObjectType
from pystac.utils import make_absolute_href
from pystac.validation import JsonSchemaSTACValidator, validate_dict

from landing_zone.sources.confinement import confine_url, provider_root, refusal, url_guard
from landing_zone.sources.http import FetchError, read_document, with_retries
from landing_zone.sources.s3 import s3_client, s3_failure
from landing_zone.sources.urls import local_path, scheme_of, split_s3_url
from shared.workers import RetryPolicy

_LINKED_OBJECTS = {"child", "item"}
_NO_TIME = datetime.min.replace(tzinfo=UTC)
_SCHEMA_FOLDER = "stac_schemas"


class OfflineSchemaError(RuntimeError):
    """Validation needs a JSON schema that is not bundled (by pystac or by us), and fetching it is not
    allowed."""


class PlatformStacIO(DefaultStacIO):
    """Reads STAC JSON from local paths, ``file://``, ``http(s)://`` and ``s3://`` (through the platform's
    plumbing).

    With ``allowed_prefixes`` every href read, and every redirect, must lie under one of them.
    Writing stays pystac's (local files only): assets write catalogues locally and then store them.
    """

    def __init__(
        self,
        timeout_s: float = 30,
        retry: RetryPolicy | None = None,
        allowed_prefixes: Sequence[str] | None = None,
    ) -> None:
        super().__init__()
        self.timeout_s = timeout_s
        self.retry = retry
        self.allowed_prefixes = None if allowed_prefixes is None else tuple(allowed_prefixes)

    def read_text_from_href(self, href: str) -> str:
        what = f"STAC link {href.rpartition('/')[2]!r}"
        if self.allowed_prefixes is not None:
            confine_url(href, self.allowed_prefixes, what)
        if scheme_of(href) in ("http", "https"):
            guard = url_guard(self.allowed_prefixes, what)
            return read_document(href, timeout_s=self.timeout_s, retry=self.retry, guard=guard).decode(
                "utf-8"
            )
        if scheme_of(href) == "s3":
            return _read_s3_object(href, self.timeout_s, self.retry).decode("utf-8")
        return local_path(href).read_text(encoding="utf-8")


def _read_s3_object(url: str, timeout_s: float, retry: RetryPolicy | None) -> bytes:
    """A whole (small) object, with the platform's retries: S3 has no redirects to confine."""
    bucket, key = split_s3_url(url)
    client = s3_client(timeout_s)

    def attempt() -> bytes:
        try:
            body: bytes = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:
            raise s3_failure(error, url) from None
        return body

    return with_retries(url, attempt, retry)[0]


def _confined_io(
    catalog_href: str, timeout_s: float, retry: RetryPolicy | None, allowed_prefixes: Sequence[str] | None
) -> PlatformStacIO:
    """A reader confined to ``allowed_prefixes``, by default to the catalogue's own folder."""
    allowed = (provider_root(catalog_href),) if allowed_prefixes is None else allowed_prefixes
    return PlatformStacIO(timeout_s, retry, allowed)


def open_catalog(
    catalog_url: str,
    *,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    allowed_prefixes: Sequence[str] | None = None,
) -> pystac.Catalog:
    """The catalogue (or collection) at ``catalog_url``; everything linked from it is read the same way.

    Every link read must lie under ``allowed_prefixes`` (default: the catalogue's folder).
    """
    href = make_absolute_href(catalog_url)
    stac_io = _confined_io(href, timeout_s, retry, allowed_prefixes)
    # Catalog.from_file refuses a collection, so look first; from_file then reads the small root again.
    kind = identify_stac_object_type(stac_io.read_json(href))
    if kind == STACObjectType.COLLECTION:
        return _rooted_below(pystac.Collection.from_file(href, stac_io=stac_io), stac_io)
    if kind == STACObjectType.CATALOG:
        return _rooted_below(pystac.Catalog.from_file(href, stac_io=stac_io), stac_io)
    raise ValueError(f"{href} is a STAC {kind}, not a catalogue or collection")


def _rooted_below(catalog: pystac.Catalog, stac_io: PlatformStacIO) -> pystac.Catalog:
    """The catalogue made its own root when its root link leads outside the allowed prefixes.

    A collection opened on its own links to the catalogue above it as its root; reading only what lies
    below the configured URL, it serves as the root itself rather than reading outside its folder.
    """
    root_link = catalog.get_root_link()
    root_href = root_link.get_absolute_href() if root_link is not None else None
    allowed = stac_io.allowed_prefixes
    if root_href is not None and allowed is not None and refusal(root_href, allowed, "STAC root") is not None:
        catalog.set_root(catalog)
    return catalog


def list_items(
    catalog_url: str,
    collection_id: str | None = None,
    since: datetime | None = None,
    *,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    allowed_prefixes: Sequence[str] | None = None,
) -> list[pystac.Item]:
    """The items of the catalogue (of one collection in it, when given), sorted by time then id.

    With ``since`` (timezone-aware), only items whose time is at or after it: ``datetime``, or
    ``end_datetime`` for items that cover a period, so a period still running at ``since`` is kept.
    Links are confined as in :func:`open_catalog`.
    """
    if since is not None and since.tzinfo is None:
        raise ValueError(f"since must be timezone-aware, got {since.isoformat()}")
    catalog = open_catalog(catalog_url, timeout_s=timeout_s, retry=retry, allowed_prefixes=allowed_prefixes)
    container = catalog if collection_id is None else _collection(catalog, collection_id)
    try:
        items = list(container.get_items(recursive=True))
    except pystac.STACError as error:
        # pystac reports any unreadable link as "does not resolve to a STAC object": surface why.
        if isinstance(error.__cause__, FetchError):
            raise error.__cause__ from None
        raise
    if since is not None:
        items = [item for item in items if (when := _item_time(item)) is not None and when >= since]
    return sorted(items, key=lambda item: (_item_time(item) or _NO_TIME, item.id))


def _collection(catalog: pystac.Catalog, collection_id: str) -> pystac.Collection:
    if isinstance(catalog, pystac.Collection) and catalog.id == collection_id:
        return catalog
    for collection in catalog.get_all_collections():
        if collection.id == collection_id:
            return collection
    raise KeyError(f"catalogue {catalog.id!r} has no collection {collection_id!r}")


def _item_time(item: pystac.Item) -> datetime | None:
    return item.datetime or item.common_metadata.end_datetime


def asset_href(item: pystac.Item, key: str, allowed_prefixes: Sequence[str] | None = None) -> str:
    """The absolute href of the item's asset ``key`` (relative hrefs resolved against the item's own).

    The href must lie under ``allowed_prefixes``, by default the folder of the item's root catalogue
    when the item was read from one; otherwise :class:`SourceUrlRefused` names the item and asset.
    """
    asset = item.assets.get(key)
    if asset is None:
        raise KeyError(f"item {item.id!r} has no asset {key!r} (it has {sorted(item.assets)})")
    href = asset.get_absolute_href()
    if href is None:
        raise ValueError(f"item {item.id!r}: asset {key!r} has a relative href and the item has no location")
    allowed = allowed_prefixes if allowed_prefixes is not None else _root_prefixes(item)
    if allowed is not None:
        confine_url(href, allowed, f"STAC item {item.id!r}, asset {key!r}")
    return href


def _root_prefixes(item: pystac.Item) -> tuple[str, ...] | None:
    """The folder of the catalogue the item was read from, or None for an item built in memory."""
    root = item.get_root()
    root_href = root.get_self_href() if root is not None else None
    return (provider_root(root_href),) if root_href else None


@cache
def _bundled_extension_schemas() -> dict[str, dict[str, Any]]:
    """The extension schemas shipped in ``stac_schemas/``, keyed by their ``$id`` (the extension URL)."""
    schemas = {}
    for entry in files(__package__ or "landing_zone.sources").joinpath(_SCHEMA_FOLDER).iterdir():
        if entry.name.endswith(".json"):
            schema = json.loads(entry.read_text(encoding="utf-8"))
            schemas[schema["$id"]] = schema
    return schemas


class _BundledSchemaValidator(JsonSchemaSTACValidator):
    """pystac's JSON-schema validator restricted to bundled schemas (pystac's core ones and ours in
    ``stac_schemas/``): it never fetches one."""

    def __init__(self) -> None:
        super().__init__()
        self.schema_cache.update(_bundled_extension_schemas())

    def validate_core(
        self,
        stac_dict: dict[str, Any],
        stac_object_type: STACObjectType,
        stac_version: str,
        href: str | None = None,
    ) -> str | None:
        schema_uri = self.schema_uri_map.get_object_schema_uri(stac_object_type, stac_version)
        if schema_uri is not None and schema_uri not in self.schema_cache:
            raise OfflineSchemaError(
                f"{_describe(stac_dict, href)}: no bundled schema for STAC {stac_version} "
                f"{stac_object_type} (pystac bundles STAC {pystac.get_stac_version()})"
            )
        return super().validate_core(stac_dict, stac_object_type, stac_version, href)

    def validate_extension(
        self,
        stac_dict: dict[str, Any],
        stac_object_type: STACObjectType,
        stac_version: str,
        extension_id: str,
        href: str | None = None,
    ) -> str | None:
        if make_absolute_href(extension_id, href) not in self.schema_cache:
            raise OfflineSchemaError(
                f"{_describe(stac_dict, href)}: extension {extension_id} has no bundled schema; "
                "offline validation covers the core STAC schemas and the extensions "
                f"{sorted(_bundled_extension_schemas())}"
            )
        return super().validate_extension(stac_dict, stac_object_type, stac_version, extension_id, href)

    def _get_schema(self, schema_uri: str) -> dict[str, Any]:
        # Every $ref resolves through here: refuse what is not bundled rather than download it.
        if schema_uri not in self.schema_cache:
            raise OfflineSchemaError(
                f"schema {schema_uri} is not bundled (by pystac or in {_SCHEMA_FOLDER}/)"
            )
        return super()._get_schema(schema_uri)


def _describe(stac_dict: dict[str, Any], href: str | None) -> str:
    return f"{stac_dict.get('type', 'STAC object')} {stac_dict.get('id')!r}" + (f" at {href}" if href else "")


def validate_catalog(
    catalog_url: str,
    *,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    allowed_prefixes: Sequence[str] | None = None,
) -> int:
    """Validate the catalogue and every collection and item linked below it; return how many objects.

    Raises :class:`pystac.errors.STACValidationError` (its message names the object's id) for the first
    invalid object, and :class:`OfflineSchemaError` where a schema is not bundled. Cycles in the links
    are followed once. Links are confined as in :func:`open_catalog`.
    """
    stac_io = _confined_io(make_absolute_href(catalog_url), timeout_s, retry, allowed_prefixes)
    try:
        validator = _BundledSchemaValidator()
    except ImportError as error:
        raise ImportError("validate_catalog needs jsonschema: install pystac[validation]") from error
    pending = [make_absolute_href(catalog_url)]
    seen: set[str] = set()
    while pending:
        href = pending.pop()
        if href in seen:
            continue
        seen.add(href)
        stac_dict = stac_io.read_json(href)
        info = identify_stac_object(stac_dict)
        validate_dict(
            stac_dict,
            stac_object_type=info.object_type,
            stac_version=str(info.version_range.latest_valid_version()),
            extensions=list(info.extensions),
            href=href,
            validator=validator,
        )
        if info.object_type != STACObjectType.ITEM:
            pending += [
                make_absolute_href(link["href"], href)
                for link in stac_dict.get("links", [])
                if link.get("rel") in _LINKED_OBJECTS
            ]
    return len(seen)
