"""The two code locations: they validate, import light, and run their demo assets end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
from dagster import AssetKey, AssetsDefinition, materialize

from shared.assets.discharge_model import MODEL_CELL_ATTRIBUTES, MODEL_GRID_ELEVATION
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource

REPO = Path(__file__).resolve().parents[2]
# What only a step needs: loading a location (every webserver, daemon and run worker does) must not pay
# for it. DuckDB and urllib3 are on the list since issue 12's import budget (benchmarks/imports.py), and
# for the same budget jinja2 (Dagster renders component attributes with it, see
# landing_zone.component_attributes), numpy.ma and urllib.request (with http.client and email).
HEAVY_MODULES = (
    "torch",
    "neuralhydrology",
    "rasterio",
    "osgeo",
    "scipy",
    "boto3",
    "shapely",
    "duckdb",
    "urllib3",
    "jinja2",
    "numpy.ma",
    "urllib.request",
)

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
    # elevation: 4 stages x DTM, DSM; stations: 4 stages x meteo, hydro; rivers 2, catchments 8;
    # features: meteo/daily_grids, features/catchment_forcings, features/catchment_attributes,
    # climatic_indices/catchment, features/catchment_forecast_forcings, features/catchment_vegetation;
    # forecasts: forecast/grib/raw, forecast/grib/fields; satellite: satellite/scenes, satellite/ndvi
    assert probe["assets"] == 8 + 8 + 2 + 8 + 6 + 2 + 2


def test_discharge_model_imports_without_heavy_modules():
    probe = probe_import("discharge_model.definitions")
    assert probe["heavy"] == []
    assert probe["rss_mb"] < 300
    # model inputs: two own assets and the landing-zone DTM they read; training data: gauge_catchments,
    # training_data and the eight landing-zone assets they read (station list, polished discharge, three
    # catchment layers, forcings, attributes, climatic indices); the LSTM and its evaluation; the
    # discharge forecast, its verification and the landing-zone forecast forcings they read
    assert probe["assets"] == (2 + 1) + (2 + 8) + 2 + (2 + 1)


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


def test_discharge_model_reads_the_consolidated_dtm_by_registry_key(any_storage, tmp_path):
    """A consolidated DTM stored where landing_zone puts it is read by the discharge model's assets."""
    from discharge_model.definitions import defs as discharge_defs

    storage = any_storage.get_storage()
    storage.put_file(write_ramp_cog(tmp_path), "elevation/dtm/consolidated/partition=pilica/part.tif")
    result = materialize(
        list(discharge_defs.assets),
        resources=platform_resources(any_storage),
        partition_key="pilica",
        selection=[MODEL_GRID_ELEVATION, MODEL_CELL_ATTRIBUTES],
    )
    assert result.success
    cells = pl.read_parquet(
        storage.polars_path("discharge_model/model_cell_attributes/partition=pilica/part.parquet"),
        storage_options=storage.polars_options(),
    )
    assert cells.height == 12 * 10  # 1.2 x 1.0 km on the 100 m model grid
    assert cells["elevation_m"].is_between(150.0, 150.0 + 0.01 * 1200).all()
    # the ramp rises 1 m per 100 m eastwards: 0.57 degrees everywhere but at the grid's edges
    assert abs(cells["slope_deg"].median() - 0.573) < 0.01


def write_ramp_cog(directory: Path) -> Path:
    """A 600 x 500 terrain at 2 m rising 1 % eastwards, as a COG."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

    values = np.tile(150.0 + 0.02 * (np.arange(600) + 0.5), (500, 1)).astype(np.float32)
    staging = directory / "ramp.gtiff.tif"
    profile = tiled_gtiff_profile(
        600, 500, "float32", "EPSG:2180", from_origin(560_000, 366_000, 2, 2), -9999.0
    )
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(values, 1)
    return copy_to_cog(staging, directory / "ramp.tif")


def test_storage_resource_is_shared_by_all_io_managers(tmp_path):
    resources = platform_resources(StorageResource(url=str(tmp_path)))
    assert resources["io_manager"].storage is resources["storage"]
    assert resources["raster_io_manager"].storage is resources["storage"]


def test_every_asset_is_sized_described_and_registered():
    """Every asset carries a K8s size tag and a description; ``shared/assets`` holds exactly what crosses
    code locations: every landing-zone key the discharge model reads, the discharge model's own keys, and
    (as the next issues' contract) the polished series and catchment layers, nothing internal."""
    from discharge_model.definitions import defs as discharge_defs
    from landing_zone.definitions import defs as landing_defs
    from shared.assets import discharge_model as discharge_keys
    from shared.assets import landing_zone as landing_keys
    from shared.k8s import SIZE_TAG, pool_of

    for defs in (landing_defs, discharge_defs):
        for assets_def in defs.assets:
            if not isinstance(assets_def, AssetsDefinition):
                continue  # an AssetSpec of the other location, sized there
            tags = assets_def.op.tags
            assert SIZE_TAG in tags, f"{assets_def.key.to_user_string()} has no size tag"
            assert pool_of(tags).name == tags[SIZE_TAG]
            for key in assets_def.keys:
                assert assets_def.specs_by_key[key].description, f"{key.to_user_string()} has no description"

    def registry(module) -> set[AssetKey]:
        return {value for value in vars(module).values() if isinstance(value, AssetKey)}

    landing_produced = {key for a in landing_defs.assets if isinstance(a, AssetsDefinition) for key in a.keys}
    model_produced = {key for a in discharge_defs.assets if isinstance(a, AssetsDefinition) for key in a.keys}
    model_reads = {
        key
        for a in discharge_defs.assets
        for key in (a.dependency_keys if isinstance(a, AssetsDefinition) else {a.key})
    } - model_produced
    assert model_reads, "the discharge model reads no landing-zone asset"
    assert model_reads <= landing_produced, "the discharge model reads keys landing_zone does not produce"
    assert model_reads <= registry(landing_keys), "a key the discharge model reads is not in shared/assets"
    assert registry(discharge_keys) == model_produced

    next_contract = {
        landing_keys.METEO_POLISHED,
        landing_keys.HYDRO_POLISHED,
        landing_keys.RIVERS_ALIGNED,
        landing_keys.REACHES,
        landing_keys.REACH_CATCHMENTS,
        landing_keys.PROGRESSIVE_CATCHMENTS,
        # the LSTM's inputs (issue 15 reads them)
        landing_keys.CATCHMENT_FORCINGS,
        landing_keys.CATCHMENT_ATTRIBUTES,
        landing_keys.CLIMATIC_INDICES,
    }
    assert registry(landing_keys) <= landing_produced, (
        "shared/assets names a key landing_zone does not produce"
    )
    internal = registry(landing_keys) - model_reads - next_contract
    assert not internal, f"internal stages in shared/assets: {sorted(k.to_user_string() for k in internal)}"
