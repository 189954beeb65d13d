"""Remote-source plumbing shared by every adapter: one HTTP connection pool, one retry loop, one error.

National services fail in ordinary ways: a connection drops, a gateway answers 502 for a minute, a
rate limiter answers 429. Those are retried here, spaced by :class:`shared.workers.RetryPolicy` (the
policy the worker pool uses, so one vocabulary sizes both), and counted so that results can report
how flaky a source was. Anything else (404, 403, a malformed URL) is permanent and fails at once:
retrying it would only delay the failure.

urllib3's own retries and redirects are switched off, so a request is one attempt here and the count
means what it says. Redirects are followed here instead (at most five), so that each target can be
checked before it is requested: against the caller's ``guard`` (the source's allowed prefixes, see
:mod:`~landing_zone.sources.confinement`), and always for its scheme, since only ``http(s)`` may be
redirected to. Credentials of the first URL are sent only to its own scheme, host and port.

Messages never contain credentials or query strings (:func:`~landing_zone.sources.urls.redact_url`),
and transport errors are not chained into them, because urllib3's messages quote the request path
with its query.

urllib3 is imported where a request is made, not with this module: the code location imports the
adapters when it loads, and most of its processes (the webserver's, sensors') never fetch anything.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

from landing_zone.sources.urls import redact_url
from shared.workers import RetryPolicy

if TYPE_CHECKING:
    import urllib3

T = TypeVar("T")

DEFAULT_RETRY = RetryPolicy(max_attempts=5, backoff_s=0.5, backoff_factor=2.0, max_backoff_s=20.0)
"""Five attempts over about 8 s of backoff: enough to ride out a gateway restart, short enough to fail a
run that cannot succeed while the operator is still watching it."""

USER_AGENT = "water-platform-landing-zone"
_MAX_REDIRECTS = 5
_DRAIN_LIMIT_BYTES = 64 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

UrlGuard = Callable[[str], object]
"""Called with each redirect target before it is requested; raises to refuse it."""

_logger = logging.getLogger(__name__)


class FetchError(RuntimeError):
    """A source could not be fetched, or what arrived did not verify; the message names the redacted URL."""


class SourceNotFound(FetchError):  # noqa: N818 - a FetchError, named for what the source said
    """The source says the file does not exist (HTTP 404 or 410, no such local file, no such S3 key).

    Distinct from other failures so that optional companions (an ASC tile's ``.prj``) may be absent,
    while a refused, broken or unreachable one still counts as a failure.
    """


class TransientError(Exception):
    """A failure that another attempt may not meet: a lost connection, a timeout, HTTP 429 or 5xx.

    ``retry_after_s`` is the server's ``Retry-After``, when it sent one; it lengthens the next wait.
    """

    def __init__(self, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@cache
def _pool_manager() -> urllib3.PoolManager:
    """The process's connection pool: thread-safe, so worker-pool threads share its keep-alive connections.

    One request per attempt: connection and read errors surface at once, redirects are returned to us.
    """
    import urllib3

    one_attempt = urllib3.Retry(
        total=None, connect=False, read=False, other=0, status=0, redirect=False, raise_on_redirect=False
    )
    return urllib3.PoolManager(num_pools=32, maxsize=16, retries=one_attempt)


def with_retries(url: str, attempt: Callable[[], T], retry: RetryPolicy | None = None) -> tuple[T, int]:
    """Call ``attempt`` until it succeeds; return its value and the number of attempts made.

    ``attempt`` signals a retryable failure with :class:`TransientError` (urllib3's connection and
    timeout errors count as one too) and a permanent one with :class:`FetchError`, which passes through
    at once. After ``retry.max_attempts`` the last transient failure becomes a :class:`FetchError`.
    """
    from urllib3.exceptions import HTTPError

    policy = retry or DEFAULT_RETRY
    number = 0
    while True:
        number += 1
        try:
            return attempt(), number
        except TransientError as error:
            failure = error
        except HTTPError as error:
            failure = _transient_or_raise(error, url)
        if number >= policy.max_attempts:
            raise FetchError(f"{redact_url(url)}: {failure} (gave up after {number} attempts)")
        delay = _backoff(policy, number, failure.retry_after_s)
        _logger.info(
            "%s: attempt %d/%d failed (%s); retrying in %.2f s",
            redact_url(url),
            number,
            policy.max_attempts,
            failure,
            delay,
        )
        time.sleep(delay)


def _backoff(policy: RetryPolicy, attempt: int, retry_after_s: float | None) -> float:
    """The policy's delay, or the server's Retry-After when longer; never beyond the policy's cap."""
    delay = policy.delay(attempt)
    if retry_after_s is not None:
        delay = min(max(delay, retry_after_s), policy.max_backoff_s)
    return delay


def _transient_or_raise(error: urllib3.exceptions.HTTPError, url: str) -> TransientError:
    """A urllib3 error as a :class:`TransientError`, or a :class:`FetchError` raised when it is permanent."""
    from urllib3.exceptions import MaxRetryError, ProtocolError
    from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

    reason: BaseException = error
    if isinstance(error, MaxRetryError) and error.reason is not None:
        reason = error.reason
    description = _describe(reason, url)
    if isinstance(reason, Urllib3TimeoutError | ProtocolError):
        return TransientError(description)
    raise FetchError(f"{redact_url(url)}: {description}") from None


def _describe(error: BaseException, url: str) -> str:
    """``"Type: message"`` with the URL's query and user info cut out, should the message quote them."""
    message = str(error)
    parts = urlsplit(url)
    secrets = [parts.query, parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""]
    for secret in filter(None, secrets):
        message = message.replace(secret, "<redacted>")
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def open_response(
    method: str,
    url: str,
    *,
    timeout_s: float,
    headers: Mapping[str, str] | None = None,
    passthrough: Collection[int] = (),
    guard: UrlGuard | None = None,
) -> urllib3.BaseHTTPResponse:
    """Send one request (following redirects) and return the response with its body unread.

    2xx responses and statuses in ``passthrough`` are returned; 429 and 5xx raise
    :class:`TransientError`, anything else :class:`FetchError`. User info in the URL becomes a Basic
    ``Authorization`` header (urllib3 would silently drop it). Each redirect target is passed to
    ``guard`` first, which raises to refuse it. The caller releases the response.
    """
    target = url
    for _ in range(_MAX_REDIRECTS + 1):
        response = _send(method, url, target, timeout_s, headers)
        location = response.headers.get("Location") if response.status in _REDIRECTS else None
        if not location:
            return _checked_status(response, url, passthrough)
        release(response)
        target = _redirect_target(url, target, location, guard)
        if response.status == 303:
            method = "HEAD" if method == "HEAD" else "GET"
    raise FetchError(f"{redact_url(url)}: more than {_MAX_REDIRECTS} redirects")


def _send(
    method: str, url: str, target: str, timeout_s: float, headers: Mapping[str, str] | None
) -> urllib3.BaseHTTPResponse:
    """One request to ``target``; ``url``'s credentials go along only while the origin is unchanged."""
    import urllib3

    plain, credentials = _split_credentials(url)
    if _origin(target) != _origin(plain):
        credentials = {}
    request_headers = credentials | {"User-Agent": USER_AGENT, **(headers or {})}
    return _pool_manager().request(
        method,
        _split_credentials(target)[0],
        headers=request_headers,
        timeout=urllib3.Timeout(connect=timeout_s, read=timeout_s),
        redirect=False,
        preload_content=False,
    )


def _checked_status(
    response: urllib3.BaseHTTPResponse, url: str, passthrough: Collection[int]
) -> urllib3.BaseHTTPResponse:
    """The response when it is a success or passed through; else the transient or permanent failure."""
    if 200 <= response.status < 300 or response.status in passthrough:
        return response
    retry_after = _retry_after_s(response.headers.get("Retry-After"))
    release(response)
    failure = f"HTTP {response.status} {response.reason or ''}".rstrip()
    if response.status == 429 or response.status >= 500:
        raise TransientError(failure, retry_after)
    missing = response.status in (404, 410)
    raise (SourceNotFound if missing else FetchError)(f"{redact_url(url)}: {failure}")


def _redirect_target(url: str, current: str, location: str, guard: UrlGuard | None) -> str:
    """The absolute URL a redirect points to, after the scheme check and the caller's guard."""
    target = urljoin(current, location)
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise FetchError(
            f"{redact_url(url)}: redirected to {redact_url(target)}: only http(s) may be redirected to"
        )
    if guard is not None:
        guard(target)
    return target


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def release(response: urllib3.BaseHTTPResponse) -> None:
    """Hand a response's connection back to the pool, clean: its body read to the end, or closed.

    A connection with unread body bytes (even an empty body never read) would garble the next request
    sent on it. A short remainder is read and discarded; a long one is not worth the transfer, so that
    connection is closed instead and the pool opens a new one.
    """
    remaining = response.length_remaining
    if remaining is not None and remaining <= _DRAIN_LIMIT_BYTES:
        response.drain_conn()
    else:
        response.close()
    response.release_conn()


def _split_credentials(url: str) -> tuple[str, dict[str, str]]:
    import urllib3

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, {}
    userinfo, _, host = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    auth = urllib3.make_headers(basic_auth=f"{unquote(user)}:{unquote(password)}")
    return urlunsplit(parts._replace(netloc=host)), dict(auth)


def _retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    when = parse_http_date(value)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0) if when else None


