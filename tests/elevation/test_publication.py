"""Write-audit-publish of the elevation pipeline against hostile tiles, on local storage and S3.

A good run publishes the sample region's v2 DTM. Then one tile at a time is replaced at the provider by
a defective version (an 8848 m spike, a zero-byte file, a truncated GeoTIFF) and the sheet runs again:
the published DTM and every published tile stay byte-identical, the defect is visible (failed blocking
check, or a tile that kept its last version with the reason), the raw layer keeps both versions, and a
fixed input publishes again. A sensor restarted with an empty cursor requests nothing that is already
materialised, and a withdrawn sheet's objects are retired.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import rasterio

from landing_zone.defs.elevation.keys import elevation_key
from platform_dev.demo import apply_sensor_tick, materialize_selection
from shared.resources.storage import StorageResource
from shared.storage import Storage
from tests.elevation.test_pipeline import SENSOR, SHEETS, definitions, evaluate, partition_changes

CONVERTED = elevation_key("dtm", "converted_tiles")
CONSOLIDATED = elevation_key("dtm", "consolidated")
PUBLISHED_DTM = "elevation/dtm/consolidated/partition=pilica/part.tif"


def provider_copy(region: Path, destination: Path) -> Path:
    """The region's DTM provider folder, tiles hard-linked (never modified in place), index copied."""
    source = region / "elevation" / "dtm"
    target = destination / "elevation" / "dtm"
    shutil.copytree(source, target, copy_function=os.link)
    for index in target.glob("index_*.geojson"):
        index.unlink()
        shutil.copyfile(source / index.name, index)
    return destination


def replace_tile(provider: Path, tile_id: str, content: bytes, updated: str) -> None:
    """Publish a new version of one tile at the provider: new bytes, new update time in the index."""
    index_path = provider / "elevation" / "dtm" / "index_v2.geojson"
    index = json.loads(index_path.read_text())
    feature = next(f for f in index["features"] if f["properties"]["tile_id"] == tile_id)
    feature["properties"]["updated"] = updated
    tile = provider / "elevation" / "dtm" / feature["properties"]["url"]
    tile.unlink()  # a hard link to the shared region: replace, never write through it
    tile.write_bytes(content)
    index_path.write_text(json.dumps(index))


def tile_path(provider: Path, tile_id: str) -> Path:
    index = json.loads((provider / "elevation" / "dtm" / "index_v2.geojson").read_text())
    feature = next(f for f in index["features"] if f["properties"]["tile_id"] == tile_id)
    return provider / "elevation" / "dtm" / feature["properties"]["url"]


