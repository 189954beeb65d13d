"""Import cost of each code location in a fresh interpreter, against a bare ``import dagster``.

Run with ``python -m benchmarks.imports``. The peer is a bare ``import dagster``: the floor any code
location pays. Acceptance (issue 12): a location costs at most ``TARGET_EXTRA_S`` more than its peer.

Measured the way the images run: with compiled bytecode (the Dockerfile sets ``UV_COMPILE_BYTECODE=1``).
A development venv installed by uv has no ``.pyc`` files and, with ``PYTHONDONTWRITEBYTECODE`` set,
recompiles every module on every start, which roughly doubles both numbers and measures the compiler
rather than the imports. The children therefore share a bytecode cache in a temporary
``PYTHONPYCACHEPREFIX``, filled by one unmeasured warm-up import per subject.
"""

from __future__ import annotations

import argparse
import importlib
import os
import tempfile
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.imports"
HEAVY = ("torch", "neuralhydrology", "rasterio", "scipy")
TARGET_EXTRA_S = 0.5


def child(module: str) -> None:
    import sys

    result: dict[str, Any] = {}
    with timed(result):
        importlib.import_module(module)
    result["heavy_modules_loaded"] = [name for name in HEAVY if name in sys.modules]
    child_report(result)


def bytecode_env(cache_dir: str) -> dict[str, str]:
    """The environment of a child that reads and writes bytecode under ``cache_dir``."""
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": cache_dir, "PYTHONWARNINGS": "ignore"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0])
        return
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory(prefix="pycache-") as cache_dir:
        env = bytecode_env(cache_dir)
        for location in ("landing_zone", "discharge_model"):
            subjects = {"ours": f"{location}.definitions", "dagster": "dagster"}
            for module in subjects.values():
                run_child(MODULE, [module], env)  # warm-up: compiles the bytecode
            ours, peer = compare(
                f"imports.{location}",
                list(subjects),
                lambda subject, subjects=subjects: run_child(MODULE, [subjects[subject]], env),
                rounds,
                {"size": "fresh interpreter, compiled bytecode"},
            )
            extra = round(ours["wall_s"] - peer["wall_s"], 3)
            print(
                f'{{"benchmark": "imports.{location}", "extra_over_peer_s": {extra}, '
                f'"target_extra_s": {TARGET_EXTRA_S}, "met": {str(extra <= TARGET_EXTRA_S).lower()}}}',
                flush=True,
            )


if __name__ == "__main__":
    main()
