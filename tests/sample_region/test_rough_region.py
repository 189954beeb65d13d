"""The rough sample region (issue 13): what real terrain has, planted where the truth can name it.

Checked twice: the generator planted what its manifest says (lattice rivers, short tributaries, an outlet
flat on the grid edge), and the catchments chain, run by Dagster with the rough region as a second region
of the regions file, passes every blocking check and gives every reach a catchment on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyflwdir
import pytest
import rasterio

from platform_dev.sample_region.build import build_region
from platform_dev.sample_region.spec import RegionSpec
from shared.assets.landing_zone import CONDITIONING, REACH_CATCHMENTS, REACHES
from shared.storage.layout import PARQUET, AssetLocation
from tests.conftest import SAMPLE_SEED

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rough")
    build_region(RegionSpec.for_size("rough", SAMPLE_SEED), out)
    return out


@pytest.fixture(scope="module")
def truth(rough: Path) -> dict[str, Any]:
    return json.loads((rough / "truth" / "manifest.json").read_text())


def rivers(region: Path) -> dict[str, dict[str, Any]]:
    collection = json.loads((region / "hydrography" / "rivers.geojson").read_text())
    return {feature["properties"]["river_id"]: feature for feature in collection["features"]}


def lattice_positions(region: Path, coordinates: list[list[float]]) -> np.ndarray:
    """(col, row) of each vertex in DTM cells, measured from the grid's corner to the vertex."""
    with rasterio.open(region / "truth" / "dtm.tif") as dataset:
        west, north, cell = dataset.transform.c, dataset.transform.f, dataset.transform.a
    points = np.asarray(coordinates)
    return np.column_stack([(points[:, 0] - west) / cell, (north - points[:, 1]) / cell])


def test_rivers_sit_on_the_cell_lattice(rough):
    for river_id, feature in rivers(rough).items():
        positions = lattice_positions(rough, feature["geometry"]["coordinates"])
        assert np.allclose(positions - 0.5, np.round(positions - 0.5), atol=1e-6), river_id
        steps = np.abs(np.diff(np.round(positions - 0.5), axis=0))
        assert (steps.max(axis=1) == 1).all(), f"{river_id}: a step is not to a neighbouring cell"


def test_short_tributaries_join_their_river(rough, truth):
    network = rivers(rough)
    stubs = truth["short_tributaries"]
    assert min(stub["cells"] for stub in stubs) == 1 and all(stub["cells"] <= 2 for stub in stubs)
    for stub in stubs:
        line = network[stub["river_id"]]["geometry"]["coordinates"]
        assert len(line) == stub["cells"] + 1
        assert line[-1] == stub["confluence"]
        assert stub["confluence"] in network[stub["receiving"]]["geometry"]["coordinates"]


def test_the_outlet_flat_touches_the_edge_and_drains_the_largest_basin(rough, truth):
    with rasterio.open(rough / "truth" / "dtm.tif") as dataset:
        dtm = dataset.read(1)
    flat = truth["outlet_flat"]
    rows, cols = np.asarray(flat["cells"]).T
    assert (dtm[rows, cols] == np.float32(flat["level_m"])).all()
    assert (cols == dtm.shape[1] - 1).sum() == flat["edge_cells"] > 1
    filled = pyflwdir.dem.fill_depressions(dtm)[0]
    assert (filled[rows, cols] == dtm[rows, cols]).all(), "the lake is a flat open to the edge, not a pit"
    trunk = next(f for f in rivers(rough).values() if f["properties"]["receiving"] is None)
    mouth_col, mouth_row = np.floor(lattice_positions(rough, trunk["geometry"]["coordinates"][-1:])[0])
    assert mouth_col == dtm.shape[1] - 1 and [mouth_row, mouth_col] in flat["cells"]


def run_chain(region: Path, truth: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Every catchments asset and check on the rough region, a second region of the regions file, in a
    fresh interpreter (regions are fixed while a code location is loaded)."""
    entry = truth["region"]
    regions = workdir / "regions.yaml"
    regions.write_text(
        "regions:\n"
        "  - {name: pilica}\n"
        f"  - name: {entry['name']}\n"
        f"    crs: {entry['crs']}\n"
        f"    bounds: {entry['bounds']}\n"
        f"    analysis_resolution_m: {entry['cell_size_m']}\n"
        f"    sources: {{rivers: '{(region / 'hydrography' / 'rivers.geojson').as_uri()}'}}\n",
        encoding="utf-8",
    )
    dtm = region / "truth" / "dtm.tif"
    command = [
        sys.executable,
        "-m",
        "tests.catchments.real_terrain_region",
        str(workdir),
        entry["name"],
        str(dtm),
    ]
    environment = os.environ | {"PLATFORM_REGIONS_FILE": str(regions), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_catchments_chain_holds_on_the_rough_region(rough, truth, tmp_path):
    outcome = run_chain(rough, truth, tmp_path)
    assert outcome["failed_steps"] == []
    blocking = [check for check in outcome["checks"] if check["blocking"]]
    assert {check["partition"].split("|")[0] for check in blocking} == set(CONDITIONING.get_partition_keys())
    assert [check for check in blocking if not check["passed"]] == []
    storage, stubs = Path(outcome["storage"]), {stub["river_id"] for stub in truth["short_tributaries"]}
    for strategy in CONDITIONING.get_partition_keys():
        partition = {"conditioning": strategy, "region": truth["region"]["name"]}
        reaches = pl.read_parquet(storage / AssetLocation(REACHES.path, partition).key(PARQUET))
        catchments = pl.read_parquet(storage / AssetLocation(REACH_CATCHMENTS.path, partition).key(PARQUET))
        with_cells = set(catchments.filter(pl.col("cells") > 0)["reach_id"])
        assert set(reaches["reach_id"]) == with_cells, strategy
        merged = " ".join(reaches["merged_reaches"].drop_nulls())
        for stub in stubs:
            kept = stub in set(reaches["river_id"]) or f"{stub}-" in merged
            assert kept, f"{strategy}: short tributary {stub} is neither a reach nor merged into one"
