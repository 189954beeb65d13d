"""The Parquet IO manager inside real ``materialize()`` runs, on local storage and on S3."""

from datetime import UTC, datetime

import polars as pl
import pytest
from dagster import (
    AllPartitionMapping,
    AssetIn,
    AssetKey,
    AssetSpec,
    DagsterInstance,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from pydantic import BaseModel

from shared.io_managers.base import UnsupportedAnnotationError
from shared.io_managers.parquet import CorruptParquetError, ParquetIOManager
from shared.storage import ObjectNotFoundError

REGIONS = StaticPartitionsDefinition(["odra", "wisla"])


class Gauge(BaseModel):
    gauge_id: str
    area_km2: float
    active: bool
    opened: datetime
    river: str | None = None


def resources(storage):
    return {"io_manager": ParquetIOManager(storage=storage)}


def frame_for(region: str) -> pl.DataFrame:
    return pl.DataFrame({"region": [region] * 3, "value": [1.0, 2.0, 3.0]})


def make_regional():
    @asset(partitions_def=REGIONS, key=["hydro", "regional"])
    def regional(context) -> pl.DataFrame:
        return frame_for(context.partition_key)

    return regional


def test_partitioned_round_trip_and_metadata(any_storage):
    regional = make_regional()
    seen = {}

    @asset(partitions_def=REGIONS, ins={"upstream": AssetIn(key=regional.key)})
    def downstream(context, upstream: pl.DataFrame) -> pl.DataFrame:
        seen[context.partition_key] = upstream
        return upstream.with_columns(pl.col("value") * 2)

    result = materialize([regional, downstream], partition_key="wisla", resources=resources(any_storage))
    assert result.success
    assert seen["wisla"].equals(frame_for("wisla"))
    storage = any_storage.get_storage()
    assert storage.exists("hydro/regional/partition=wisla/part.parquet")
    assert not storage.exists("hydro/regional/partition=odra/part.parquet")
    metadata = result.asset_materializations_for_node("hydro__regional")[0].metadata
    assert metadata["dagster/row_count"].value == 3
    assert [column.name for column in metadata["dagster/column_schema"].schema.columns] == ["region", "value"]
    assert metadata["bytes"].value == storage.stat("hydro/regional/partition=wisla/part.parquet").size
    assert metadata["uri"].value.endswith("hydro/regional/partition=wisla/part.parquet")
    stored = pl.read_parquet(
        storage.polars_path("downstream/partition=wisla/part.parquet"),
        storage_options=storage.polars_options(),
    )
    assert stored["value"].to_list() == [2.0, 4.0, 6.0]


def test_zstd_compression_is_used(local_storage):
    regional = make_regional()
    materialize([regional], partition_key="odra", resources=resources(local_storage))
    import pyarrow.parquet as pq

    path = local_storage.get_storage().gdal_path("hydro/regional/partition=odra/part.parquet")
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_multi_partitioned_layout(any_storage):
    grid = MultiPartitionsDefinition(
        {
            "region": StaticPartitionsDefinition(["odra"]),
            "tile": StaticPartitionsDefinition(["N34-12", "N34-13"]),
        }
    )

    @asset(partitions_def=grid, key=["elevation", "dtm", "converted_index"])
    def converted(context) -> pl.DataFrame:
        keys = context.partition_key.keys_by_dimension
        return pl.DataFrame({"tile": [keys["tile"]], "region": [keys["region"]]})

    key = MultiPartitionKey({"region": "odra", "tile": "N34-12"})
    assert materialize([converted], partition_key=key, resources=resources(any_storage)).success
    stored = any_storage.get_storage().list("elevation/dtm/converted_index/")
    assert [info.key for info in stored] == [
        "elevation/dtm/converted_index/region=odra/tile=N34-12/part.parquet"
    ]


def test_loading_several_upstream_partitions(any_storage):
    regional = make_regional()
    instance = DagsterInstance.ephemeral()
    for region in REGIONS.get_partition_keys():
        materialize([regional], partition_key=region, resources=resources(any_storage), instance=instance)
    loaded = {}

    @asset(ins={"per_region": AssetIn(key=regional.key, partition_mapping=AllPartitionMapping())})
    def by_partition(per_region: dict[str, pl.DataFrame]) -> None:
        loaded["dict"] = per_region

    @asset(ins={"combined": AssetIn(key=regional.key, partition_mapping=AllPartitionMapping())})
    def concatenated(combined: pl.LazyFrame) -> None:
        loaded["lazy"] = combined.collect()

    result = materialize(
        [regional, by_partition, concatenated],
        selection=[by_partition.key, concatenated.key],
        resources=resources(any_storage),
        instance=instance,
    )
    assert result.success
    assert sorted(loaded["dict"]) == ["odra", "wisla"]
    assert loaded["dict"]["odra"].equals(frame_for("odra"))
    assert loaded["lazy"].equals(pl.concat([frame_for("odra"), frame_for("wisla")]))


def test_lazyframe_output_is_streamed_and_loaded_lazily(any_storage):
    @asset
    def lazy_source() -> pl.LazyFrame:
        return pl.LazyFrame({"x": range(100_000)}).with_columns(squared=pl.col("x") ** 2)

    got = {}

    @asset
    def lazy_consumer(lazy_source: pl.LazyFrame) -> None:
        got["plan"] = lazy_source
        got["sum"] = lazy_source.filter(pl.col("x") < 10).select(pl.col("squared").sum()).collect().item()

    result = materialize([lazy_source, lazy_consumer], resources=resources(any_storage))
    assert isinstance(got["plan"], pl.LazyFrame)
    assert got["sum"] == sum(x**2 for x in range(10))
    assert (
        result.asset_materializations_for_node("lazy_source")[0].metadata["dagster/row_count"].value
        == 100_000
    )


def test_pydantic_models_round_trip_with_stable_schema(any_storage):
    gauges = [
        Gauge(
            gauge_id="g1", area_km2=12.5, active=True, opened=datetime(2001, 5, 1, tzinfo=UTC), river="Odra"
        ),
        Gauge(gauge_id="g2", area_km2=3.0, active=False, opened=datetime(1999, 1, 1, tzinfo=UTC)),
    ]

    @asset
    def gauge_list() -> list[Gauge]:
        return gauges

    @asset
    def no_gauges() -> list[Gauge]:
        return []

    got = {}

    @asset
    def consumer(gauge_list: list[Gauge], no_gauges: pl.DataFrame) -> None:
        got["models"], got["empty"] = gauge_list, no_gauges

    assert materialize([gauge_list, no_gauges, consumer], resources=resources(any_storage)).success
    assert got["models"] == gauges
    assert got["empty"].height == 0
    assert got["empty"].schema == pl.Schema(
        {
            "gauge_id": pl.String,
            "area_km2": pl.Float64,
            "active": pl.Boolean,
            "opened": pl.Datetime("us", "UTC"),
            "river": pl.String,
        }
    )


def test_corrupt_parquet_fails_with_the_uri(any_storage):
    storage = any_storage.get_storage()
    storage.put_bytes(b"PAR1 this is not a parquet file", "broken/part.parquet")

    @asset(ins={"broken": AssetIn(key=AssetKey("broken"))})
    def reader(broken: pl.DataFrame) -> None: ...

    with pytest.raises(CorruptParquetError, match=r"broken/part\.parquet is not readable Parquet"):
        materialize([AssetSpec("broken"), reader], resources=resources(any_storage), selection=[reader.key])


def test_missing_upstream_fails_with_the_uri(any_storage):
    @asset(ins={"never": AssetIn(key=AssetKey(["never", "materialised"]))})
    def reader(never: pl.DataFrame) -> None: ...

    with pytest.raises(ObjectNotFoundError, match=r"never/materialised/part\.parquet"):
        materialize(
            [AssetSpec(["never", "materialised"]), reader],
            resources=resources(any_storage),
            selection=[reader.key],
        )


def test_wrong_input_annotation_fails_before_reading(local_storage):
    @asset
    def table() -> pl.DataFrame:
        return pl.DataFrame({"a": [1]})

    @asset
    def wants_dict(table: dict) -> None: ...

    materialize([table], resources=resources(local_storage))
    with pytest.raises(UnsupportedAnnotationError, match=r"input 'table'.*annotated"):
        materialize([table, wants_dict], resources=resources(local_storage), selection=[wants_dict.key])


def test_unsupported_output_type_is_refused(local_storage):
    @asset
    def numbers() -> list:
        return [1, 2, 3]

    with pytest.raises(UnsupportedAnnotationError, match=r"cannot store list as Parquet"):
        materialize([numbers], resources=resources(local_storage))
    assert list(local_storage.get_storage().list()) == []
