"""S3 access for the source adapters: a client configured like the rest of the platform, and its errors.

Endpoint and region come from the standard AWS variables (``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL``, ``AWS_REGION``), exactly as :func:`shared.storage.open_storage` reads them;
credentials are left to boto3's own chain (environment or the pod's IAM role) and never pass through
here. botocore's retries are off: :func:`~landing_zone.sources.http.with_retries` is the one retry
layer, so attempts are counted the same way for every scheme.

boto3 is imported inside the functions: a code-location server imports this package to serve
definitions and should not pay for boto3 until an asset actually reads from S3.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any

from landing_zone.sources.http import FetchError, SourceNotFound, TransientError
from landing_zone.sources.urls import redact_url

_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError"}


def s3_client(timeout_s: float) -> Any:
    """A thread-safe boto3 S3 client for the current environment, reused while that environment holds.

    The cache key includes the access key id so that a process which switches identities (tests,
    credential rotation through the environment) never keeps using a client built for the old one.
    """
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return _client(endpoint, region, timeout_s, os.environ.get("AWS_ACCESS_KEY_ID"))


@lru_cache(maxsize=8)
def _client(endpoint: str | None, region: str, timeout_s: float, _access_key_id: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=32,
    )
    # A session of its own: boto3's default session is not safe to create clients from in threads.
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name=region, config=config)


def s3_failure(error: Exception, url: str) -> Exception:
    """The exception to raise for a boto3 error: :class:`TransientError` or :class:`FetchError`.

    Throttling, 5xx and connection or streaming errors are transient; a missing key, a refused
    permission or missing credentials are not.
    """
    from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, IncompleteReadError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = error.response.get("Error", {}).get("Code", "")
        failure = f"S3 {code} (HTTP {status})"
        if status == 429 or status >= 500 or code in _TRANSIENT_CODES:
            return TransientError(failure)
        missing = code in ("NoSuchKey", "NotFound", "404")
        return (SourceNotFound if missing else FetchError)(f"{redact_url(url)}: {failure}")
    if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
        return TransientError(f"{type(error).__name__}: {error}")
    if isinstance(error, BotoCoreError):
        return FetchError(f"{redact_url(url)}: {type(error).__name__}: {error}")
    return error
