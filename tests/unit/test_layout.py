import pytest
from dagster import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from shared.io_managers.partitions import partition_dimensions
from shared.storage.layout import InvalidLayoutError, object_key


def test_unpartitioned_key_is_asset_path_plus_part():
    assert (
        object_key(["elevation", "dtm", "wfs_index"], None, "parquet")
        == "elevation/dtm/wfs_index/part.parquet"
    )


def test_multi_partition_folders_are_sorted_by_dimension():
    key = object_key(["elevation", "dtm", "converted"], {"tile": "N34-12", "region": "odra"}, "tif")
    assert key == "elevation/dtm/converted/region=odra/tile=N34-12/part.tif"


def test_partition_values_cannot_add_folders_or_escape():
    key = object_key(["a"], {"partition": "../x/y z"}, "parquet")
    assert key == "a/partition=..%2Fx%2Fy%20z/part.parquet"
    assert key.count("/") == 2


@pytest.mark.parametrize("value", ["", ".", ".."])
def test_dot_partition_values_are_rejected(value):
    with pytest.raises(InvalidLayoutError, match="cannot be a path segment"):
        object_key(["a"], {"partition": value}, "parquet")


@pytest.mark.parametrize("component", ["..", "a/b", "", ".hidden"])
def test_unsafe_asset_components_are_rejected(component):
    with pytest.raises(InvalidLayoutError, match="asset key component"):
        object_key(["ok", component], None, "parquet")


def test_partition_dimensions_per_definition_kind():
    multi = MultiPartitionsDefinition(
        {"region": StaticPartitionsDefinition(["odra"]), "tile": DynamicPartitionsDefinition(name="tiles")}
    )
    assert partition_dimensions(multi, "odra|N34") == {"region": "odra", "tile": "N34"}
    assert partition_dimensions(DynamicPartitionsDefinition(name="source"), "imgw") == {"source": "imgw"}
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    assert partition_dimensions(daily, "2024-01-02") == {"partition": "2024-01-02"}