def with_spike(original: Path, scratch: Path) -> bytes:
    """The same GeoTIFF with one cell raised to 8848 m."""
    with rasterio.open(original) as dataset:
        profile, values = dataset.profile, dataset.read(1)
    values[values.shape[0] // 2, values.shape[1] // 2] = 8848.0
    spiked = scratch / "spiked.tif"
    with rasterio.open(spiked, "w", **profile) as dataset:
        dataset.write(values, 1)
    return spiked.read_bytes()


def run_sheets_and_consolidate(
    defs: dg.Definitions, instance: dg.DagsterInstance
) -> dict[str, dg.AssetCheckEvaluation]:
    """Sensor ticks (empty cursor: the sensor's state comes from the instance) until quiet, then the
    consolidation; failures are outcomes here, not errors. Check evaluations keyed name|partition."""
    results, cursor = [], None
    for _ in range(4):
        with dg.build_sensor_context(
            instance=instance, cursor=cursor, resources=dict(defs.resources)
        ) as context:
            tick = defs.resolve_sensor_def(SENSOR)(context)
        assert isinstance(tick, dg.SensorResult)
        if tick.dynamic_partitions_requests:
            cursor, _ = apply_sensor_tick(defs, instance, SENSOR, cursor, defs.resources)
            continue
        if not tick.run_requests:
            break
        job = defs.resolve_implicit_global_asset_job_def()
        for request in tick.run_requests:
            results.append(
                job.execute_in_process(
                    instance=instance,
                    partition_key=request.partition_key,
                    asset_selection=list(request.asset_selection or []),
                    raise_on_error=False,
                )
            )
        cursor = tick.cursor
    job = defs.resolve_implicit_global_asset_job_def()
    results.append(
        job.execute_in_process(
            instance=instance, partition_key="pilica", asset_selection=[CONSOLIDATED], raise_on_error=False
        )
    )
    return {f"{e.check_name}|{e.partition}": e for r in results for e in r.get_asset_check_evaluations()}


def digest(storage: Storage, key: str) -> str:
    return hashlib.sha256(storage.get_bytes(key)).hexdigest()


def converted_table(storage: Storage, sheet: str) -> pl.DataFrame:
    key = f"elevation/dtm/converted_tiles/map_sheet={sheet}/region=pilica/part.parquet"
    return pl.read_parquet(io.BytesIO(storage.get_bytes(key)))


def published_state(storage: Storage, sheets: set[str]) -> dict[str, str]:
    """Digests of what analysts and downstream read: the DTM and every tile COG a published table lists."""
    state = {PUBLISHED_DTM: digest(storage, PUBLISHED_DTM)}
    for sheet in sheets:
        for key in converted_table(storage, sheet)["cog_key"].drop_nulls().to_list():
            state[key] = digest(storage, key)
    return state


def raw_versions(storage: Storage, sheet: str, tile_id: str) -> list[str]:
    prefix = f"elevation/dtm/raw_tiles/map_sheet={sheet}/region=pilica/{tile_id}."
    return [info.key for info in storage.list(prefix) if not info.key.endswith(".json")]


@pytest.mark.hostile
def test_defective_tiles_never_replace_the_published_dtm(
    small_region, any_storage: StorageResource, tmp_path
):
    provider = provider_copy(small_region, tmp_path / "provider")
    defs, instance = definitions(provider, 2, any_storage), dg.DagsterInstance.ephemeral()
    store = any_storage.get_storage()
    first = run_sheets_and_consolidate(defs, instance)
    assert [name for name, e in first.items() if not e.passed] == []
    sheets = set(instance.get_dynamic_partitions(SHEETS))
    before = published_state(store, sheets)

    # A restarted sensor (empty cursor) finds every sheet materialised and requests nothing.
    restarted = evaluate(defs, instance, None)
    assert restarted.run_requests == [] and partition_changes(restarted) == (set(), set())

    tile_id = "M-34-56-A-1"  # a GeoTIFF tile of the v2 index
    sheet = tile_id.rsplit("-", 1)[0]
    original = tile_path(provider, tile_id).read_bytes()
    defects = {
        "spike": with_spike(tile_path(provider, tile_id), tmp_path),
        "zero_byte": b"",
        "truncated": original[: len(original) // 2],
    }
    for number, (defect, content) in enumerate(defects.items(), start=1):
        replace_tile(provider, tile_id, content, f"2025-0{number}-01T00:00:00+00:00")
        evaluations = run_sheets_and_consolidate(defs, instance)
        assert published_state(store, sheets) == before, defect
        table = converted_table(store, sheet)
        if defect == "spike":
            failed = evaluations[f"plausible_values|{sheet}|pilica"]
            assert not failed.passed and failed.metadata["offending_values"].value[0]["max_m"] == 8848.0
            assert store.exists(
                f"elevation/dtm/converted_tiles/map_sheet={sheet}/region=pilica/candidate.parquet"
            )
        else:
            row = table.filter(pl.col("tile_id") == tile_id).row(0, named=True)
            assert row["status"] == "kept", defect
            # The mosaic was made again with the kept tile, passed its checks, and is the same bytes.
            assert all(evaluations[f"{name}|pilica"].passed for name in ("coverage", "seam_offsets"))
            assert ("zero-byte" if defect == "zero_byte" else "unreadable tif") in row["reason"]
    # The raw layer kept every version the provider delivered, the good one included.
    assert len(raw_versions(store, sheet, tile_id)) == 1 + len(defects)

    # The provider fixes the tile: the sheet is published again, the candidate dropped.
    replace_tile(provider, tile_id, original, "2025-09-01T00:00:00+00:00")
    fixed = run_sheets_and_consolidate(defs, instance)
    assert all(e.passed for name, e in fixed.items() if not name.startswith("skipped_tiles")), fixed
    row = converted_table(store, sheet).filter(pl.col("tile_id") == tile_id).row(0, named=True)
    assert row["status"] == "converted" and row["max_m"] < 2700
    assert not store.exists(
        f"elevation/dtm/converted_tiles/map_sheet={sheet}/region=pilica/candidate.parquet"
    )
    assert published_state(store, sheets) == before  # the same bytes as the first good publication


def test_a_withdrawn_sheet_is_tombstoned_and_its_converted_layer_deleted(
    small_region, local_storage, tmp_path
):
    provider = provider_copy(small_region, tmp_path / "provider")
    defs, instance = definitions(provider, 2, local_storage), dg.DagsterInstance.ephemeral()
    store = local_storage.get_storage()
    run_sheets_and_consolidate(defs, instance)
    index_path = provider / "elevation" / "dtm" / "index_v2.geojson"
    index = json.loads(index_path.read_text())
    withdrawn = "M-34-56-A"
    tiles = [
        f["properties"]["tile_id"] for f in index["features"] if f["properties"]["map_sheet"] == withdrawn
    ]
    original = index_path.read_text()
    index["features"] = [f for f in index["features"] if f["properties"]["map_sheet"] != withdrawn]
    index_path.write_text(json.dumps(index))

    assert partition_changes(evaluate(defs, instance, None)) == (set(), set())  # not yet confirmed
    materialize_selection(defs, instance, [elevation_key("dtm", "wfs_index")], None)
    assert partition_changes(evaluate(defs, instance, None)) == (set(), {withdrawn})
    raw_prefix = f"elevation/dtm/raw_tiles/map_sheet={withdrawn}/region=pilica/"
    tombstones = {
        info.key.rsplit("/", 1)[1] for info in store.list(raw_prefix) if info.key.endswith(".retired.json")
    }
    assert tombstones == {f"{tile}.retired.json" for tile in tiles}
    tombstone = json.loads(store.get_bytes(f"{raw_prefix}{tiles[0]}.retired.json"))
    assert tombstone["reason"] == "withdrawn" and all(store.exists(key) for key in tombstone["objects"])
    assert list(store.list(f"elevation/dtm/converted_tiles/map_sheet={withdrawn}/")) == []

    # The provider lists the sheet again: it runs, and its tiles are no longer tombstoned.
    index_path.write_text(original)
    apply_sensor_tick(defs, instance, SENSOR, None, defs.resources)  # registers the sheet, runs the index
    run_sheets_and_consolidate(defs, instance)
    assert not [info.key for info in store.list(raw_prefix) if info.key.endswith(".retired.json")]
    assert converted_table(store, withdrawn)["status"].to_list() == ["converted"] * len(tiles)
