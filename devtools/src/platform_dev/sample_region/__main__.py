"""Command line: ``python -m platform_dev.sample_region build --out DIR --size SIZE --seed N``.

``SIZE`` is ``small`` (the default), ``bench`` or ``rough`` (see :mod:`platform_dev.sample_region.spec`).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from platform_dev.sample_region.build import build_region
from platform_dev.sample_region.spec import RegionSpec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_dev.sample_region", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="write a sample region's sources and truth into a folder")
    build.add_argument("--out", type=Path, required=True, help="output folder (created)")
    build.add_argument("--size", choices=["small", "bench", "rough"], default="small")
    build.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    build_region(RegionSpec.for_size(args.size, args.seed), args.out)
    seconds = time.perf_counter() - started
    print(f"sample region ({args.size}, seed {args.seed}) written to {args.out} in {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
