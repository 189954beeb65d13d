"""Keep a copy of a provider's directory of files: list what is there, plan what to fetch or drop.

Meteorological archives and elevation mirrors are often plain directories: a local or mounted folder,
an Apache/nginx autoindex page, or an S3 prefix. :func:`list_remote` lists any of them as the same
:class:`RemoteFile` records; :func:`plan_sync` compares a listing with the state recorded at the last
sync and says which files are new, changed, unchanged or gone. Planning is a pure function so a
sensor can call it cheaply and a test can pin its every decision.

Listed names come from the provider and become local paths and object keys, so every name is checked
with :func:`~landing_zone.sources.safe_paths.check_relative_name`; listed URLs are fetched, so every
one (and every redirect) must stay under the listed folder or the caller's allowed prefixes
(:func:`~landing_zone.sources.confinement.confine_url`): a symbolic link in a local folder that points
outside it, or a link that climbs out of an autoindex, fails the listing naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from landing_zone.sources.confinement import confine_url, provider_root, url_guard
from landing_zone.sources.http import (
    FetchError,
    UrlGuard,
    head,
    header_size,
    normalize_etag,
    parse_http_date,
    read_document,
    with_retries,
)
from landing_zone.sources.s3 import s3_client, s3_failure
from landing_zone.sources.safe_paths import check_relative_name
from landing_zone.sources.urls import local_path, redact_url, scheme_of, split_s3_url
from shared.workers import RetryPolicy

_HEAD_CONCURRENCY = 8
_MAX_DEPTH = 16


@dataclass(frozen=True)
class StoredState:
    """What was recorded about a file when it was last fetched; None where the source did not say."""

    size: int | None
    etag: str | None
    modified: datetime | None


@dataclass(frozen=True)
class RemoteFile:
    """One listed file: its ``/``-separated name relative to the listed folder, URL and what it looks like."""

    name: str
    url: str
    size: int | None
    modified: datetime | None
    etag: str | None

    def state(self) -> StoredState:
        """The state to record once this file has been fetched, for the next :func:`plan_sync`."""
        return StoredState(size=self.size, etag=self.etag, modified=self.modified)


@dataclass(frozen=True)
class SyncPlan:
    """A listing compared with the stored state; every tuple sorted by name."""

    new: tuple[RemoteFile, ...]
    changed: tuple[RemoteFile, ...]
    unchanged: tuple[RemoteFile, ...]
    gone: tuple[str, ...]


def plan_sync(remote: list[RemoteFile], stored: Mapping[str, StoredState]) -> SyncPlan:
    """Sort each listed file into new, changed or unchanged, and name the stored files no longer listed.

    A file has changed when both sides have an ETag and they differ; without ETags on both sides, when
    the sizes differ or the modification times differ (each compared only when both sides know it).
    A file for which nothing can be compared counts as changed: fetching it again is the safe guess.
    """
    names = [file.name for file in remote]
    if len(set(names)) != len(names):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        raise ValueError(f"the listing names some files more than once: {duplicates}")
    new, changed, unchanged = [], [], []
    for file in sorted(remote, key=lambda item: item.name):
        state = stored.get(file.name)
        if state is None:
            new.append(file)
        elif _has_changed(file, state):
            changed.append(file)
        else:
            unchanged.append(file)
    gone = sorted(set(stored) - set(names))
    return SyncPlan(new=tuple(new), changed=tuple(changed), unchanged=tuple(unchanged), gone=tuple(gone))


def _has_changed(file: RemoteFile, state: StoredState) -> bool:
    if file.etag is not None and state.etag is not None:
        return file.etag != state.etag
    comparisons = [
        (file.size, state.size),
        (file.modified, state.modified),
    ]
    known = [(now, then) for now, then in comparisons if now is not None and then is not None]
    return not known or any(now != then for now, then in known)


def list_remote(
    url: str,
    *,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    allowed_prefixes: Sequence[str] | None = None,
) -> list[RemoteFile]:
    """Every file under ``url`` (recursively), sorted by name.

    ``url`` is a local folder (path or ``file://``), an autoindex page (``http(s)://.../``) or an S3
    prefix (``s3://bucket/prefix/``). Over HTTP sizes, dates and ETags come from one HEAD request per
    file, a few at a time. Every listed file must lie under ``allowed_prefixes`` (default: the listed
    folder itself); one that does not raises :class:`SourceUrlRefused` naming it.
    """
    allowed = tuple(allowed_prefixes) if allowed_prefixes is not None else (provider_root(_as_folder(url)),)
    scheme = scheme_of(url)
    if scheme == "file":
        files = _list_local(url)
    elif scheme in ("http", "https"):
        files = _list_autoindex(url, timeout_s, retry, url_guard(allowed, f"listing {redact_url(url)}"))
    elif scheme == "s3":
        files = _list_s3(url, timeout_s, retry)
    else:
        raise FetchError(f"{redact_url(url)}: unsupported scheme (file, http, https and s3 are)")
    for file in files:
        confine_url(file.url, allowed, f"listing {redact_url(url)}: listed file {file.name!r}")
    return sorted(files, key=lambda file: file.name)


def _as_folder(url: str) -> str:
    return url if url.endswith("/") else f"{url}/"


def _list_local(url: str) -> list[RemoteFile]:
    root = local_path(url)
    if not root.is_dir():
        raise FetchError(f"{redact_url(url)}: not a directory")
    files = []
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder, name)
            if not path.is_file():
                continue
            info = path.stat()
            files.append(
                RemoteFile(
                    name=check_relative_name(path.relative_to(root).as_posix()),
                    url=path.as_uri(),
                    size=info.st_size,
                    modified=datetime.fromtimestamp(info.st_mtime, UTC),
                    etag=None,
                )
            )
    return files


def _list_s3(url: str, timeout_s: float, retry: RetryPolicy | None) -> list[RemoteFile]:
    bucket, prefix = split_s3_url(url)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    client = s3_client(timeout_s)

    def attempt() -> list[RemoteFile]:
        try:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            objects = [item for page in pages for item in page.get("Contents", [])]
        except Exception as error:
            raise s3_failure(error, url) from None
        return [
            RemoteFile(
                name=check_relative_name(item["Key"][len(prefix) :]),
                url=f"s3://{bucket}/{item['Key']}",
                size=item["Size"],
                modified=item["LastModified"],
                etag=normalize_etag(item.get("ETag")),
            )
            for item in objects
            if not item["Key"].endswith("/")  # folder markers some tools create
        ]

    return with_retries(url, attempt, retry)[0]


def _list_autoindex(
    url: str, timeout_s: float, retry: RetryPolicy | None, guard: UrlGuard | None
) -> list[RemoteFile]:
    root = _as_folder(url)
    found = list(_walk_autoindex(root, root, timeout_s, retry, guard, depth=0))

    def described(entry: tuple[str, str]) -> RemoteFile:
        name, file_url = entry
        headers = head(file_url, timeout_s=timeout_s, retry=retry, guard=guard)
        return RemoteFile(
            name=name,
            url=file_url,
            size=header_size(headers),
            modified=parse_http_date(headers.get("Last-Modified")),
            etag=normalize_etag(headers.get("ETag")),
        )

    with ThreadPoolExecutor(_HEAD_CONCURRENCY, thread_name_prefix="autoindex-head") as executor:
        return list(executor.map(described, found))


def _walk_autoindex(
    root: str, page_url: str, timeout_s: float, retry: RetryPolicy | None, guard: UrlGuard | None, depth: int
) -> Iterator[tuple[str, str]]:
    """``(name, url)`` of every file linked from ``page_url`` and, recursively, from its sub-folders."""
    if depth > _MAX_DEPTH:
        raise FetchError(f"{redact_url(page_url)}: folders nested deeper than {_MAX_DEPTH} levels")
    body = read_document(page_url, timeout_s=timeout_s, retry=retry, guard=guard)
    page = body.decode("utf-8", errors="replace")
    for link in _child_links(page_url, page):
        name = check_relative_name(unquote(link[len(root) :]).removesuffix("/"))
        if link.endswith("/"):
            yield from _walk_autoindex(root, link, timeout_s, retry, guard, depth + 1)
        else:
            yield name, link


def _child_links(page_url: str, page: str) -> list[str]:
    """Absolute URLs of the page's links that point below it, without duplicates, in page order.

    That one rule drops what an autoindex adds around the files: the parent-folder link (``../`` or
    an absolute path above), column-sort links (``?C=N;O=D``), anchors and links to other sites.
    """
    parser = _LinkParser()
    parser.feed(page)
    links: dict[str, None] = {}
    for href in parser.hrefs:
        link = urldefrag(urljoin(page_url, href)).url
        if urlsplit(link).query or not link.startswith(page_url) or link == page_url:
            continue
        links[link] = None
    return list(links)


class _LinkParser(HTMLParser):
    """Collects the ``href`` of every ``<a>`` element (entities already decoded by the parser)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)
