"""The elevation pipeline end to end on the small sample region: sensor, conversion, checks, mosaic."""

import json
from pathlib import Path

import dagster as dg
import numpy as np
import rasterio
from rio_cogeo.cogeo import cog_validate

from landing_zone.defs.elevation.definitions import ElevationPipeline
from landing_zone.defs.elevation.keys import elevation_key
from landing_zone.defs.elevation.tile_readers import Footprint, read_tile
from landing_zone.resources.sources import SourcesResource
from platform_dev.demo import apply_sensor_tick, materialize_selection
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource

SENSOR = "elevation_dtm_index_sensor"
SHEETS = "elevation_dtm_sheets"


def definitions(region: Path, version: int, storage: StorageResource) -> dg.Definitions:
    index = f"{region.as_uri()}/elevation/{{product}}/index_v{version}.geojson"
    sources = SourcesResource(
        elevation_index_url=index,
        rivers_url="",
        meteo_url="",
        hydro_url="",
        forecasts_url="",
        satellite_catalog_url="",
    )
    pipeline = dg.build_defs_for_component(ElevationPipeline(product="dtm"))
    return dg.Definitions.merge(
        pipeline, dg.Definitions(resources={**platform_resources(storage), "sources": sources})
    )


def sheets(region: Path, version: int) -> set[str]:
    index = json.loads((region / "elevation" / "dtm" / f"index_v{version}.geojson").read_text())
    return {feature["properties"]["map_sheet"] for feature in index["features"]}


def evaluate(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources)) as context:
        return defs.resolve_sensor_def(SENSOR)(context)


def partition_changes(result: dg.SensorResult) -> tuple[set[str], set[str]]:
    added, deleted = set(), set()
    for request in result.dynamic_partitions_requests or []:
        (added if isinstance(request, dg.AddDynamicPartitionsRequest) else deleted).update(
            request.partition_keys
        )
    return added, deleted


def test_sensor_keeps_partitions_equal_to_the_index(small_region, manifest, local_storage):
    instance = dg.DagsterInstance.ephemeral()
    v1 = definitions(small_region, 1, local_storage)

    first = evaluate(v1, instance, None)
    assert partition_changes(first) == (sheets(small_region, 1), set())
    assert [r.asset_selection for r in first.run_requests] == [[elevation_key("dtm", "wfs_index")]]

    cursor, _ = apply_sensor_tick(v1, instance, SENSOR, None, v1.resources)  # applies adds, runs the index
    sheet_runs = evaluate(v1, instance, cursor)
    assert partition_changes(sheet_runs) == (set(), set())
    assert {r.partition_key.keys_by_dimension["map_sheet"] for r in sheet_runs.run_requests} == sheets(
        small_region, 1
    )
    quiet = evaluate(v1, instance, sheet_runs.cursor)
    assert quiet.run_requests == [] and partition_changes(quiet) == (set(), set())

    v2 = definitions(small_region, 2, local_storage)
    changed = evaluate(v2, instance, sheet_runs.cursor)
    added, withdrawn = (
        sheets(small_region, 2) - sheets(small_region, 1),
        sheets(small_region, 1) - sheets(small_region, 2),
    )
    assert partition_changes(changed) == (added, set())  # withdrawals wait for the snapshot to confirm them
    assert [r.asset_selection for r in changed.run_requests] == [[elevation_key("dtm", "wfs_index")]]
    materialize_selection(v2, instance, [elevation_key("dtm", "wfs_index")], None)
    assert partition_changes(evaluate(v2, instance, sheet_runs.cursor)) == (added, withdrawn)
    truth = manifest["elevation"]["dtm"]
    touched = {tile.rsplit("-", 1)[0] for tile in [*truth["bad_tiles_in_v1"], *truth["biased_tiles_in_v1"]]}
    expected = (sheets(small_region, 2) - sheets(small_region, 1)) | touched
    runs = evaluate(v2, instance, sheet_runs.cursor).run_requests
    assert {r.partition_key.keys_by_dimension["map_sheet"] for r in runs} == expected


