"""Keep every source URL inside its provider: one rule for tile URLs, listed files, STAC hrefs, redirects.

A provider chooses the URLs we fetch (a tile index names each tile's URL, a listing its files, a STAC
catalogue its links and assets) and a redirect can send a request anywhere. Left alone, a tile URL of
``file:///proc/self/environ`` or ``../../../etc/passwd`` would copy the process's secrets or the host's
files into the raw layer. So every such URL must lie under one of the source's *allowed prefixes*,
which by default is the provider root: the folder of the configured URL.

A URL lies under a prefix when, after normalisation, it has the prefix's scheme (no switch from
``http`` to ``file`` or ``s3``, nor from ``https`` down to ``http``), the same host and port (or S3
bucket), and its path segments start with all of the prefix's. Normalisation percent-decodes the path
once (what a server does) and applies ``.`` and ``..`` segments; local paths are resolved, so a
symbolic link inside the root that points outside it is refused too. Comparing whole segments means
``http://host/data-evil/x`` is not under ``http://host/data/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from landing_zone.sources.http import FetchError, UrlGuard
from landing_zone.sources.urls import local_path, redact_url, scheme_of

_DEFAULT_PORTS = {"http": 80, "https": 443}


class SourceUrlRefused(FetchError):  # noqa: N818 - the name the callers and the issue use
    """A URL (or a redirect) leads outside the source's allowed prefixes; names what and the redacted URL."""


@dataclass(frozen=True)
class _Location:
    """A URL reduced to what confinement compares: scheme, authority (host:port or bucket) and segments."""

    scheme: str
    authority: str
    segments: tuple[str, ...]

    def is_under(self, prefix: _Location) -> bool:
        return (
            self.scheme == prefix.scheme
            and self.authority == prefix.authority
            and self.segments[: len(prefix.segments)] == prefix.segments
        )


def provider_root(url: str) -> str:
    """The folder of ``url`` (itself when it ends with ``/``), without query or fragment.

    This is a source's default allowed prefix: the folder holding its index, listing or catalogue.
    """
    scheme = scheme_of(url)
    if scheme == "file" and not url.lower().startswith("file:"):
        path = Path(url)
        return (path if url.endswith(("/", "\\")) else path.parent).resolve().as_uri() + "/"
    parts = urlsplit(url)
    folder = parts.path if parts.path.endswith("/") else parts.path.rpartition("/")[0] + "/"
    return urlunsplit((parts.scheme, parts.netloc, folder, "", ""))


def confine_url(url: str, allowed_prefixes: Sequence[str], what: str) -> str:
    """Return ``url`` unchanged when it lies under one of ``allowed_prefixes``; else raise.

    ``what`` names the feature in the refusal (``"tile 'N34-12'"``, ``"listed file '2019/a.zip'"``).
    Raises :class:`SourceUrlRefused` naming ``what``, the redacted URL, why, and the allowed prefixes.
    """
    if not allowed_prefixes:
        raise ValueError(f"{what}: no allowed prefixes given, so no URL can be allowed")
    try:
        location = _location(url)
    except ValueError as error:
        raise _refused(url, what, str(error), allowed_prefixes) from None
    prefixes = [_prefix_location(prefix) for prefix in allowed_prefixes]
    if any(location.is_under(prefix) for prefix in prefixes):
        return url
    if not any(location.scheme == prefix.scheme for prefix in prefixes):
        reason = f"scheme {location.scheme!r} is not allowed for this source"
    else:
        reason = "it lies outside the provider's allowed prefixes"
    raise _refused(url, what, reason, allowed_prefixes)


def refusal(url: str, allowed_prefixes: Sequence[str], what: str) -> str | None:
    """The refusal message :func:`confine_url` would raise, or None when the URL is allowed."""
    try:
        confine_url(url, allowed_prefixes, what)
    except SourceUrlRefused as error:
        return str(error)
    return None


def _refused(url: str, what: str, reason: str, allowed: Iterable[str]) -> SourceUrlRefused:
    shown = ", ".join(redact_url(prefix) for prefix in allowed)
    return SourceUrlRefused(f"{what}: {redact_url(url)} refused: {reason} (allowed: {shown})")


def _prefix_location(prefix: str) -> _Location:
    """A configured prefix, normalised; a prefix that cannot be is a configuration error naming it."""
    try:
        return _location(prefix)
    except ValueError as error:
        raise ValueError(f"allowed prefix {redact_url(prefix)!r} is not usable: {error}") from None


def _location(url: str) -> _Location:
    """Normalise ``url``; raises ValueError for a URL that cannot be compared safely."""
    scheme = scheme_of(url)
    if scheme == "file":
        return _local_location(url)
    if scheme not in ("http", "https", "s3"):
        raise ValueError(f"scheme {scheme!r} is not supported")
    parts = urlsplit(url)
    if scheme == "s3":
        if not parts.netloc:
            raise ValueError("an S3 URL must name a bucket")
        authority = parts.netloc
    else:
        port = parts.port or _DEFAULT_PORTS[scheme]  # parts.port raises ValueError for a bad port
        authority = f"{(parts.hostname or '').lower()}:{port}"
    return _Location(scheme, authority, _segments(unquote(parts.path)))


def _local_location(url: str) -> _Location:
    """A local path, resolved: ``..`` applied and every symbolic link followed to where it really leads."""
    if "\x00" in url:
        raise ValueError("NUL character in the path")
    path = local_path(url)
    return _Location("file", "", path.resolve().parts)


def _segments(path: str) -> tuple[str, ...]:
    """Path segments with ``.`` dropped and ``..`` applied, as a server resolves them."""
    if "\\" in path or "\x00" in path:
        raise ValueError("backslash or NUL character in the decoded path")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return tuple(segments)


def url_guard(allowed_prefixes: Sequence[str] | None, what: str) -> UrlGuard | None:
    """A check for every URL a request is redirected to, or None when the caller confines nothing.

    The HTTP plumbing calls it with each redirect target before following it, so a redirect that
    leaves the allowed prefixes fails with :class:`SourceUrlRefused` instead of being fetched.
    """
    if allowed_prefixes is None:
        return None
    prefixes = tuple(allowed_prefixes)
    return lambda target: confine_url(target, prefixes, f"{what} (redirected)")
