"""When and how long to wait before trying something again: one policy for the worker pool and every
source adapter (HTTP, S3, WFS, STAC, listings), so they all back off the same way."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before trying an item again.

    The delay grows geometrically so that a struggling server gets room to recover, is capped so that a
    long run of failures does not stall an item for minutes, and is jittered so that workers that failed
    together do not retry in lock-step. Only exceptions in ``retry_on`` are retried: anything else is a
    bug or a permanent condition, and retrying it would only delay the failure.
    """

    max_attempts: int = 3
    backoff_s: float = 0.5
    backoff_factor: float = 2.0
    max_backoff_s: float = 30.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(
                f"max_attempts must be at least 1 (the first try counts), got {self.max_attempts}"
            )
        if self.backoff_s < 0:
            raise ValueError(f"backoff_s must not be negative, got {self.backoff_s}")
        if self.backoff_factor < 1:
            raise ValueError(
                f"backoff_factor must be at least 1 so delays never shrink, got {self.backoff_factor}"
            )
        if self.max_backoff_s < 0:
            raise ValueError(f"max_backoff_s must not be negative, got {self.max_backoff_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(
                f"jitter is a fraction of the delay and must be between 0 and 1, got {self.jitter}"
            )
        for exc_type in self.retry_on:
            if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
                raise ValueError(
                    f"retry_on entries must be Exception subclasses, got {exc_type!r}: other BaseExceptions "
                    "(KeyboardInterrupt, SystemExit) always stop the pool and are never retried"
                )

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next one.

        ``max_backoff_s`` bounds the jittered value too, so it is a hard upper limit on any single wait.
        """
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        try:
            base = self.backoff_s * self.backoff_factor ** (attempt - 1)
        except OverflowError:
            base = self.max_backoff_s
        jittered = min(base, self.max_backoff_s) * (1 + random.uniform(-self.jitter, self.jitter))
        return min(jittered, self.max_backoff_s)
