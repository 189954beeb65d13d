"""A thread pool for Dagster assets that fan out over many independent items (tiles, files).

The work is I/O bound (object storage, HTTP, GDAL reads that release the GIL), so threads are enough and
keep the work function free to close over clients and paths that a process pool could not pickle. What
the asset needs beyond ``ThreadPoolExecutor.map`` is a per-item outcome instead of the first exception:
transient errors are retried with backoff, items the work function rejects are reported as skipped,
failures are collected into a report that becomes materialization metadata, and the run can be stopped
(by ``cancel()``, by ``fail_fast`` or by Ctrl-C) without waiting for every remaining item.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from shared.workers.retry import RetryPolicy

T = TypeVar("T")
ItemT = TypeVar("ItemT")

_METADATA_LIST_LIMIT = 20
_ERROR_MESSAGE_LIMIT = 10
_IN_FLIGHT_PER_WORKER = 2

_default_logger = logging.getLogger(__name__)

DEFAULT_ITEM_RETRY = RetryPolicy()
"""Three attempts per item, 0.5 s then 1 s apart (jittered)."""


class Outcome(StrEnum):
    """How one item ended; a ``StrEnum`` so that it reads and serialises as plain text."""

    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class SkipItem(Exception):  # noqa: N818 - it is a signal from the work function, not an error
    """Raised by a work function for an item that cannot or need not be processed.

    The message is the reason shown in the report (``SkipItem("tile T12: zero-byte file")``). A skip is a
    decision about the input, so it is never retried and never fails the pool.
    """


class WorkerPoolError(RuntimeError):
    """Items failed; ``report`` holds every item's result so the caller can still inspect or record them."""

    def __init__(self, message: str, report: PoolReport[Any]) -> None:
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class ItemResult(Generic[T]):
    """The result of one item.

    ``attempts`` is 0 for an item cancelled before it started. ``error`` is the type and message of the
    last exception (``"OSError: connection reset"``); it is kept for an item cancelled during backoff, so
    the report shows what it was recovering from. ``reason`` is the skip or cancellation reason.
    """

    key: str
    outcome: Outcome
    attempts: int
    duration_s: float
    value: T | None = None
    error: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PoolReport(Generic[T]):
    """Every item's result, in input order, and the run's wall-clock time.

    Keys need not be unique, but ``values``, ``to_metadata()['failures']`` and
    ``to_metadata()['skip_reasons']`` are dicts keyed by item key, so later items overwrite earlier ones
    with the same key there; ``results`` always holds all of them.
    """

    results: tuple[ItemResult[T], ...]
    wall_s: float

    def _with(self, outcome: Outcome) -> tuple[ItemResult[T], ...]:
        return tuple(result for result in self.results if result.outcome is outcome)

    @property
    def succeeded(self) -> tuple[ItemResult[T], ...]:
        return self._with(Outcome.SUCCESS)

    @property
    def failed(self) -> tuple[ItemResult[T], ...]:
        return self._with(Outcome.FAILURE)

    @property
    def skipped(self) -> tuple[ItemResult[T], ...]:
        return self._with(Outcome.SKIPPED)

    @property
    def cancelled(self) -> tuple[ItemResult[T], ...]:
        return self._with(Outcome.CANCELLED)

    @property
    def values(self) -> dict[str, T | None]:
        """Key to value of every success (lossy for duplicate keys: the last one wins)."""
        return {result.key: result.value for result in self.succeeded}

    @property
    def counts(self) -> dict[Outcome, int]:
        """Number of items per outcome, with every outcome present so callers need no ``.get``."""
        counts = dict.fromkeys(Outcome, 0)
        for result in self.results:
            counts[result.outcome] += 1
        return counts

    @property
    def retries(self) -> int:
        """Attempts beyond the first, summed over all items: a measure of how flaky the run was."""
        return sum(max(result.attempts - 1, 0) for result in self.results)

    @property
    def items_per_s(self) -> float:
        """Throughput of the items that actually ran; cancelled items took no work and would inflate it."""
        return _rate(len(self.results) - len(self.cancelled), self.wall_s)

    def to_metadata(self) -> dict[str, Any]:
        """Plain JSON values for Dagster materialization metadata, bounded in size for large runs."""
        counts = self.counts
        return {
            "items": len(self.results),
            "succeeded": counts[Outcome.SUCCESS],
            "failed": counts[Outcome.FAILURE],
            "skipped": counts[Outcome.SKIPPED],
            "cancelled": counts[Outcome.CANCELLED],
            "retries": self.retries,
            "wall_s": round(self.wall_s, 3),
            "items_per_s": round(self.items_per_s, 3),
            "failures": {r.key: r.error for r in self.failed[:_METADATA_LIST_LIMIT]},
            "skip_reasons": {r.key: r.reason for r in self.skipped[:_METADATA_LIST_LIMIT]},
        }

    def raise_if_failures(self) -> None:
        """Raise ``WorkerPoolError`` if any item failed; skipped items are expected and do not count.

        A fail-fast stop always has a failed item behind it, so it raises too, and the message says how
        many items were cancelled as a consequence.
        """
        failed = self.failed
        if not failed:
            return
        lines = [f"{len(failed)} of {len(self.results)} items failed ({len(self.cancelled)} cancelled)"]
        lines += [f"  {result.key}: {result.error}" for result in failed[:_ERROR_MESSAGE_LIMIT]]
        if len(failed) > _ERROR_MESSAGE_LIMIT:
            lines.append(f"  ... and {len(failed) - _ERROR_MESSAGE_LIMIT} more")
        raise WorkerPoolError("\n".join(lines), self)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0


