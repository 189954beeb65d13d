"""Tests of shared.workers: real threads and real waits, with backoffs kept small so the file runs fast."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import pytest

from shared.workers import (
    ItemResult,
    Outcome,
    PoolReport,
    RetryPolicy,
    SkipItem,
    WorkerPool,
    WorkerPoolError,
)

FAST_RETRY = RetryPolicy(max_attempts=3, backoff_s=0.01, jitter=0.0)
WAIT_S = 5.0  # upper bound for every wait on an event, so that a broken pool fails instead of hanging


class Counter:
    """A thread-safe count of calls per key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}

    def hit(self, key: str) -> int:
        with self._lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            return self.calls[key]

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())


def run_in_thread(target) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_all_succeed_and_results_keep_input_order():
    def work(n: int) -> int:
        time.sleep(0.001 * (n % 3))  # finish out of order
        return n * n

    report = WorkerPool(max_workers=4, retry=FAST_RETRY).run(range(40), work)

    assert [r.key for r in report.results] == [str(n) for n in range(40)]
    assert [r.value for r in report.results] == [n * n for n in range(40)]
    assert all(r.outcome is Outcome.SUCCESS and r.attempts == 1 for r in report.results)
    assert report.values == {str(n): n * n for n in range(40)}
    assert report.counts == {
        Outcome.SUCCESS: 40,
        Outcome.FAILURE: 0,
        Outcome.SKIPPED: 0,
        Outcome.CANCELLED: 0,
    }
    assert report.retries == 0
    report.raise_if_failures()


def test_skip_item_is_skipped_with_reason_and_never_retried():
    counter = Counter()

    def work(name: str) -> str:
        counter.hit(name)
        if name == "T12":
            raise SkipItem("tile T12: zero-byte file")
        return name.lower()

    report = WorkerPool(max_workers=2, retry=FAST_RETRY).run(["T11", "T12", "T13"], work)

    skipped = report.skipped
    assert [r.key for r in skipped] == ["T12"]
    assert skipped[0].reason == "tile T12: zero-byte file"
    assert skipped[0].attempts == 1
    assert skipped[0].error is None
    assert counter.calls["T12"] == 1
    assert report.retries == 0
    assert report.values == {"T11": "t11", "T13": "t13"}
    report.raise_if_failures()  # skips are not failures


def test_transient_failure_succeeds_on_second_attempt():
    counter = Counter()

    def work(n: int) -> int:
        if counter.hit(str(n)) == 1:
            raise OSError("connection reset")
        return n

    report = WorkerPool(max_workers=3, retry=FAST_RETRY).run(range(5), work)

    assert all(r.outcome is Outcome.SUCCESS and r.attempts == 2 for r in report.results)
    assert report.retries == 5
    assert report.values == {str(n): n for n in range(5)}


def test_retries_exhausted_fail_with_error_text_and_raise():
    def work(name: str) -> None:
        if name == "bad":
            raise OSError("connection reset")

    report = WorkerPool(max_workers=2, retry=FAST_RETRY).run(["good", "bad"], work)

    (failed,) = report.failed
    assert failed.key == "bad"
    assert failed.attempts == FAST_RETRY.max_attempts
    assert failed.error == "OSError: connection reset"
    assert report.retries == FAST_RETRY.max_attempts - 1
    with pytest.raises(WorkerPoolError, match=r"1 of 2 items failed") as raised:
        report.raise_if_failures()
    assert "bad: OSError: connection reset" in str(raised.value)
    assert raised.value.report is report


def test_error_message_lists_at_most_ten_failures():
    def work(n: int) -> None:
        raise ValueError(f"bad {n}")

    report = WorkerPool(max_workers=4, retry=RetryPolicy(max_attempts=1)).run(range(13), work)

    with pytest.raises(WorkerPoolError) as raised:
        report.raise_if_failures()
    message = str(raised.value)
    assert "13 of 13 items failed" in message
    assert "9: ValueError: bad 9" in message
    assert "10: ValueError" not in message
    assert "and 3 more" in message


def test_exception_not_in_retry_on_fails_after_one_attempt():
    counter = Counter()

    def work(name: str) -> None:
        counter.hit(name)
        raise ValueError("malformed header")

    policy = RetryPolicy(max_attempts=5, backoff_s=0.01, retry_on=(OSError,))
    report = WorkerPool(retry=policy).run(["x"], work)

    (failed,) = report.failed
    assert failed.attempts == 1
    assert failed.error == "ValueError: malformed header"
    assert counter.calls == {"x": 1}


def test_fail_fast_cancels_items_not_yet_started():
    counter = Counter()

    def work(n: int) -> int:
        counter.hit(str(n))
        if n == 3:
            raise RuntimeError("corrupt tile")
        time.sleep(0.005)
        return n

    pool = WorkerPool(max_workers=2, retry=RetryPolicy(max_attempts=1), fail_fast=True)
    report = pool.run(range(100), work)

    assert pool.cancelled
    assert len(report.results) == 100
    assert [r.key for r in report.failed] == ["3"]
    assert len(report.cancelled) > 0
    assert all(r.reason == "fail-fast after failure of 3" for r in report.cancelled)
    assert all(r.attempts == 0 for r in report.cancelled)
    assert counter.total < 100
    assert counter.total == len(report.succeeded) + len(report.failed)
    with pytest.raises(WorkerPoolError, match="cancelled"):
        report.raise_if_failures()


