"""Thread-based fan-out over many items inside Dagster assets: retries, skips, cancellation, reports."""

from shared.workers.pool import (
    ItemResult,
    Outcome,
    PoolReport,
    RetryPolicy,
    SkipItem,
    WorkerPool,
    WorkerPoolError,
)

__all__ = [
    "ItemResult",
    "Outcome",
    "PoolReport",
    "RetryPolicy",
    "SkipItem",
    "WorkerPool",
    "WorkerPoolError",
]
