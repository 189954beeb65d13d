"""The raw layer's versions of a month: content-addressed scene objects, so a changed file never
overwrites what the published manifest lists and a failed step leaves the published month whole; what a
download failure means (a scene the source lacks or whose bytes are not the declared ones is skipped, a
source failing beyond its retries fails the step for a retry); the scenes' blocking check on a store
whose objects were tampered with; and the composite's input errors, which are not retried."""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio
from polars.testing import assert_frame_equal

from landing_zone.defs.satellite import checks
from landing_zone.defs.satellite.assets import ScenesConfig, scenes
from landing_zone.defs.satellite.keys import SATELLITE_MONTHS
from platform_dev.sample_region.satellite import acquisitions, item_id
from shared.resources.storage import StorageResource
from shared.workers import RetryPolicy
from tests.satellite.conftest import REGION, Catalogues, store_dtm, write_dtm
from tests.satellite.test_assets import (
    MONTH,
    PARTITION,
    checks_of,
    edited_catalogue,
    materialise,
    object_key,
    stored_manifest,
)
from tests.sources.http_server import ScriptedServer, scripted_server
from tests.support.sources import sources_with


def july_items(catalogues: Catalogues) -> list[str]:
    return [item_id(catalogues.spec, day) for day in acquisitions(dt.date(2023, 7, 1))]


def file_of(folder: Path, pattern: str) -> Path:
    (path,) = folder.rglob(pattern)
    return path


def brighten(path: Path) -> None:
    """The same raster on the same grid with other pixel values: a provider reprocessing a band."""
    with rasterio.open(path) as dataset:
        profile, pixels = dataset.profile, dataset.read()
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(np.where(pixels > 0, pixels + 7, pixels).astype(pixels.dtype))


def stored_bytes(storage: StorageResource, table: pl.DataFrame) -> dict[str, bytes]:
    store = storage.get_storage()
    return {key: store.get_bytes(key) for key in table["object_key"].drop_nulls()}


def step_failure(result: dg.ExecuteInProcessResult, step: str) -> dg.DagsterEvent:
    (failure,) = [
        event
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_FAILURE and event.step_key == step
    ]
    return failure


@pytest.fixture
def local_storage(catalogues: Catalogues, tmp_path: Path) -> StorageResource:
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(storage, write_dtm(tmp_path, catalogues.spec.bounds))
    return storage


def test_a_changed_file_gets_a_new_key_and_the_published_objects_stay(catalogues, local_storage, tmp_path):
    catalog = edited_catalogue(catalogues, tmp_path / "edited")
    assert materialise(local_storage, catalog).success
    before = stored_manifest(local_storage)
    old = stored_bytes(local_storage, before)
    changed = july_items(catalogues)[1]
    red = file_of(catalog.parent, f"{changed}_B04.tif")
    brighten(red)
    again = materialise(local_storage, catalog)
    assert again.success
    after = stored_manifest(local_storage)
    old_key, new_key = object_key(before, changed, "red"), object_key(after, changed, "red")
    assert new_key != old_key
    assert local_storage.get_storage().get_bytes(new_key) == red.read_bytes()
    assert stored_bytes(local_storage, before) == old, "an object the old manifest lists was rewritten"
    assert set(after["object_key"]) - {new_key} == set(before["object_key"]) - {old_key}
    assert checks_of(again)["stored_scenes_match_manifest"].passed


@pytest.fixture
def served(catalogues: Catalogues, tmp_path: Path, monkeypatch) -> Iterator[tuple[ScriptedServer, Path]]:
    """An edited copy of version 1 served over HTTP, fetched with millisecond backoff."""
    monkeypatch.setattr(
        "landing_zone.sources.http.DEFAULT_RETRY",
        RetryPolicy(max_attempts=3, backoff_s=0.01, max_backoff_s=0.02),
    )
    folder = edited_catalogue(catalogues, tmp_path / "served").parent
    with scripted_server() as server:
        yield server, folder


def serve(server: ScriptedServer, folder: Path) -> str:
    server.serve_directory("/v1", folder)
    return server.url("/v1/catalog.json")


def route_of(folder: Path, path: Path) -> str:
    return f"/v1/{path.relative_to(folder).as_posix()}"


