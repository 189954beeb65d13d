"""Retries on transient S3 faults, and a WARNING log line for every one of them.

Two layers retry: botocore retries each request (connection reset, 5xx, throttling, timeouts) and
:class:`~shared.storage.s3.S3Storage` retries reading a response body, which botocore does not cover. An
operator must see an endpoint degrading before it fails, so both layers log each retry at WARNING on
the ``shared.storage`` logger (Dagster captures it), naming the object's ``s3://`` URI and never
credentials.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from typing import Any

logger = logging.getLogger("shared.storage")

_TRANSIENT_CODES = {
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "SlowDown",
    "Throttling",
    "ThrottlingException",
}
_URI_KEY = "platform_uri"
_FAILURE_KEY = "platform_last_failure"


def backoff_delays(attempts: int, base_s: float, cap_s: float = 8.0) -> Iterator[float]:
    """The pauses between ``attempts`` tries: exponential, capped, with +-50 % jitter so that many
    workers hit by the same outage do not retry in lockstep."""
    for retry in range(attempts - 1):
        yield min(cap_s, base_s * 2**retry) * random.uniform(0.5, 1.5)


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it wraps) is a network or endpoint fault worth retrying.

    4xx answers (missing object, access denied) are final; connection errors, incomplete bodies,
    timeouts and 5xx or throttling answers are not. boto3's transfer manager wraps errors without
    ``from``, so the implicit context chain is followed too.
    """
    from botocore import exceptions as boto
    from urllib3.exceptions import HTTPError as Urllib3Error

    network_errors = (
        boto.HTTPClientError,  # connection closed, read timeout, body broke off
        boto.ConnectionError,  # endpoint unreachable, connect timeout
        boto.IncompleteReadError,
        Urllib3Error,
        ConnectionError,
        TimeoutError,
    )

    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, boto.ClientError):
            return _transient_answer(current.response)
        if isinstance(current, network_errors):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_answer(response: dict[str, Any]) -> bool:
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return status >= 500 or str(response.get("Error", {}).get("Code", "")) in _TRANSIENT_CODES


def log_botocore_retries(client: Any) -> None:
    """Make ``client`` log each retry botocore performs, with the URI of the object concerned.

    Three event hooks, no botocore internals: the request's parameters give the URI, ``needs-retry``
    records why an attempt failed, and a new request created for attempt 2 or later is a retry. Only
    retries that really happen are logged, whatever botocore's retry policy decided.
    """
    events = client.meta.events
    events.register("before-parameter-build.s3", _remember_uri)
    events.register("needs-retry.s3", _remember_failure)
    events.register("request-created.s3", _log_retry)


def _remember_uri(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    bucket, key = params.get("Bucket", ""), params.get("Key") or params.get("Prefix", "")
    context[_URI_KEY] = f"s3://{bucket}/{key}"


def _remember_failure(
    request_dict: dict[str, Any],
    response: tuple[Any, dict[str, Any]] | None,
    caught_exception: BaseException | None,
    **_: Any,
) -> None:
    """Record the failure of this attempt; returns ``None`` so botocore's own decision stands."""
    if caught_exception is not None:
        reason = f"{type(caught_exception).__name__}: {caught_exception}"
    elif response is not None:
        answer = response[1]
        status = answer.get("ResponseMetadata", {}).get("HTTPStatusCode")
        reason = f"HTTP {status} {answer.get('Error', {}).get('Code', '')}".rstrip()
    else:
        return
    request_dict["context"][_FAILURE_KEY] = reason


def _log_retry(request: Any, **_: Any) -> None:
    context = request.context
    retries = context.get("retries", {})
    attempt = int(retries.get("attempt", 1))
    if attempt > 1:
        logger.warning(
            "S3 request for %s failed (%s); retrying, attempt %d of %s",
            context.get(_URI_KEY, "an object"),
            context.get(_FAILURE_KEY, "a transient fault"),
            attempt,
            retries.get("max", "?"),
        )