def _describe(exc: BaseException) -> str:
    """``"OSError: connection reset"``, or just the type name when the exception has no message."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass
class _Progress:
    """Outcome counts kept by the calling thread, and the throttled progress log line built from them."""

    name: str
    total: int | None
    logger: logging.Logger
    every_s: float
    started: float = field(default_factory=time.monotonic)
    counts: dict[Outcome, int] = field(default_factory=lambda: dict.fromkeys(Outcome, 0))
    last_logged: float = field(init=False)

    def __post_init__(self) -> None:
        self.last_logged = self.started

    def record(self, outcome: Outcome) -> None:
        self.counts[outcome] += 1

    def seconds_until_due(self) -> float:
        return max(self.last_logged + self.every_s - time.monotonic(), 0.0)

    def log_if_due(self) -> None:
        if self.seconds_until_due() == 0:
            self.log()

    def log(self) -> None:
        self.last_logged = now = time.monotonic()
        counts = self.counts
        done = sum(counts.values())
        of_total = f"/{self.total}" if self.total is not None else ""
        cancelled = f", {counts[Outcome.CANCELLED]} cancelled" if counts[Outcome.CANCELLED] else ""
        ran = done - counts[Outcome.CANCELLED]
        self.logger.info(
            "%s: %d%s done (%d ok, %d failed, %d skipped%s) %.1f items/s",
            self.name,
            done,
            of_total,
            counts[Outcome.SUCCESS],
            counts[Outcome.FAILURE],
            counts[Outcome.SKIPPED],
            cancelled,
            _rate(ran, now - self.started),
        )


class WorkerPool:
    """Runs a work function over many items on threads, with retries, skips, cancellation and progress.

    Only about ``2 * max_workers`` items are pulled from the iterable and in flight at any time, so a
    lazy iterable of a million items never becomes a million futures, while workers never wait for the
    calling thread to hand them the next item.

    Cancellation cannot interrupt a running work function; it stops everything that has not started and
    every item waiting in retry backoff. After ``cancel()`` or a fail-fast stop the remaining input is
    still consumed, as cancelled results, so that the report has one result per item; an exception in
    the calling thread (Ctrl-C) cancels the same way but is re-raised once the running items finish.
    Each ``run()`` starts uncancelled: ``cancel()`` acts on the run in progress only, so a call made
    between runs is forgotten. One pool runs one ``run()`` at a time.
    """

    def __init__(
        self,
        max_workers: int = 4,
        retry: RetryPolicy = DEFAULT_ITEM_RETRY,
        fail_fast: bool = False,
        logger: logging.Logger | None = None,
        progress_every_s: float = 10.0,
        name: str = "worker pool",
    ) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        if progress_every_s <= 0:
            raise ValueError(f"progress_every_s must be positive, got {progress_every_s}")
        self._max_workers = max_workers
        self._retry = retry
        self._fail_fast = fail_fast
        self._logger = logger or _default_logger
        self._progress_every_s = progress_every_s
        self._name = name
        self._cancel_lock = threading.Lock()
        self._cancel_event = threading.Event()
        self._cancel_reason = "cancelled"
        self._run_lock = threading.Lock()

    @property
    def cancelled(self) -> bool:
        """Whether the current (or last) run was cancelled, by ``cancel()``, fail-fast or an interrupt."""
        return self._cancel_event.is_set()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the items that have not started; safe from any thread, including inside a work function.

        The first reason wins, so a fail-fast stop is not relabelled by a later, secondary cancel.
        """
        with self._cancel_lock:
            if self._cancel_event.is_set():
                return
            self._cancel_reason = reason
            self._cancel_event.set()
        self._logger.warning("%s: cancelling the remaining items: %s", self._name, reason)

    def run(
        self, items: Iterable[ItemT], work: Callable[[ItemT], T], key: Callable[[ItemT], str] = str
    ) -> PoolReport[T]:
        """Apply ``work`` to every item and report each item's outcome, in input order.

        ``key(item)`` names the item in results, logs and metadata. Failures do not raise here; call
        ``raise_if_failures()`` on the report once it has been recorded. An exception in the calling
        thread (Ctrl-C, an error from the iterable or from ``key``) cancels the rest and is re-raised.
        """
        if not self._run_lock.acquire(blocking=False):
            raise RuntimeError(f"{self._name}: run() is already in progress; use one pool per concurrent run")
        try:
            self._cancel_event.clear()
            total = len(items) if isinstance(items, Sized) else None
            progress = _Progress(self._name, total, self._logger, self._progress_every_s)
            results = self._run_all(iter(items), work, key, progress)
            progress.log()
            return PoolReport(results=tuple(results), wall_s=time.monotonic() - progress.started)
        finally:
            self._run_lock.release()

    def _run_all(
        self,
        items: Iterator[ItemT],
        work: Callable[[ItemT], T],
        key: Callable[[ItemT], str],
        progress: _Progress,
    ) -> list[ItemResult[T]]:
        """Feed items to the executor with a bounded number in flight, collecting results by input index."""
        slots: list[ItemResult[T] | None] = []
        in_flight: dict[Future[ItemResult[T]], int] = {}
        limit = _IN_FLIGHT_PER_WORKER * self._max_workers
        with ThreadPoolExecutor(self._max_workers, thread_name_prefix=self._name) as executor:
            try:
                for item in items:
                    item_key = key(item)
                    slots.append(None)
                    if self._cancel_event.is_set():
                        slots[-1] = self._cancelled_result(item_key)
                        progress.record(Outcome.CANCELLED)
                        progress.log_if_due()
                        continue
                    in_flight[executor.submit(self._process, item_key, item, work)] = len(slots) - 1
                    while len(in_flight) >= limit:
                        self._collect(in_flight, slots, progress)
                while in_flight:
                    self._collect(in_flight, slots, progress)
            except BaseException as exc:
                self.cancel(f"interrupted by {_describe(exc)}")
                raise
        # Every slot is filled by now: in_flight is empty and cancelled items were filled directly.
        return [result for result in slots if result is not None]

    def _collect(
        self,
        in_flight: dict[Future[ItemResult[T]], int],
        slots: list[ItemResult[T] | None],
        progress: _Progress,
    ) -> None:
        """Wait for at least one item (or for the next progress line) and file the finished results."""
        done, _ = wait(in_flight, timeout=progress.seconds_until_due(), return_when=FIRST_COMPLETED)
        for future in done:
            result = future.result()
            slots[in_flight.pop(future)] = result
            progress.record(result.outcome)
        progress.log_if_due()

    def _process(self, key: str, item: ItemT, work: Callable[[ItemT], T]) -> ItemResult[T]:
        """Run one item on a worker thread, retrying as the policy allows; never raises an ``Exception``."""
        if self._cancel_event.is_set():
            return self._cancelled_result(key)
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                value = work(item)
            except SkipItem as exc:
                return ItemResult(key, Outcome.SKIPPED, attempt, time.monotonic() - started, reason=str(exc))
            except Exception as exc:
                error = _describe(exc)
                if not self._should_retry(exc, attempt):
                    return self._failed_result(key, attempt, time.monotonic() - started, error)
                if self._wait_before_retry(key, attempt, error):
                    return self._cancelled_result(key, attempt, time.monotonic() - started, error)
            else:
                return ItemResult(key, Outcome.SUCCESS, attempt, time.monotonic() - started, value=value)

    def _should_retry(self, exc: Exception, attempt: int) -> bool:
        return attempt < self._retry.max_attempts and isinstance(exc, self._retry.retry_on)

    def _wait_before_retry(self, key: str, attempt: int, error: str) -> bool:
        """Back off before the next attempt; True if the pool was cancelled meanwhile.

        Waiting on the cancel event rather than sleeping lets ``cancel()`` end a long backoff at once.
        """
        delay = self._retry.delay(attempt)
        self._logger.info(
            "%s: %s attempt %d/%d failed (%s); retrying in %.2f s",
            self._name,
            key,
            attempt,
            self._retry.max_attempts,
            error,
            delay,
        )
        return self._cancel_event.wait(delay)

    def _failed_result(self, key: str, attempts: int, duration_s: float, error: str) -> ItemResult[T]:
        self._logger.warning("%s: %s failed after %d attempt(s): %s", self._name, key, attempts, error)
        if self._fail_fast:
            self.cancel(f"fail-fast after failure of {key}")
        return ItemResult(key, Outcome.FAILURE, attempts, duration_s, error=error)

    def _cancelled_result(
        self, key: str, attempts: int = 0, duration_s: float = 0.0, error: str | None = None
    ) -> ItemResult[T]:
        return ItemResult(
            key, Outcome.CANCELLED, attempts, duration_s, error=error, reason=self._cancel_reason
        )
