"""The step meter: CPU seconds, wall time, peak RSS and storage bytes of the step running in this process.

Dagster runs a step either in a process of its own (the multiprocess and Kubernetes executors: one pod
per step) or one after the other in one process (``execute_in_process``, ``materialize``, the demo). The
meter works for both by taking differences from a *baseline* snapshot of the process counters:

* :meth:`StepMeter.restart` when the IO managers are set up for execution (the start of a step's process,
  or of an in-process run);
* :meth:`StepMeter.begin` at a step's first input: the step's work starts there;
* :meth:`StepMeter.measure` when an output is stored: the difference is the output's cost, and the
  baseline moves on, so a step's second output is charged only what came after the first and a
  multi-output step's outputs add up to the step instead of each counting it whole.

A step without inputs is charged from the previous baseline, so in a shared process it also carries
whatever ran between the previous step's last output and its own (Dagster's bookkeeping, an asset-check
step): small next to the steps themselves, and zero where each step has its own process.

CPU is the process's user + system time, threads included (polars, GDAL), plus that of child processes
it waited for. Peak RSS is Linux's ``VmHWM``, reset at each baseline through ``/proc/self/clear_refs``
(so it is the step's own peak even in a shared process); where that is not possible it falls back to
``ru_maxrss``, the process's peak since it started. Bytes come from :mod:`shared.storage.traffic`.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from shared.storage import traffic

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_RESET_PEAK_RSS = "5"
"""What ``clear_refs`` takes to reset the peak RSS (``VmHWM``) to the current RSS (Linux >= 4.0)."""


@dataclass(frozen=True)
class Snapshot:
    """The process counters at one moment."""

    wall_s: float
    cpu_s: float
    traffic: traffic.Traffic


@dataclass(frozen=True)
class StepCost:
    """What one output (or step) consumed between its baseline and the moment it was stored."""

    cpu_s: float
    wall_s: float
    peak_rss_mb: float
    bytes_read: int
    bytes_written: int


def snapshot() -> Snapshot:
    """Wall clock, CPU seconds (self and reaped children) and storage bytes of this process now."""
    children = os.times()
    # process_time has nanosecond resolution; os.times only clock ticks, enough for reaped children
    cpu = time.process_time() + children.children_user + children.children_system
    return Snapshot(time.monotonic(), cpu, traffic.totals())


def peak_rss_mb() -> float:
    """Peak resident memory since the last reset (``VmHWM``), else since the process started."""
    if _STATUS.exists():
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def reset_peak_rss() -> None:
    """Start a new peak-RSS window where the kernel allows it; elsewhere the peak stays process-wide."""
    with contextlib.suppress(OSError):
        _CLEAR_REFS.write_text(_RESET_PEAK_RSS)


class StepMeter:
    """The baseline of this process and the step it belongs to (see the module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._baseline = snapshot()
        self._step: str | None = None

    def restart(self) -> None:
        """A new step process or in-process run: nothing before it belongs to any of its steps."""
        with self._lock:
            self._start(None)

    def begin(self, step: str) -> None:
        """``step`` reads an input: the first time, its work starts now."""
        with self._lock:
            if step != self._step:
                self._start(step)

    def measure(self, step: str | None) -> StepCost:
        """What ``step`` consumed since its baseline; the next output of ``step`` starts from here."""
        with self._lock:
            now = snapshot()
            moved = now.traffic - self._baseline.traffic
            cost = StepCost(
                cpu_s=now.cpu_s - self._baseline.cpu_s,
                wall_s=now.wall_s - self._baseline.wall_s,
                peak_rss_mb=peak_rss_mb(),
                bytes_read=moved.read,
                bytes_written=moved.written,
            )
            self._baseline, self._step = now, step
            reset_peak_rss()
            return cost

    def _start(self, step: str | None) -> None:
        self._baseline, self._step = snapshot(), step
        reset_peak_rss()


STEP_METER = StepMeter()
"""The process's meter: one, because the counters it reads are the process's."""
