"""Real station data for tests: the Delaware River Basin's two years of daily forcing and gauged discharge
that pywatershed 2.0.4 (a locked dev dependency) ships in ``data/drb_2yr``."""

import importlib.util
from pathlib import Path


def drb_folder() -> Path:
    """pywatershed's ``data/drb_2yr``, found without importing pywatershed (its import is slow and heavy).

    A missing package fails the test: it is locked in the dev group, so its absence is a broken
    environment, not a reason to skip the real-data tests."""
    spec = importlib.util.find_spec("pywatershed")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pywatershed (dev dependency) is not installed: run `make env` (uv sync --locked)")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "drb_2yr"