def run_all(defs: dg.Definitions, instance: dg.DagsterInstance) -> dict[str, dg.AssetCheckEvaluation]:
    """Sensor ticks until quiet, then the consolidation; every check evaluation keyed by name|partition."""
    cursor, results = None, []
    for _ in range(3):
        cursor, runs = apply_sensor_tick(defs, instance, SENSOR, cursor, defs.resources)
        results += runs
        if not runs:
            break
    job = defs.resolve_implicit_global_asset_job_def()
    results.append(
        job.execute_in_process(
            instance=instance,
            partition_key="pilica",
            raise_on_error=False,
            asset_selection=[elevation_key("dtm", "consolidated")],
        )
    )
    return {
        f"{e.check_name}|{e.partition}": e for result in results for e in result.get_asset_check_evaluations()
    }


def test_v1_skips_bad_tiles_with_reasons_and_checks_catch_gaps_and_bias(
    small_region, manifest, local_storage
):
    instance = dg.DagsterInstance.ephemeral()
    evaluations = run_all(definitions(small_region, 1, local_storage), instance)
    bad = manifest["elevation"]["dtm"]["bad_tiles_in_v1"]
    skipped = {}
    for name, evaluation in evaluations.items():
        if name.startswith("skipped_tiles|"):
            skipped.update(
                {row["tile_id"]: row["reason"] for row in evaluation.metadata["offending_values"].value}
            )
    assert set(skipped) == set(bad)
    assert "truncated ASC" in skipped[next(t for t, r in bad.items() if r.startswith("truncated"))]
    for sheet in sheets(small_region, 1):
        assert instance.get_latest_materialization_event(elevation_key("dtm", "converted_tiles")) is not None
        assert f"valid_cog|{sheet}|pilica" in evaluations
    assert not evaluations["coverage|pilica"].passed  # a sheet missing from v1, skipped tiles
    seams = evaluations["seam_offsets|pilica"]
    assert not seams.passed and 0.2 < seams.metadata["max_offset_m"].value < 0.3  # the planted 0.25 m bias


def test_v2_on_s3_matches_the_true_dem_and_passes_every_check(small_region, manifest, s3_storage, seaweedfs):
    instance = dg.DagsterInstance.ephemeral()
    evaluations = run_all(definitions(small_region, 2, s3_storage), instance)
    failed = {name: e.metadata for name, e in evaluations.items() if not e.passed}
    assert failed == {}
    store = s3_storage.get_storage()
    cogs = [
        info.key
        for info in store.list("elevation/dtm/")
        if info.key.endswith(".tif") and "raw_tiles" not in info.key
    ]
    assert len(cogs) == 36 + 1
    for key in cogs:
        with rasterio.Env(**store.gdal_options()):
            assert cog_validate(store.gdal_path(key), strict=True)[0], key
            with rasterio.open(store.gdal_path(key)) as dataset:
                assert dataset.crs.to_epsg() == 2180 and dataset.nodata == -9999.0
    consolidated = store.gdal_path("elevation/dtm/consolidated/partition=pilica/part.tif")
    with rasterio.Env(**store.gdal_options()), rasterio.open(consolidated) as dataset:
        ours = dataset.read(1, masked=True)
    with rasterio.open(small_region / "truth" / "dtm.tif") as dataset:
        truth = dataset.read(1)
    had_data = source_data_mask(small_region, truth.shape)
    error = (ours.filled(np.nan) - truth)[had_data]
    assert np.isfinite(error).all()
    assert np.sqrt(np.mean(error**2)) < 0.01


def source_data_mask(region: Path, shape: tuple[int, int]) -> np.ndarray:
    """Cells for which a v2 tile carried a value (gaps filled by the pipeline are left out)."""
    index = json.loads((region / "elevation" / "dtm" / "index_v2.geojson").read_text())
    mask = np.zeros(shape, dtype=bool)
    west, north = (
        min(f["properties"]["bbox"][0] for f in index["features"]),
        max(f["properties"]["bbox"][3] for f in index["features"]),
    )
    for feature in index["features"]:
        props = feature["properties"]
        path = region / "elevation" / "dtm" / props["url"]
        prj = path.with_suffix(".prj")
        grid = read_tile(
            path, props["format"], Footprint(*props["bbox"], props["crs"]), 2.0, prj if prj.exists() else None
        )
        row, col = round((north - grid.north) / 2.0), round((grid.west - west) / 2.0)
        mask[row : row + 500, col : col + 500] = np.isfinite(grid.values)
    return mask
