import pytest
from dagster import (
    AssetKey,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from shared.partitions import partition_requests
from shared.rasters.gdal_cache import gdal_cache_env, gdal_cache_step_env
from shared.storage.layout import COG, JSON, PARQUET, AssetLocation, InvalidLayoutError, partition_dimensions


def test_unpartitioned_key_is_asset_path_plus_part():
    assert (
        AssetLocation(["elevation", "dtm", "wfs_index"]).key(PARQUET)
        == "elevation/dtm/wfs_index/part.parquet"
    )


def test_multi_partition_folders_are_sorted_by_dimension():
    key = AssetLocation(["elevation", "dtm", "converted"], {"tile": "N34-12", "region": "odra"}).key(COG)
    assert key == "elevation/dtm/converted/region=odra/tile=N34-12/part.tif"


def test_partition_values_cannot_add_folders_or_escape():
    key = AssetLocation(["a"], {"partition": "../x/y z"}).key(PARQUET)
    assert key == "a/partition=..%2Fx%2Fy%20z/part.parquet"
    assert key.count("/") == 2


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_dot_partition_values_are_rejected(value):
    with pytest.raises(InvalidLayoutError, match="cannot be a path segment"):
        AssetLocation(["a"], {"partition": value}).key(PARQUET)


@pytest.mark.parametrize("component", ["..", "a/b", "", ".hidden"])
def test_unsafe_asset_components_are_rejected(component):
    with pytest.raises(InvalidLayoutError, match="asset key component"):
        AssetLocation(["ok", component]).key(PARQUET)


def test_partition_dimensions_per_definition_kind():
    multi = MultiPartitionsDefinition(
        {"region": StaticPartitionsDefinition(["odra"]), "tile": DynamicPartitionsDefinition(name="tiles")}
    )
    assert partition_dimensions(multi, "odra|N34") == {"region": "odra", "tile": "N34"}
    assert partition_dimensions(DynamicPartitionsDefinition(name="source"), "imgw") == {"source": "imgw"}
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    assert partition_dimensions(daily, "2024-01-02") == {"partition": "2024-01-02"}


def test_a_location_names_its_folder_and_every_object_in_it():
    multi = MultiPartitionsDefinition(
        {"region": StaticPartitionsDefinition(["odra"]), "tile": DynamicPartitionsDefinition(name="tiles")}
    )
    location = AssetLocation.for_partition(AssetKey(["elevation", "dtm", "converted"]), multi, "odra|N34")
    assert location.folder == "elevation/dtm/converted/region=odra/tile=N34/"
    assert location.key(COG) == f"{location.folder}part.tif"
    assert location.key(JSON, name="N34.retired") == f"{location.folder}N34.retired.json"
    assert AssetLocation.for_partition(AssetKey(["a", "b"])).folder == "a/b/"


def test_partition_requests_add_at_once_and_delete_only_what_is_retired():
    sheets = DynamicPartitionsDefinition(name="sheets")
    everything = partition_requests(sheets, {"a", "c"}, {"a", "b", "d"})
    assert [(type(r).__name__, list(r.partition_keys)) for r in everything] == [
        ("AddDynamicPartitionsRequest", ["c"]),
        ("DeleteDynamicPartitionsRequest", ["b", "d"]),
    ]
    confirmed = partition_requests(sheets, {"a", "c"}, {"a", "b", "d"}, retire=["d", "a"])
    assert [list(r.partition_keys) for r in confirmed] == [["c"], ["d"]]
    assert partition_requests(sheets, {"a"}, {"a", "b"}, retire=()) == []


def test_gdal_cache_is_megabytes_for_the_step_and_bytes_for_rasterio():
    assert gdal_cache_step_env(256) == {"GDAL_CACHEMAX": "256"}
    assert gdal_cache_env(256) == {"GDAL_CACHEMAX": 256 * 1024 * 1024}
