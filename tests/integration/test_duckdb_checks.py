"""Named DuckDB SQL checks over an asset's stored Parquet, with offending values in the metadata."""

import polars as pl
import pytest
from dagster import (
    AssetCheckSeverity,
    AssetKey,
    StaticPartitionsDefinition,
    asset,
    materialize,
    multi_asset_check,
)

from shared.io_managers.parquet import ParquetIOManager
from shared.resources.duckdb_checks import DuckDBChecksResource, SqlCheck
from shared.storage import ObjectNotFoundError

STATIONS = StaticPartitionsDefinition(["imgw", "usgs"])
KEY = AssetKey(["meteo", "polished"])
CHECKS = [
    SqlCheck(
        name="station_time_unique",
        sql="SELECT station, time, count(*) AS n FROM {table} GROUP BY ALL HAVING count(*) > 1",
        blocking=True,
    ),
    SqlCheck(
        name="temperature_in_bounds",
        sql="SELECT station, time, air_temperature FROM {table} WHERE air_temperature NOT BETWEEN -80 AND 60",
        severity=AssetCheckSeverity.WARN,
    ),
]


def observations(source: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station": ["A", "A", "B", "B"],
            "time": [1, 1, 1, 2] if source == "imgw" else [1, 2, 1, 2],
            "air_temperature": [12.0, 12.0, 999.0, 14.0] if source == "imgw" else [1.0, 2.0, 3.0, 4.0],
        }
    )


@asset(key=KEY, partitions_def=STATIONS)
def polished(context) -> pl.DataFrame:
    return observations(context.partition_key)


@multi_asset_check(specs=[check.spec(KEY, STATIONS) for check in CHECKS])
def polished_checks(context, duckdb: DuckDBChecksResource):
    yield from duckdb.run_checks(KEY, CHECKS, STATIONS, context.partition_key)


def run(storage, partition):
    return materialize(
        [polished, polished_checks],
        partition_key=partition,
        resources={
            "io_manager": ParquetIOManager(storage=storage),
            "duckdb": DuckDBChecksResource(storage=storage),
        },
        raise_on_error=False,
    )


def check_results(result):
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def test_failing_checks_report_offending_values(any_storage):
    results = check_results(run(any_storage, "imgw"))
    unique = results["station_time_unique"]
    assert not unique.passed
    assert unique.metadata["offending_rows"].value == 1
    assert unique.metadata["offending_values"].value == [{"station": "A", "time": 1, "n": 2}]
    assert unique.metadata["checked_rows"].value == 4
    bounds = results["temperature_in_bounds"]
    assert not bounds.passed and bounds.severity == AssetCheckSeverity.WARN
    assert bounds.metadata["offending_values"].value == [
        {"station": "B", "time": 1, "air_temperature": 999.0}
    ]


def test_clean_partition_passes(any_storage):
    results = check_results(run(any_storage, "usgs"))
    assert all(evaluation.passed for evaluation in results.values())
    assert results["station_time_unique"].metadata["offending_values"].value == []


def test_blocking_flag_reaches_the_check_spec():
    specs = {check.name: check.spec(KEY) for check in CHECKS}
    assert specs["station_time_unique"].blocking is True
    assert specs["temperature_in_bounds"].blocking is False


def test_missing_asset_object_is_an_error_naming_it(local_storage):
    resource = DuckDBChecksResource(storage=local_storage)
    with pytest.raises(ObjectNotFoundError, match=r"meteo/polished/partition=imgw/part\.parquet"):
        list(resource.run_checks(KEY, CHECKS, STATIONS, "imgw"))


def test_broken_sql_names_the_check(local_storage):
    local_storage.get_storage()
    materialize(
        [polished], partition_key="usgs", resources={"io_manager": ParquetIOManager(storage=local_storage)}
    )
    broken = SqlCheck(name="typo", sql="SELEC nothing FROM {table}")
    resource = DuckDBChecksResource(storage=local_storage)
    with pytest.raises(ValueError, match="check 'typo' on meteo/polished: SQL failed"):
        list(resource.run_checks(KEY, [broken], STATIONS, "usgs"))