def test_a_scene_missing_at_the_source_or_not_its_declared_bytes_is_skipped(
    catalogues, local_storage, served
):
    server, folder = served
    mismatched, missing, good = july_items(catalogues)
    item = file_of(folder, f"{mismatched}.json")
    document = json.loads(item.read_text())
    document["assets"]["nir"]["file:checksum"] = "1220" + "0" * 64
    item.write_text(json.dumps(document))
    url = serve(server, folder)
    del server.routes[route_of(folder, file_of(folder, f"{missing}_SCL.tif"))]
    result = materialise(local_storage, url)
    assert result.success
    table = stored_manifest(local_storage)
    reasons = dict(
        table.filter(pl.col("status") == "skipped").select("item_id", "reason").unique().iter_rows()
    )
    assert sorted(reasons) == sorted([mismatched, missing])
    assert "nir: checksum mismatch" in reasons[mismatched] and "0" * 64 in reasons[mismatched]
    assert "scl: missing at the source" in reasons[missing] and "404" in reasons[missing]
    assert set(table.filter(pl.col("status") == "stored")["item_id"]) == {good}


def test_a_source_failing_beyond_its_retries_fails_the_step_and_keeps_the_published_month(
    catalogues, local_storage, served
):
    """The asset invoked directly: the Failure it raises is what the retry policy sees (a materialisation
    would wait out the policy's 30 s, then 60 s, before recording the failure)."""
    server, folder = served
    url = serve(server, folder)
    assert materialise(local_storage, url).success
    published = stored_manifest(local_storage)
    old = stored_bytes(local_storage, published)
    changed, failing, _ = july_items(catalogues)
    red = file_of(folder, f"{changed}_B04.tif")
    brighten(red)
    server.route(route_of(folder, red), body=red.read_bytes())
    nir = route_of(folder, file_of(folder, f"{failing}_B08.tif"))
    requested_before = len(server.requests_to(nir))
    server.route(nir, body=b"never sent", fail_first=10**6, fail_status=503)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SATELLITE_MONTHS.name, [MONTH])
    context = dg.build_asset_context(partition_key=str(PARTITION), instance=instance)
    with pytest.raises(dg.Failure) as raised:
        list(
            scenes(
                context,
                ScenesConfig(download_workers=1),
                sources_with(satellite_catalog_url=url),
                local_storage,
            )
        )
    assert raised.value.allow_retries, "the step is retried: the source may answer next time"
    description = raised.value.description or ""
    assert description.startswith(f"{MONTH} {REGION}: scenes not fetched or stored")
    assert f"{failing}: nir: {server.url(nir)}" in description and "HTTP 503" in description
    assert len(server.requests_to(nir)) - requested_before == 3, (
        "fetched with its retries, the scene once per step attempt"
    )
    assert_frame_equal(stored_manifest(local_storage), published)
    assert stored_bytes(local_storage, published) == old
    folder_keys = {info.key for info in local_storage.get_storage().list(published_folder(published))}
    (new_red,) = folder_keys - set(old) - {published_folder(published) + "part.parquet"}
    assert Path(new_red).name.startswith(f"{changed}_red_"), "the scene fetched before the failure is stored"


def published_folder(table: pl.DataFrame) -> str:
    return table["object_key"].drop_nulls()[0].rpartition("/")[0] + "/"


def test_the_scenes_check_names_each_stored_object_that_is_not_what_the_manifest_says(
    catalogues, local_storage
):
    assert materialise(local_storage, catalogues.v1).success
    table, store = stored_manifest(local_storage), local_storage.get_storage()
    assert checks.audit_scenes(store, table).passed
    tampered_item, deleted_item, _ = july_items(catalogues)
    tampered, deleted = object_key(table, tampered_item, "nir"), object_key(table, deleted_item, "item")
    data = bytearray(store.get_bytes(tampered))
    data[-1] ^= 0xFF
    store.put_bytes(bytes(data), tampered)
    store.delete(deleted)
    result = checks.audit_scenes(store, table)
    assert not result.passed
    problems = {row["key"]: row for row in result.metadata["mismatches"].value}
    assert sorted(problems) == sorted([tampered, deleted])
    assert problems[tampered]["item_id"] == tampered_item and "SHA-256" in problems[tampered]["problem"]
    assert problems[deleted]["problem"] == "missing from storage"


def test_a_composite_input_that_always_fails_is_not_retried_and_names_month_and_region(catalogues, tmp_path):
    west, south, east, north = catalogues.spec.bounds
    no_crs = tmp_path / "dtm-no-crs.tif"
    profile = {"driver": "GTiff", "width": 20, "height": 20, "count": 1, "dtype": "float32"}
    transform = rasterio.transform.from_bounds(west, south, east, north, 20, 20)
    with rasterio.open(no_crs, "w", transform=transform, **profile) as dataset:
        dataset.write(np.zeros((1, 20, 20), np.float32))
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(storage, no_crs)
    result = materialise(storage, catalogues.v1)
    assert not result.success
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    description = step_failure(result, "satellite__ndvi").step_failure_data.user_failure_data.description
    assert description.startswith(f"{MONTH} {REGION}: ") and "has no CRS" in description
