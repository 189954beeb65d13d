"""Fixtures of the source-adapter tests: a scripted local HTTP server and a retry policy without waits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.workers import RetryPolicy
from tests.sources.http_server import ScriptedServer, scripted_server


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with scripted_server() as running:
        yield running


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Four attempts with millisecond backoff: retries are exercised, the suite does not wait for them."""
    return RetryPolicy(max_attempts=4, backoff_s=0.01, max_backoff_s=0.05)
