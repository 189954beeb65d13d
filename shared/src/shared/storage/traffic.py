"""Bytes this process moved through the storage API, so cost attribution can charge them to a step.

Counted where the bytes really cross the storage boundary (a download, an upload, a stored file handed
to a reader), in both flavours, so assets that use the storage directly are covered as well as the IO
managers; the landing zone's source downloads count as reads too (``landing_zone.sources.fetch``).
Process-wide and thread-safe: ``stage_files`` downloads on a thread pool. Callers take :func:`totals`
before and after a step and subtract.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Traffic:
    """Cumulative bytes read from and written to storage by this process."""

    read: int = 0
    written: int = 0

    def __sub__(self, earlier: Traffic) -> Traffic:
        return Traffic(self.read - earlier.read, self.written - earlier.written)


_lock = threading.Lock()
_read = 0
_written = 0


def count_read(size: int) -> None:
    """Record ``size`` bytes read from storage (or handed to a reader that opens the stored file)."""
    global _read
    with _lock:
        _read += size


def count_written(size: int) -> None:
    """Record ``size`` bytes stored."""
    global _written
    with _lock:
        _written += size


def totals() -> Traffic:
    """Everything counted since the process started."""
    with _lock:
        return Traffic(_read, _written)
