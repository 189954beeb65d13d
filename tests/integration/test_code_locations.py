"""The two code locations: they validate, import light, and run their demo assets end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
from dagster import AssetKey, AssetsDefinition, DagsterInstance, materialize

from shared.assets.discharge_model import MODEL_CELL_ATTRIBUTES, MODEL_GRID_ELEVATION
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource

REPO = Path(__file__).resolve().parents[2]
HEAVY_MODULES = ("torch", "neuralhydrology", "rasterio", "osgeo")

IMPORT_PROBE = """
import json, sys, time
started = time.perf_counter()
module = __import__(sys.argv[1], fromlist=["defs"])
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": seconds,
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent (here: pytest)
    "rss_mb": int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) / 1024,
    "heavy": [name for name in sys.argv[2:] if name in sys.modules],
    "assets": len(list(module.defs.resolve_all_asset_specs())),
}))
"""


def probe_import(module: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_PROBE, module, *HEAVY_MODULES],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_landing_zone_imports_without_heavy_modules():
    probe = probe_import("landing_zone.definitions")
    assert probe["heavy"] == []
    assert probe["rss_mb"] < 300
    assert probe["assets"] == 2


def test_discharge_model_imports_without_heavy_modules():
    probe = probe_import("discharge_model.definitions")
    assert probe["heavy"] == []
    assert probe["rss_mb"] < 300
    assert probe["assets"] == 3  # two own assets and the landing-zone terrain it reads


def test_workspace_definitions_validate(tmp_path):
    environment = os.environ | {"DAGSTER_HOME": str(tmp_path), "PLATFORM_STORAGE_URL": str(tmp_path / "data")}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", "workspace.yaml"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=environment,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_demo_assets_of_both_locations_materialise(any_storage):
    """Landing zone writes the terrain; the discharge model reads it by registry key across locations."""
    from discharge_model.definitions import defs as discharge_defs
    from landing_zone.definitions import defs as landing_defs

    resources = platform_resources(any_storage)
    instance = DagsterInstance.ephemeral()
    small = {"ops": {"elevation__demo__terrain": {"config": {"width": 600, "height": 500}}}}
    landing = materialize(list(landing_defs.assets), resources=resources, instance=instance, run_config=small)
    assert landing.success
    discharge = materialize(
        list(discharge_defs.assets),
        resources=resources,
        instance=instance,
        selection=[MODEL_GRID_ELEVATION, MODEL_CELL_ATTRIBUTES],
    )
    assert discharge.success
    storage = any_storage.get_storage()
    tiles = pl.read_parquet(
        storage.polars_path("elevation/demo/terrain_tile_statistics/part.parquet"),
        storage_options=storage.polars_options(),
    )
    assert tiles.height == 2  # 1.2 x 1.0 km at 2 m: two 1 km tile columns, one row
    assert tiles["valid_cells"].sum() == 600 * 500
    cells = pl.read_parquet(
        storage.polars_path("discharge_model/model_cell_attributes/part.parquet"),
        storage_options=storage.polars_options(),
    )
    assert cells.height == 12 * 10  # 100 m model grid
    assert cells["elevation_m"].is_between(tiles["min_m"].min(), tiles["max_m"].max()).all()
    assert (cells["slope_deg"] >= 0).all()


def test_storage_resource_is_shared_by_all_io_managers(tmp_path):
    resources = platform_resources(StorageResource(url=str(tmp_path)))
    assert resources["io_manager"].storage is resources["storage"]
    assert resources["raster_io_manager"].storage is resources["storage"]


def test_every_asset_is_sized_described_and_registered():
    """Every asset carries a K8s size tag, a description and a key from the shared registry."""
    from discharge_model.definitions import defs as discharge_defs
    from landing_zone.definitions import defs as landing_defs
    from shared.assets import discharge_model as discharge_keys
    from shared.assets import landing_zone as landing_keys
    from shared.k8s import SIZE_TAG, pool_of

    registry = {
        value
        for module in (landing_keys, discharge_keys)
        for value in vars(module).values()
        if isinstance(value, AssetKey)
    }
    for defs in (landing_defs, discharge_defs):
        for assets_def in defs.assets:
            if not isinstance(assets_def, AssetsDefinition):
                continue  # an AssetSpec of the other location, sized there
            tags = assets_def.op.tags
            assert SIZE_TAG in tags, f"{assets_def.key.to_user_string()} has no size tag"
            assert pool_of(tags).name == tags[SIZE_TAG]
            for key in assets_def.keys:
                assert key in registry, f"{key.to_user_string()} is not in shared/assets"
                assert assets_def.specs_by_key[key].description
