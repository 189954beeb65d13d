"""Which files of a provider directory are a network's sources, and which partition each one is.

A network's directory holds one zip per station and year (one partition each, keyed by the file's stem)
and the station list ``stations.csv`` at its top. Listed files, and every redirect while fetching them,
must stay under the network's allowed prefixes (the provider directory, plus configured extras); a
listed file that leads elsewhere (a symbolic link out of a local directory, a link off an autoindex)
fails the listing naming the file, before anything is fetched.

For a local provider directory the listing's ETag is the SHA-256 of each file: reading a local file is
as cheap as listing it, and modification times change when a directory is copied or republished without
a byte changing. HTTP and S3 listings keep the server's ETags.
"""

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import PurePosixPath

from landing_zone.sources import FetchError, RemoteFile, check_name, list_remote, redact_url
from landing_zone.sources.urls import local_path, scheme_of

STATION_LIST = "stations.csv"
"""The provider's list of stations, at the top of each network's directory."""


def source_key(name: str) -> str:
    """The partition key of a provider file: its stem (``2019/250190391_2019.zip`` -> ``250190391_2019``)."""
    return check_name(PurePosixPath(name).stem)


def is_source(name: str) -> bool:
    """Whether a listed file is one of the yearly zips (rather than the station list)."""
    return name.lower().endswith(".zip")


def is_local(file: RemoteFile) -> bool:
    """Local files carry their SHA-256 as ETag, so a fetch can verify the bytes, not just the size."""
    return scheme_of(file.url) == "file"


def provider_files(url: str, allowed: Sequence[str] | None = None) -> list[RemoteFile]:
    """The provider's yearly zips and station list, local ones with their SHA-256 as ETag.

    Every listed file must lie under ``allowed`` (default: the directory itself), else
    :class:`SourceUrlRefused` names it. Raises ``ValueError`` when two zips share a stem, since they
    would share one partition.
    """
    listing = list_remote(url, allowed_prefixes=allowed)
    files = [file for file in listing if is_source(file.name) or file.name == STATION_LIST]
    stems = [source_key(file.name) for file in files if is_source(file.name)]
    shared = sorted({stem for stem in stems if stems.count(stem) > 1})
    if shared:
        raise ValueError(f"{redact_url(url)}: several files would share the partitions {shared}")
    return [_with_content_etag(file) if is_local(file) else file for file in files]


def _with_content_etag(file: RemoteFile) -> RemoteFile:
    with local_path(file.url).open("rb") as handle:
        return replace(file, etag=hashlib.file_digest(handle, "sha256").hexdigest())


def listed_file(
    url: str, name_matches: Callable[[RemoteFile], bool], what: str, allowed: Sequence[str] | None = None
) -> RemoteFile:
    """The one listed file a run is about; it must still be listed (the plan may be older than the run)."""
    found = [file for file in provider_files(url, allowed) if name_matches(file)]
    if not found:
        raise FetchError(f"{redact_url(url)}: {what} is no longer listed")
    return found[0]
