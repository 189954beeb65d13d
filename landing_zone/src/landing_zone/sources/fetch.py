"""Download one source file, from a local path, HTTP(S) or S3, verified before it is put in place.

A tile that arrived short or corrupted must never reach the raw layer looking like a good one. So the
bytes go to a hidden ``.part`` sibling of the destination, hashed as they are written, and the file is
renamed into place only when its size agrees with the server's ``Content-Length`` and with the
caller's ``expected_size``, and its SHA-256 with ``expected_sha256``. On any failure the ``.part`` file
is removed and an existing destination is left as it was.

Large national tiles are often cut off mid-body by proxies. When the server advertised
``Accept-Ranges: bytes`` the next attempt asks only for the missing tail (``Range``, with ``If-Range``
so a file replaced meanwhile comes back whole); a server that ignores the range answers 200 and the
download restarts from zero. S3 always supports ranges and ``IfMatch`` plays the part of ``If-Range``.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from landing_zone.sources.confinement import confine_url, url_guard
from landing_zone.sources.http import (
    FetchError,
    SourceNotFound,
    TransientError,
    UrlGuard,
    header_size,
    normalize_etag,
    open_response,
    parse_http_date,
    release,
    with_retries,
)
from landing_zone.sources.s3 import s3_client, s3_failure
from landing_zone.sources.urls import local_path, redact_url, scheme_of, split_s3_url
from shared.workers import RetryPolicy

if TYPE_CHECKING:
    import urllib3

_CHUNK = 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch` stored, fit for materialization metadata and for change detection.

    ``url`` is redacted (no user info, no query string), so the whole result is safe to record.
    ``attempts`` counts requests made, retries included; ``resumed`` says the file was completed by a
    range request after a lost connection. ``etag`` and ``last_modified`` are the server's, when it
    gave them (a local file has its modification time and no ETag).
    """

    url: str
    path: Path
    size: int
    sha256: str
    attempts: int
    resumed: bool
    etag: str | None
    last_modified: datetime | None


@dataclass
class _Origin:
    """What the source said about the file while it was being downloaded, and what a resume needs.

    ``validator`` is the ETag as the server sent it (quoted) or, over HTTP without a strong ETag, the
    ``Last-Modified`` date: ``If-Range``/``IfMatch`` send it back so that a resume of a file replaced
    meanwhile gets the whole new file instead of the new file's tail after the old file's head.
    """

    attempts: int = 0
    resumed: bool = False
    etag: str | None = None
    last_modified: datetime | None = None
    announced_size: int | None = None
    accepts_ranges: bool = False
    validator: str | None = None


