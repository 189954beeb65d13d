"""Import cost of each code location in a fresh interpreter (acceptance: under 3 s and 300 MB).

Run with ``python -m benchmarks.imports``. The peer is a bare ``import dagster``: the floor any code
location pays.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.imports"
HEAVY = ("torch", "neuralhydrology", "rasterio")


def child(module: str) -> None:
    import sys

    result: dict[str, Any] = {}
    with timed(result):
        importlib.import_module(module)
    result["heavy_modules_loaded"] = [name for name in HEAVY if name in sys.modules]
    child_report(result)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0])
        return
    rounds = 1 if args.quick else args.rounds
    for location in ("landing_zone", "discharge_model"):
        subjects = {"ours": f"{location}.definitions", "dagster": "dagster"}
        compare(
            f"imports.{location}",
            list(subjects),
            lambda subject, subjects=subjects: run_child(MODULE, [subjects[subject]]),
            rounds,
            {"size": "fresh interpreter"},
        )


if __name__ == "__main__":
    main()
