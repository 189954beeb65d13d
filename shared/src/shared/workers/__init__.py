"""Thread-based fan-out over many items inside Dagster assets: retries, skips, cancellation, reports."""

from shared.workers.pool import (
    ItemResult,
    Outcome,
    PoolReport,
    SkipItem,
    WorkerPool,
    WorkerPoolError,
)
from shared.workers.retry import RetryPolicy

__all__ = [
    "ItemResult",
    "Outcome",
    "PoolReport",
    "RetryPolicy",
    "SkipItem",
    "WorkerPool",
    "WorkerPoolError",
]
