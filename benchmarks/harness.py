"""Shared benchmark plumbing: run each subject in its own child process and print JSON lines.

A subject runs in a fresh interpreter so its peak RSS is its own; the child times only the measured
operation (not interpreter start or imports) and reports ``wall_s`` and ``peak_rss_mb``. Subjects are
interleaved over several rounds and the median is reported, so ratios hold on a noisy machine.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def timed(result: dict[str, Any]) -> Iterator[None]:
    """Record the wall time of the block into ``result['wall_s']``."""
    started = time.perf_counter()
    yield
    result["wall_s"] = time.perf_counter() - started


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which starts afresh at exec (ru_maxrss inherits the parent's)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_report(result: dict[str, Any]) -> None:
    """Called in the child: print the result with this process's peak RSS."""
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


def run_child(module: str, args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m module --child args...`` and parse its last output line."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def compare(
    benchmark: str,
    subjects: Sequence[str],
    measure: Callable[[str], dict[str, Any]],
    rounds: int,
    extra: dict[str, Any],
) -> list[dict[str, Any]]:
    """Measure every subject ``rounds`` times, interleaved, and print one JSON line per subject.

    ``subjects[1]`` is the peer; every line carries its wall-time ratio to the peer's.
    """
    runs: dict[str, list[dict[str, Any]]] = {subject: [] for subject in subjects}
    for _ in range(rounds):
        for subject in subjects:
            runs[subject].append(measure(subject))
    lines = []
    for subject, results in runs.items():
        walls = [result["wall_s"] for result in results]
        line = {
            "benchmark": benchmark,
            "subject": subject,
            "wall_s": round(statistics.median(walls), 3),
            "wall_s_runs": [round(wall, 3) for wall in walls],
            "peak_rss_mb": round(max(result["peak_rss_mb"] for result in results), 1),
            **{name: value for name, value in results[-1].items() if name not in ("wall_s", "peak_rss_mb")},
            **extra,
        }
        lines.append(line)
    peer = lines[1]
    for line in lines:
        line["ratio_to_peer"] = round(line["wall_s"] / peer["wall_s"], 3)
        print(json.dumps(line), flush=True)
    return lines
