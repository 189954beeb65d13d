"""Source adapters: fetch provider files, page WFS tile indexes, sync directory listings, read STAC.

Every adapter reads the same three kinds of location (local paths and ``file://``, ``http(s)://``,
``s3://``) through one set of plumbing (:mod:`landing_zone.sources.http`): retries with backoff,
verified atomic downloads, URLs redacted of credentials in every message, and every URL a provider
chooses confined to that provider's allowed prefixes (:mod:`landing_zone.sources.confinement`).
"""

from landing_zone.sources.confinement import SourceUrlRefused, confine_url, provider_root
from landing_zone.sources.fetch import FetchResult, fetch
from landing_zone.sources.http import DEFAULT_RETRY, FetchError, SourceNotFound, redact_url
from landing_zone.sources.listing_sync import (
    RemoteFile,
    StoredState,
    SyncPlan,
    list_remote,
    plan_sync,
)
from landing_zone.sources.safe_paths import (
    UnsafePathError,
    check_name,
    check_relative_name,
    safe_extract_zip,
    safe_join,
)
from landing_zone.sources.wfs import (
    MalformedIndexError,
    TileIndexEntry,
    WfsClient,
    WfsError,
    parse_tile_index,
)

__all__ = [
    "DEFAULT_RETRY",
    "FetchError",
    "FetchResult",
    "MalformedIndexError",
    "OfflineSchemaError",
    "PlatformStacIO",
    "RemoteFile",
    "SourceNotFound",
    "SourceUrlRefused",
    "StoredState",
    "SyncPlan",
    "TileIndexEntry",
    "UnsafePathError",
    "WfsClient",
    "WfsError",
    "asset_href",
    "check_name",
    "check_relative_name",
    "confine_url",
    "fetch",
    "list_items",
    "list_remote",
    "open_catalog",
    "parse_tile_index",
    "plan_sync",
    "provider_root",
    "redact_url",
    "safe_extract_zip",
    "safe_join",
    "validate_catalog",
]


_STAC_NAMES = {
    "OfflineSchemaError",
    "PlatformStacIO",
    "asset_href",
    "list_items",
    "open_catalog",
    "validate_catalog",
}


def __getattr__(name: str) -> object:
    """STAC helpers load pystac on first use: definitions import this package and must stay light."""
    if name in _STAC_NAMES:
        from landing_zone.sources import stac

        return getattr(stac, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
