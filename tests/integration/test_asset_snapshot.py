"""Each code location's asset graph equals its committed snapshot (tests/snapshots/*.txt).

A change to keys, groups, partitions, kinds, owners, node pools or checks must change the snapshot in the
same commit, so it shows in review. ``UPDATE_SNAPSHOTS=1`` rewrites the files instead of comparing.
"""

import importlib
import os
from pathlib import Path

import pytest

from tests.support.asset_snapshot import asset_snapshot

SNAPSHOTS = Path(__file__).resolve().parents[1] / "snapshots"


@pytest.mark.parametrize("location", ["landing_zone", "discharge_model"])
def test_asset_graph_matches_its_snapshot(location: str):
    defs = importlib.import_module(f"{location}.definitions").defs
    listing = asset_snapshot(defs)
    path = SNAPSHOTS / f"{location}.txt"
    if os.environ.get("UPDATE_SNAPSHOTS"):
        path.write_text(listing)
    assert path.read_text() == listing, (
        f"{location}'s asset graph changed: run with UPDATE_SNAPSHOTS=1 and review"
    )
