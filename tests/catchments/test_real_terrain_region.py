"""The real DEM as a second region, through the same assets as the sample region (issue 13).

SRTM 90 m around Mont Ventoux (``tests.support.real_dem``), with rivers derived from the DEM so they sit
on the cell lattice, is added to a regions file beside the sample region and run through every catchments
asset and check by Dagster, at its own 90 m cell size and on a 30 m analysis grid. What a hydrologist would
compare it with is plain pyflwdir on the same analysis DEM: its basins at our pour points and its
Strahler orders on the same river cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl
import pytest

from landing_zone.defs.catchments.keys import catchment_key
from shared.assets.landing_zone import PROGRESSIVE_CATCHMENTS, REACHES
from shared.storage.layout import COG, PARQUET, SINGLE_DIMENSION, AssetLocation
from tests.support.real_dem import UTM_CRS, real_dem, window_of, write_rivers

REPO = Path(__file__).resolve().parents[2]
WINDOW = (680000.0, 4900000.0, 710000.0, 4930000.0)
RIVER_AREA_KM2 = 5.0
"""Cells draining at least this much are river cells: about 600 cells at 90 m, so rivers of a few km."""


def run_region(tmp_path: Path, resolution_m: float) -> tuple[dict[str, Any], Path]:
    # on the analysis grid itself (snapped to multiples of its cell), so the rivers derived from it sit on
    # the very lattice delineation runs on, as rivers digitised from that DEM would
    west, south, east, north = (round(bound / resolution_m) * resolution_m for bound in WINDOW)
    dtm = window_of(real_dem("utm"), tmp_path / "dtm.tif", (west, south, east, north), resolution_m)
    rivers = write_rivers(dtm, tmp_path / "rivers.geojson", RIVER_AREA_KM2)
    regions = tmp_path / "regions.yaml"
    regions.write_text(
        "regions:\n"
        "  - {name: pilica}\n"
        "  - name: ventoux\n"
        f"    crs: {UTM_CRS}\n"
        f"    analysis_resolution_m: {resolution_m}\n"
        f"    sources: {{rivers: '{rivers.as_uri()}'}}\n",
        encoding="utf-8",
    )
    environment = os.environ | {"PLATFORM_REGIONS_FILE": str(regions), "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "tests.catchments.real_terrain_region", str(tmp_path), "ventoux", str(dtm)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome, Path(outcome["storage"])


def published(storage: Path, asset: dg.AssetKey, partition: Mapping[str, str], extension: str) -> Path:
    return storage / AssetLocation(asset.path, partition).key(extension)


def pyflwdir_reference(analysis_dem: Path, pours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Plain pyflwdir on the analysis DEM (priority flood, edges as outlets): upstream area at each pour
    point, and Strahler order there on the river cells (upstream area >= RIVER_AREA_KM2)."""
    import pyflwdir
    import rasterio

    with rasterio.open(analysis_dem) as dataset:
        flw = pyflwdir.from_dem(
            dataset.read(1), nodata=dataset.nodata, transform=dataset.transform, latlon=False, outlets="edge"
        )
        rows, cols = rasterio.transform.rowcol(dataset.transform, pours[:, 0], pours[:, 1])
    area = flw.upstream_area(unit="km2")
    order = flw.stream_order(type="strahler", mask=area >= RIVER_AREA_KM2)
    return area[rows, cols], order[rows, cols]


@pytest.mark.parametrize("resolution_m", [90.0, 30.0])
def test_the_real_dem_runs_through_every_catchment_asset_as_a_second_region(tmp_path, resolution_m):
    outcome, storage = run_region(tmp_path, resolution_m)
    assert outcome["failed_steps"] == []
    blocking = [check for check in outcome["checks"] if check["blocking"]]
    assert blocking, "the chain ran no blocking check"
    assert [check for check in blocking if not check["passed"]] == []

    fill = {"conditioning": "fill", "region": "ventoux"}
    progressive = pl.read_parquet(published(storage, PROGRESSIVE_CATCHMENTS, fill, PARQUET))
    reaches = pl.read_parquet(published(storage, REACHES, fill, PARQUET))
    joined = reaches.join(progressive.select("reach_id", "progressive_area_km2"), on="reach_id")
    analysis_dem = published(storage, catchment_key("analysis_dem"), {SINGLE_DIMENSION: "ventoux"}, COG)
    area, order = pyflwdir_reference(analysis_dem, joined.select("pour_x", "pour_y").to_numpy())
    relative = np.abs(joined["progressive_area_km2"].to_numpy() / area - 1.0)
    within = float((relative <= 0.02).mean())
    print(f"{resolution_m} m: {joined.height} reaches, {within:.1%} within 2 % of pyflwdir")
    assert within >= 0.99
    assert (joined["strahler_order"].to_numpy() == order).all()
