"""Source URLs: which kind of location a URL names, and how to print one without its secrets.

Provider URLs can carry credentials (``https://user:token@host/...``) or signed query strings
(``?X-Amz-Signature=...``). Every message, log line and result that shows a URL goes through
:func:`redact_url`, so those never reach Dagster logs or materialization metadata.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """The URL without user info, query string and fragment: safe to log and to put in messages."""
    parts = urlsplit(url)
    if len(parts.scheme) <= 1:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def without_userinfo(url: str) -> str:
    """The URL without ``user:token@``: what may be stored in a table analysts can read."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def with_userinfo_of(url: str, origin: str) -> str:
    """``url`` with ``origin``'s ``user:token@`` when both name the same scheme, host and port.

    The credentials of a configured source URL (from the environment) then reach the tiles it lists
    without ever being stored with them, and never a host the source did not name.
    """
    target, source = urlsplit(url), urlsplit(origin)
    userinfo, _, host = source.netloc.rpartition("@")
    same_origin = (target.scheme, target.netloc) == (source.scheme, host)
    return urlunsplit(target._replace(netloc=f"{userinfo}@{host}")) if userinfo and same_origin else url


def scheme_of(url: str) -> str:
    """``"file"``, ``"http"``, ``"https"`` or ``"s3"`` (lower case); a plain path is ``"file"``.

    A single letter before the colon is a Windows drive, not a scheme, so ``C:\\data`` is a path too.
    """
    scheme = urlsplit(url).scheme.lower()
    return "file" if len(scheme) <= 1 else scheme


def local_path(url: str) -> Path:
    """The local path named by a ``file://`` URL or a plain path."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{redact_url(url)}: file URLs naming another host are not supported")
        # Imported here: urllib.request brings http.client and email (about 10 ms) to every load of
        # the code location, which reads no file URL.
        from urllib.request import url2pathname

        return Path(url2pathname(parts.path))
    return Path(url)


def split_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/key/or/prefix`` as ``(bucket, key)``; the key may be empty (a whole bucket)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "s3" or not parts.netloc:
        raise ValueError(f"{redact_url(url)} is not of the form s3://bucket/key")
    return parts.netloc, parts.path.lstrip("/")