class _PartFile:
    """The temporary file a download is written to, hashed as it goes so the file is never read twice."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self.size = 0
        self._hash = hashlib.sha256()

    def write(self, chunk: bytes) -> None:
        self._handle.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def restart(self) -> None:
        """Drop what was written, for a download that has to start again from byte zero."""
        self._handle.seek(0)
        self._handle.truncate()
        self.size = 0
        self._hash = hashlib.sha256()

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


def fetch(
    url: str,
    destination: Path,
    *,
    expected_size: int | None = None,
    expected_sha256: str | None = None,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    allowed_prefixes: Sequence[str] | None = None,
    what: str = "source file",
) -> FetchResult:
    """Download ``url`` (``file://`` or a path, ``http(s)://``, ``s3://bucket/key``) to ``destination``.

    ``timeout_s`` bounds connecting and each read (not the whole download); ``retry`` spaces and
    limits attempts (default :data:`~landing_zone.sources.http.DEFAULT_RETRY`). Raises
    :class:`FetchError` naming the redacted URL and what went wrong, with no file left behind.

    With ``allowed_prefixes`` the URL and every redirect target must lie under one of them
    (:func:`~landing_zone.sources.confinement.confine_url`); otherwise :class:`SourceUrlRefused`,
    naming ``what`` (the tile or file the URL belongs to), is raised before anything is requested.
    """
    if expected_sha256 is not None and not _SHA256.match(expected_sha256.lower()):
        raise ValueError(f"expected_sha256 must be 64 hexadecimal digits, got {expected_sha256!r}")
    if allowed_prefixes is not None:
        confine_url(url, allowed_prefixes, what)
    download = _DOWNLOADERS.get(scheme_of(url))
    if download is None:
        raise FetchError(f"{redact_url(url)}: unsupported scheme (file, http, https and s3 are)")
    guard = url_guard(allowed_prefixes, what)
    destination.parent.mkdir(parents=True, exist_ok=True)
    part_path = destination.with_name(f".{destination.name}.{uuid.uuid4().hex[:12]}.part")
    try:
        with part_path.open("wb") as handle:
            part = _PartFile(handle)
            origin = download(url, part, timeout_s, retry, guard)
        _verify(url, part, expected_size, expected_sha256)
        part_path.replace(destination)
    finally:
        part_path.unlink(missing_ok=True)
    return FetchResult(
        url=redact_url(url),
        path=destination,
        size=part.size,
        sha256=part.sha256,
        attempts=origin.attempts,
        resumed=origin.resumed,
        etag=origin.etag,
        last_modified=origin.last_modified,
    )


def _verify(url: str, part: _PartFile, expected_size: int | None, expected_sha256: str | None) -> None:
    if expected_size is not None and part.size != expected_size:
        raise FetchError(f"{redact_url(url)}: got {part.size} bytes, expected {expected_size}")
    if expected_sha256 is not None and part.sha256 != expected_sha256.lower():
        raise FetchError(f"{redact_url(url)}: sha256 is {part.sha256}, expected {expected_sha256.lower()}")


def _fetch_file(
    url: str, part: _PartFile, _timeout_s: float, _retry: RetryPolicy | None, _guard: UrlGuard | None
) -> _Origin:
    path = local_path(url)
    try:
        with path.open("rb") as source:
            while chunk := source.read(_CHUNK):
                part.write(chunk)
            modified = os.fstat(source.fileno()).st_mtime
    except OSError as error:
        missing = isinstance(error, FileNotFoundError)
        raise (SourceNotFound if missing else FetchError)(
            f"{redact_url(url)}: {error.strerror or error}"
        ) from error
    return _Origin(attempts=1, last_modified=datetime.fromtimestamp(modified, UTC))


def _fetch_http(
    url: str, part: _PartFile, timeout_s: float, retry: RetryPolicy | None, guard: UrlGuard | None
) -> _Origin:
    origin = _Origin()

    def attempt() -> None:
        headers = {"Accept-Encoding": "identity"}
        resuming = part.size > 0 and origin.accepts_ranges
        if resuming:
            headers["Range"] = f"bytes={part.size}-"
            if origin.validator:
                headers["If-Range"] = origin.validator
        elif part.size:
            part.restart()
        passthrough = (416,) if resuming else ()
        response = open_response(
            "GET", url, timeout_s=timeout_s, headers=headers, passthrough=passthrough, guard=guard
        )
        try:
            if response.status == 206 and resuming:
                total = _continuation_total(response, part)
                origin.resumed = True
            else:
                total = _first_response(response, part, origin)
            _stream(response, part, total)
        finally:
            release(response)

    origin.attempts = with_retries(url, attempt, retry)[1]
    return origin


def _first_response(response: urllib3.BaseHTTPResponse, part: _PartFile, origin: _Origin) -> int | None:
    """Take a response that should carry the whole file; return its announced size."""
    if response.status == 416:
        # The file is shorter than first announced, or shrank since: try the whole file again.
        expected = f", expected {origin.announced_size}" if origin.announced_size is not None else ""
        failure = f"got {part.size} bytes{expected}, then HTTP 416 to the resume request"
        part.restart()
        raise TransientError(failure)
    if response.status == 206:
        raise TransientError("HTTP 206 (partial content) to a request for the whole file")
    if part.size:
        part.restart()  # the server ignored Range (or If-Range found a new file): start from zero
        origin.resumed = False
    etag = response.headers.get("ETag")
    last_modified = response.headers.get("Last-Modified")
    origin.etag = normalize_etag(etag)
    origin.last_modified = parse_http_date(last_modified)
    origin.accepts_ranges = response.headers.get("Accept-Ranges", "").strip().lower() == "bytes"
    origin.validator = etag if etag and not etag.strip().startswith("W/") else last_modified
    origin.announced_size = header_size(response.headers)
    return origin.announced_size


def _continuation_total(response: urllib3.BaseHTTPResponse, part: _PartFile) -> int | None:
    """The file's total size from a 206's ``Content-Range``, after checking it starts where we stopped."""
    content_range = response.headers.get("Content-Range", "").strip()
    match = _CONTENT_RANGE.match(content_range)
    if match is None or int(match.group(1)) != part.size:
        failure = f"asked to resume at byte {part.size}, got Content-Range {content_range!r}"
        part.restart()
        raise TransientError(failure)
    return None if match.group(3) == "*" else int(match.group(3))


def _stream(response: urllib3.BaseHTTPResponse, part: _PartFile, total: int | None) -> None:
    """Copy the body into the part file; a body cut short is transient (the next attempt resumes)."""
    from urllib3.exceptions import ProtocolError
    from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

    expected = f", expected {total}" if total is not None else ""
    try:
        for chunk in response.stream(_CHUNK, decode_content=False):
            part.write(chunk)
    except (ProtocolError, Urllib3TimeoutError) as error:
        raise TransientError(
            f"got {part.size} bytes{expected} (connection lost: {type(error).__name__})"
        ) from None
    if total is not None and part.size != total:
        raise TransientError(f"got {part.size} bytes{expected}")


def _fetch_s3(
    url: str, part: _PartFile, timeout_s: float, retry: RetryPolicy | None, _guard: UrlGuard | None
) -> _Origin:
    """S3 has no redirects to guard: boto3 only follows its own region redirects, to the same bucket."""
    bucket, key = split_s3_url(url)
    client = s3_client(timeout_s)
    origin = _Origin()

    def attempt() -> None:
        request = {"Bucket": bucket, "Key": key}
        resuming = part.size > 0 and origin.validator is not None
        if resuming:
            request |= {"Range": f"bytes={part.size}-", "IfMatch": str(origin.validator)}
        elif part.size:
            part.restart()
        try:
            response = client.get_object(**request)
            total = part.size + response["ContentLength"]
            if resuming:
                origin.resumed = True
            else:
                origin.validator = response["ETag"]
                origin.etag = normalize_etag(response["ETag"])
                origin.last_modified = response["LastModified"]
            for chunk in response["Body"].iter_chunks(_CHUNK):
                part.write(chunk)
        except Exception as error:
            if resuming and _precondition_failed(error):
                part.restart()
                origin.validator = None
                raise TransientError("the object was replaced since the first attempt; restarting") from None
            raise s3_failure(error, url) from None
        if part.size != total:
            raise TransientError(f"got {part.size} bytes, expected {total}")

    origin.attempts = with_retries(url, attempt, retry)[1]
    return origin


def _precondition_failed(error: Exception) -> bool:
    response = getattr(error, "response", None)
    return isinstance(response, dict) and response.get("Error", {}).get("Code") == "PreconditionFailed"


_DOWNLOADERS: dict[str, Callable[[str, _PartFile, float, RetryPolicy | None, UrlGuard | None], _Origin]] = {
    "file": _fetch_file,
    "http": _fetch_http,
    "https": _fetch_http,
    "s3": _fetch_s3,
}