def read_document(
    url: str,
    *,
    timeout_s: float = 30,
    retry: RetryPolicy | None = None,
    headers: Mapping[str, str] | None = None,
    guard: UrlGuard | None = None,
) -> bytes:
    """GET a whole (small) document with retries: a WFS page, a STAC JSON file, a directory listing.

    ``guard`` checks each redirect target (see :func:`open_response`).
    """

    def attempt() -> bytes:
        response = open_response("GET", url, timeout_s=timeout_s, headers=headers, guard=guard)
        try:
            return response.read()
        finally:
            response.release_conn()

    return with_retries(url, attempt, retry)[0]


def head(
    url: str, *, timeout_s: float = 30, retry: RetryPolicy | None = None, guard: UrlGuard | None = None
) -> urllib3.HTTPHeaderDict:
    """The headers a HEAD request returns (size, modification time, ETag), with retries and ``guard``."""

    def attempt() -> urllib3.HTTPHeaderDict:
        response = open_response("HEAD", url, timeout_s=timeout_s, guard=guard)
        release(response)
        return response.headers

    return with_retries(url, attempt, retry)[0]


def header_size(headers: Mapping[str, str]) -> int | None:
    """``Content-Length`` as an int, or None when absent or not a number."""
    value = headers.get("Content-Length", "").strip()
    return int(value) if value.isdigit() else None


def normalize_etag(value: str | None) -> str | None:
    """An ETag without its quotes (``"abc"`` -> ``abc``, ``W/"abc"`` -> ``W/abc``).

    HTTP and S3 quote ETags while S3 listings and some servers do not; stripping the quotes everywhere
    lets a stored ETag be compared with one seen later, whichever way it came.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    weak = value.startswith("W/")
    tag = value.removeprefix("W/").strip('"')
    return f"W/{tag}" if weak else tag


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (``Last-Modified``) as an aware UTC datetime, or None when absent or unparsable."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
