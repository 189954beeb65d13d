"""``satellite/scenes`` and ``satellite/ndvi`` materialised for one month of the small sample region: on
SeaweedFS (S3) from the published catalogue, and on local storage from edited copies of it (a corrupt
file, a scene off its declared grid, a region mostly outside the scenes)."""

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio

from landing_zone.defs.satellite.assets import ndvi, scenes
from landing_zone.defs.satellite.keys import (
    SATELLITE_MONTHS,
    SATELLITE_NDVI,
    SATELLITE_PARTITIONS,
    SATELLITE_SCENES,
)
from platform_dev.sample_region.satellite import acquisitions, item_id, true_ndvi
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, JSON, PARQUET, AssetLocation
from tests.satellite.conftest import REGION, Catalogues, store_dtm, write_dtm
from tests.support.sources import sources_with

MONTH = "2023-07"
PARTITION = dg.MultiPartitionKey({"month": MONTH, "region": REGION})
NODATA = -9999.0


def materialise(
    storage: StorageResource, catalog: Path | str, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    """Scenes and NDVI of the month, the DTM an unexecuted upstream read from storage."""
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(SATELLITE_MONTHS.name, [MONTH])
    return dg.materialize(
        [
            dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER),
            scenes,
            ndvi,
        ],
        instance=instance,
        resources={
            **platform_resources(storage),
            "sources": sources_with(satellite_catalog_url=str(catalog)),
        },
        partition_key=str(PARTITION),
        selection=[SATELLITE_SCENES, SATELLITE_NDVI],
        raise_on_error=False,
        run_config=run_config,
    )


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def materialization(result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def stored_manifest(storage: StorageResource) -> pl.DataFrame:
    location = AssetLocation.for_partition(SATELLITE_SCENES, SATELLITE_PARTITIONS, str(PARTITION))
    with storage.get_storage().local_copy(location.key(PARQUET)) as path:
        return pl.read_parquet(path)


def object_key(table: pl.DataFrame, item: str, band: str) -> str:
    """The key a manifest lists for one file of one scene."""
    return table.filter((pl.col("item_id") == item) & (pl.col("band") == band))["object_key"].item()


def ndvi_path(storage: StorageResource) -> str:
    location = AssetLocation.for_partition(SATELLITE_NDVI, SATELLITE_PARTITIONS, str(PARTITION))
    return storage.get_storage().gdal_path(location.key(COG))


@pytest.fixture(scope="module")
def on_s3(catalogues: Catalogues, tmp_path_factory, seaweedfs):
    """The month from catalogue version 1 on SeaweedFS."""
    storage = StorageResource(url=f"s3://platform-test/satellite-{dt.datetime.now():%H%M%S%f}")
    store_dtm(storage, write_dtm(tmp_path_factory.mktemp("dtm"), catalogues.spec.bounds))
    return storage, materialise(storage, catalogues.v1)


def test_scenes_and_ndvi_materialise_with_their_checks_passing(on_s3):
    _, result = on_s3
    assert result.success
    evaluations = checks_of(result)
    assert set(evaluations) == {
        "stored_scenes_match_manifest",
        "ndvi_within_range",
        "valid_fraction_above_threshold",
    }
    assert all(evaluation.passed for evaluation in evaluations.values())
    assert evaluations["stored_scenes_match_manifest"].metadata["checked_objects"].value == 12
    ndvi_range = evaluations["ndvi_within_range"].metadata
    assert -1.0 <= ndvi_range["ndvi_min"].value < ndvi_range["ndvi_max"].value <= 1.0


def test_the_manifest_lists_each_file_with_the_sources_checksum(on_s3, catalogues):
    storage, _ = on_s3
    table = stored_manifest(storage)
    spec = catalogues.spec
    ids = [item_id(spec, day) for day in acquisitions(dt.date(2023, 7, 1))]
    assert sorted(table["item_id"].unique()) == ids
    assert table.height == 3 * 4 and set(table["status"]) == {"stored"}
    store = storage.get_storage()
    for row in table.iter_rows(named=True):
        source = Path(row["source_url"].removeprefix("file://"))
        assert row["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert row["bytes"] == source.stat().st_size == store.stat(row["object_key"]).size
    red = table.filter(pl.col("band") == "red").row(0, named=True)
    assert red["crs"] == "EPSG:32634" and red["transform"][0] == 10.0
    item = table.filter(pl.col("band") == "item").row(0, named=True)
    location = AssetLocation.for_partition(SATELLITE_SCENES, SATELLITE_PARTITIONS, str(PARTITION))
    assert item["object_key"] == location.key(JSON, name=f"{item['item_id']}_{item['sha256'][:16]}")
    red_key = location.key(COG, name=f"{red['item_id']}_red_{red['sha256'][:16]}")
    assert red["object_key"] == red_key, "content-addressed: item, band and the first 16 hex of the SHA-256"
    assert json.loads(store.get_bytes(item["object_key"]))["id"] == item["item_id"]


def test_the_composite_is_a_cog_analysts_can_read(on_s3, catalogues):
    storage, result = on_s3
    store = storage.get_storage()
    west, south, east, north = catalogues.spec.bounds
    with rasterio.Env(**store.gdal_options()), rasterio.open(ndvi_path(storage)) as dataset:
        assert dataset.crs.to_epsg() == 2180
        assert dataset.descriptions == ("ndvi", "valid_observations")
        assert dataset.nodatavals == (NODATA, NODATA)
        assert dataset.dtypes == ("float32", "float32")
        assert dataset.res == (10.0, 10.0)
        assert dataset.overviews(1) and dataset.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        bounds = dataset.bounds
        assert bounds.left <= west and bounds.bottom <= south and bounds.right >= east and bounds.top >= north
        assert bounds.right - east < 10.0 and north - bounds.top > -10.0
        ndvi_values, count = dataset.read(1), dataset.read(2)
        transform = dataset.transform
    assert count.max() <= 3 and (count >= 0).all()
    clear = count > 0
    assert clear.mean() > 0.5
    rows, cols = np.nonzero(clear)
    x, y = rasterio.transform.xy(transform, rows, cols)
    truth = true_ndvi(catalogues.spec, dt.date(2023, 7, 1), np.asarray(x), np.asarray(y))
    errors = ndvi_values[clear] - truth
    assert np.median(np.abs(errors)) < 0.05, "the composite is not where the region is"
    metadata = materialization(result, SATELLITE_NDVI)
    assert metadata["uri"].value.startswith("s3://") and metadata["valid_fraction"].value > 0.5
    assert sorted(metadata["scenes_used"].value) == sorted(
        item_id(catalogues.spec, day) for day in acquisitions(dt.date(2023, 7, 1))
    )


def edited_catalogue(catalogues: Catalogues, folder: Path) -> Path:
    """A copy of version 1 to edit."""
    shutil.copytree(catalogues.v1.parent, folder)
    return folder / "catalog.json"


def test_a_corrupt_scene_and_one_off_its_grid_are_skipped_and_the_month_composites(catalogues, tmp_path):
    spec = catalogues.spec
    corrupt, shifted, good = (item_id(spec, day) for day in acquisitions(dt.date(2023, 7, 1)))
    catalog = edited_catalogue(catalogues, tmp_path / "edited")
    (red,) = catalog.parent.rglob(f"{corrupt}_B04.tif")
    red.write_bytes(red.read_bytes()[:2000])
    (item,) = catalog.parent.rglob(f"{shifted}.json")
    document = json.loads(item.read_text())
    document["assets"]["nir"]["proj:transform"][2] += 10.0
    item.write_text(json.dumps(document))
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(storage, write_dtm(tmp_path, spec.bounds))
    result = materialise(storage, catalog)
    assert result.success
    table = stored_manifest(storage)
    reasons = dict(
        table.filter(pl.col("status") == "skipped").select("item_id", "reason").unique().iter_rows()
    )
    assert sorted(reasons) == [corrupt, shifted]
    assert "red" in reasons[corrupt] and "not a readable raster" in reasons[corrupt]
    assert "nir" in reasons[shifted] and "transform" in reasons[shifted]
    assert set(table.filter(pl.col("status") == "stored")["item_id"]) == {good}
    assert not table.filter(pl.col("status") == "skipped")["object_key"].is_not_null().any()
    location = AssetLocation.for_partition(SATELLITE_SCENES, SATELLITE_PARTITIONS, str(PARTITION))
    stored = {Path(info.key).name for info in storage.get_storage().list(location.folder)}
    assert not any(name.startswith((corrupt, shifted)) for name in stored)
    scenes_check = checks_of(result)["stored_scenes_match_manifest"]
    assert scenes_check.passed and sorted(scenes_check.metadata["skipped_scenes"].value) == [corrupt, shifted]
    metadata = materialization(result, SATELLITE_NDVI)
    assert list(metadata["scenes_used"].value) == [good]
    assert sorted(metadata["scenes_skipped"].value) == [corrupt, shifted]


def test_a_region_mostly_outside_the_scenes_warns_and_still_publishes(catalogues, tmp_path):
    """The DTM (the region) reaches a scene's width beyond the scenes on every side: 1/9 has data."""
    west, south, east, north = catalogues.spec.bounds
    side = east - west
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(
        storage, write_dtm(tmp_path, (west - side, south - side, east + side, north + side), cell=200.0)
    )
    result = materialise(storage, catalogues.v1)
    assert result.success
    evaluations = checks_of(result)
    warning = evaluations["valid_fraction_above_threshold"]
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert warning.metadata["valid_fraction"].value < 0.5 * 0.25
    assert warning.metadata["threshold"].value == 0.5
    assert evaluations["ndvi_within_range"].passed
    with rasterio.open(ndvi_path(storage)) as dataset:
        assert dataset.width >= 3 * side / 10.0


def test_a_rerun_never_replaces_a_stored_copy_with_a_damaged_one(catalogues, tmp_path):
    catalog = edited_catalogue(catalogues, tmp_path / "edited")
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(storage, write_dtm(tmp_path, catalogues.spec.bounds))
    assert materialise(storage, catalog).success
    damaged = item_id(catalogues.spec, dt.date(2023, 7, 15))
    key = object_key(stored_manifest(storage), damaged, "scl")
    before = storage.get_storage().get_bytes(key)
    (scl,) = catalog.parent.rglob(f"{damaged}_SCL.tif")
    scl.write_bytes(scl.read_bytes()[: len(before) // 2])
    again = materialise(storage, catalog)
    assert again.success
    assert storage.get_storage().get_bytes(key) == before
    skipped = materialization(again, SATELLITE_SCENES)["scenes_skipped"].value
    assert list(skipped) == [damaged] and "scl" in skipped[damaged]


def test_a_month_without_a_usable_scene_fails_naming_each_reason(catalogues, tmp_path):
    catalog = edited_catalogue(catalogues, tmp_path / "edited")
    days = acquisitions(dt.date(2023, 7, 1))
    for day in days:
        (nir,) = catalog.parent.rglob(f"{item_id(catalogues.spec, day)}_B08.tif")
        nir.write_bytes(nir.read_bytes()[:3000])
    storage = StorageResource(url=str(tmp_path / "storage"))
    store_dtm(storage, write_dtm(tmp_path, catalogues.spec.bounds))
    result = materialise(storage, catalog)
    assert not result.success
    (failure,) = [
        event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    message = failure.step_failure_data.user_failure_data.description
    assert "no usable scene" in message
    assert all(f"{item_id(catalogues.spec, day)}: nir: not a readable raster" in message for day in days)
    location = AssetLocation.for_partition(SATELLITE_SCENES, SATELLITE_PARTITIONS, str(PARTITION))
    assert not list(storage.get_storage().list(location.folder))