def test_cancel_from_inside_a_work_function():
    pool = WorkerPool(max_workers=1, retry=FAST_RETRY)

    def work(n: int) -> int:
        if n == 3:
            pool.cancel("enough tiles")
        return n

    report = pool.run(range(10), work)

    assert [r.outcome for r in report.results] == [Outcome.SUCCESS] * 4 + [Outcome.CANCELLED] * 6
    assert report.results[3].value == 3  # the item that cancelled still finishes
    assert all(r.reason == "enough tiles" for r in report.cancelled)
    assert pool.cancelled


def test_cancel_from_another_thread_lets_running_items_finish():
    started = threading.Semaphore(0)
    release = threading.Event()

    def work(n: int) -> int:
        started.release()
        release.wait(WAIT_S)
        return n

    pool = WorkerPool(max_workers=2, retry=FAST_RETRY)

    def canceller() -> None:
        for _ in range(2):
            started.acquire(timeout=WAIT_S)
        pool.cancel("operator stop")
        release.set()

    thread = run_in_thread(canceller)
    report = pool.run(range(20), work)
    thread.join(WAIT_S)

    assert [r.key for r in report.succeeded] == ["0", "1"]
    assert report.values == {"0": 0, "1": 1}
    assert len(report.cancelled) == 18
    assert all(r.reason == "operator stop" for r in report.cancelled)
    report.raise_if_failures()  # a plain cancel is not a failure


def test_cancel_interrupts_backoff_wait():
    failed_once = threading.Event()

    def work(_: str) -> None:
        failed_once.set()
        raise OSError("throttled")

    policy = RetryPolicy(max_attempts=3, backoff_s=5.0, jitter=0.0)
    pool = WorkerPool(max_workers=1, retry=policy)

    def canceller() -> None:
        failed_once.wait(WAIT_S)
        time.sleep(0.05)  # let the worker enter its backoff wait
        pool.cancel("shutdown")

    thread = run_in_thread(canceller)
    started = time.monotonic()
    report = pool.run(["tile"], work)
    elapsed = time.monotonic() - started
    thread.join(WAIT_S)

    assert elapsed < 1.0  # the backoff would have been 5 s
    (result,) = report.results
    assert result.outcome is Outcome.CANCELLED
    assert result.attempts == 1
    assert result.reason == "shutdown"
    assert result.error == "OSError: throttled"


def test_interrupt_in_calling_thread_cancels_and_reraises():
    def items() -> Iterator[int]:
        yield from range(3)
        raise KeyboardInterrupt

    def work(n: int) -> int:
        if n == 0:
            raise OSError("flaky")  # would back off for 5 s per attempt if not cancelled
        return n

    pool = WorkerPool(max_workers=2, retry=RetryPolicy(max_attempts=3, backoff_s=5.0, jitter=0.0))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        pool.run(items(), work)

    assert time.monotonic() - started < 1.0
    assert pool.cancelled


def test_bounded_number_of_items_in_flight():
    max_workers = 3
    started = threading.Semaphore(0)
    release = threading.Event()
    pulled = 0
    pulled_while_blocked: list[int] = []

    def items() -> Iterator[int]:
        nonlocal pulled
        for n in range(200):
            pulled += 1
            yield n

    def work(n: int) -> int:
        started.release()
        release.wait(WAIT_S)
        return n

    def observer() -> None:
        for _ in range(max_workers):
            started.acquire(timeout=WAIT_S)
        time.sleep(0.1)  # give the calling thread every chance to over-pull
        pulled_while_blocked.append(pulled)
        release.set()

    thread = run_in_thread(observer)
    report = WorkerPool(max_workers=max_workers, retry=FAST_RETRY).run(items(), work)
    thread.join(WAIT_S)

    assert max_workers <= pulled_while_blocked[0] <= 2 * max_workers + 1
    assert [r.value for r in report.results] == list(range(200))


def test_to_metadata_is_json_serialisable_and_bounded():
    def work(n: int) -> int:
        if n % 3 == 1:
            raise SkipItem(f"tile {n}: empty")
        if n % 3 == 2:
            raise ValueError(f"tile {n}: bad")
        return n

    report = WorkerPool(max_workers=4, retry=RetryPolicy(max_attempts=1)).run(range(90), work)
    metadata = report.to_metadata()

    json.dumps(metadata)
    assert metadata["items"] == 90
    assert (metadata["succeeded"], metadata["failed"], metadata["skipped"], metadata["cancelled"]) == (
        30,
        30,
        30,
        0,
    )
    assert metadata["retries"] == 0
    assert metadata["wall_s"] >= 0
    assert metadata["items_per_s"] >= 0
    assert len(metadata["failures"]) == 20
    assert metadata["failures"]["2"] == "ValueError: tile 2: bad"
    assert len(metadata["skip_reasons"]) == 20
    assert metadata["skip_reasons"]["1"] == "tile 1: empty"


def test_progress_retry_and_failure_are_logged(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("test.worker_pool")
    caplog.set_level(logging.INFO, logger=logger.name)
    counter = Counter()

    def work(n: int) -> int:
        if n == 7:
            raise SkipItem("empty")
        if n == 9:
            raise OSError("gone")
        if n == 4 and counter.hit("4") == 1:
            raise TimeoutError("slow")
        time.sleep(0.005)
        return n

    pool = WorkerPool(max_workers=2, retry=FAST_RETRY, logger=logger, progress_every_s=0.01, name="tiles")
    pool.run(list(range(20)), work)

    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    progress = [message for level, message in messages if level == logging.INFO and " done (" in message]
    assert len(progress) >= 2
    assert progress[-1].startswith("tiles: 20/20 done (18 ok, 1 failed, 1 skipped) ")
    assert progress[-1].endswith(" items/s")
    assert any(
        level == logging.INFO and "4 attempt 1/3 failed (TimeoutError: slow); retrying in" in message
        for level, message in messages
    )
    assert any(
        level == logging.WARNING and "9 failed after 3 attempt(s): OSError: gone" in message
        for level, message in messages
    )


def test_progress_without_known_total(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("test.worker_pool.lazy")
    caplog.set_level(logging.INFO, logger=logger.name)

    WorkerPool(logger=logger, name="lazy").run((n for n in range(5)), lambda n: n)

    assert caplog.records[-1].getMessage().startswith("lazy: 5 done (5 ok, 0 failed, 0 skipped) ")


def test_duplicate_keys_keep_every_result_but_values_are_lossy():
    report = WorkerPool(retry=FAST_RETRY).run([1, 2, 3], lambda n: n, key=lambda _: "same")

    assert [r.value for r in report.results] == [1, 2, 3]
    assert report.values == {"same": 3}


def test_each_run_starts_uncancelled():
    pool = WorkerPool(max_workers=1, retry=FAST_RETRY)
    pool.cancel("before")

    report = pool.run(range(3), lambda n: n)

    assert not pool.cancelled
    assert len(report.succeeded) == 3


def test_concurrent_run_on_the_same_pool_is_rejected():
    release = threading.Event()
    started = threading.Event()
    pool = WorkerPool(max_workers=1, retry=FAST_RETRY)

    def work(n: int) -> int:
        started.set()
        release.wait(WAIT_S)
        return n

    thread = run_in_thread(lambda: pool.run([1], work))
    started.wait(WAIT_S)
    try:
        with pytest.raises(RuntimeError, match="already in progress"):
            pool.run([2], work)
    finally:
        release.set()
        thread.join(WAIT_S)


def test_report_properties_on_hand_built_results():
    results = (
        ItemResult("a", Outcome.SUCCESS, 3, 0.1, value=1),
        ItemResult("b", Outcome.CANCELLED, 0, 0.0, reason="stop"),
    )
    report: PoolReport[int] = PoolReport(results=results, wall_s=0.0)

    assert report.retries == 2
    assert report.items_per_s == 0.0
    assert report.to_metadata()["cancelled"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, "max_attempts"),
        ({"backoff_s": -0.1}, "backoff_s"),
        ({"backoff_factor": 0.5}, "backoff_factor"),
        ({"max_backoff_s": -1.0}, "max_backoff_s"),
        ({"jitter": 1.5}, "jitter"),
        ({"jitter": -0.1}, "jitter"),
        ({"retry_on": (KeyboardInterrupt,)}, "retry_on"),
        ({"retry_on": ("OSError",)}, "retry_on"),
    ],
)
def test_retry_policy_rejects_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"), [({"max_workers": 0}, "max_workers"), ({"progress_every_s": 0}, "progress")]
)
def test_worker_pool_rejects_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WorkerPool(**kwargs)


def test_delay_grows_geometrically_and_is_capped():
    policy = RetryPolicy(backoff_s=0.5, backoff_factor=2.0, max_backoff_s=3.0, jitter=0.0)

    assert [policy.delay(attempt) for attempt in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert policy.delay(100_000) == 3.0  # no overflow for absurd attempt numbers
    with pytest.raises(ValueError, match="attempt"):
        policy.delay(0)


def test_delay_jitter_stays_within_fraction_and_cap():
    policy = RetryPolicy(backoff_s=1.0, backoff_factor=2.0, max_backoff_s=4.0, jitter=0.1)

    first = [policy.delay(1) for _ in range(200)]
    capped = [policy.delay(5) for _ in range(200)]

    assert all(0.9 <= d <= 1.1 for d in first)
    assert len(set(first)) > 1
    assert all(3.6 <= d <= 4.0 for d in capped)
