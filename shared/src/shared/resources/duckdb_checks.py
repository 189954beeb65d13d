"""Data-quality checks as named DuckDB SQL over an asset's stored Parquet.

Each :class:`SqlCheck` is a query that returns the *offending* rows of the table ``{table}``; the check
passes when at most ``max_offending_rows`` come back, and the result's metadata holds the offending values
themselves (not just pass/fail) so a reviewer sees what was wrong. DuckDB is fed from Arrow (read with
polars, locally or from S3), because DuckDB's httpfs extension cannot be installed offline.

The connection comes from dagster-duckdb's :class:`~dagster_duckdb.DuckDBResource`, built when a check
runs rather than subclassed: importing dagster-duckdb loads DuckDB (about 0.05 s), which every load of
the code location would otherwise pay although only check steps connect.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    ConfigurableResource,
    MetadataValue,
    PartitionsDefinition,
    ResourceDependency,
)
from pydantic import BaseModel, Field

from shared.resources.storage import StorageResource
from shared.storage import ObjectNotFoundError
from shared.storage.layout import PARQUET, AssetLocation

CHECKED_TABLE = "asset_rows"


class SqlCheck(BaseModel, frozen=True):
    """One named check: ``sql`` selects the offending rows of ``{table}``."""

    name: str
    sql: str
    description: str = ""
    blocking: bool = False
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR
    max_offending_rows: int = Field(default=0, ge=0)
    sample_size: int = Field(default=20, ge=1)

    def spec(self, asset: AssetKey, partitions_def: PartitionsDefinition | None = None) -> AssetCheckSpec:
        """The Dagster check spec; ``blocking`` stops downstream assets when the check fails."""
        return AssetCheckSpec(
            self.name,
            asset=asset,
            description=self.description,
            blocking=self.blocking,
            partitions_def=partitions_def,
        )


class DuckDBChecksResource(ConfigurableResource):
    """Loads an asset's Parquet into DuckDB (through dagster-duckdb) and runs :class:`SqlCheck` s on it."""

    database: str = Field(default=":memory:", description="DuckDB database; in memory for checks.")
    storage: ResourceDependency[StorageResource]

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        """A DuckDB connection from dagster-duckdb (its retries on a locked database included)."""
        from dagster_duckdb import DuckDBResource

        with DuckDBResource(database=self.database).get_connection() as connection:
            yield connection

    def run_checks(
        self,
        asset: AssetKey,
        checks: Sequence[SqlCheck],
        partitions_def: PartitionsDefinition | None = None,
        partition_key: str | None = None,
    ) -> Iterator[AssetCheckResult]:
        """Load the stored asset (partition) into a temporary table and yield one result per check."""
        location = AssetLocation.for_partition(asset, partitions_def, partition_key or None)
        yield from self.check_frame(asset, checks, self._read(asset, location))

    def check_frame(
        self, asset: AssetKey, checks: Sequence[SqlCheck], frame: pl.DataFrame
    ) -> Iterator[AssetCheckResult]:
        """Run the checks on a table that is not stored yet: the candidate of a write-audit-publish."""
        with self.get_connection() as connection:
            connection.register("asset_arrow", frame.to_arrow())
            connection.execute(f"CREATE TEMP TABLE {CHECKED_TABLE} AS SELECT * FROM asset_arrow")
            connection.unregister("asset_arrow")
            for check in checks:
                yield _evaluate(connection, asset, check, frame.height)

    def _read(self, asset: AssetKey, location: AssetLocation) -> pl.DataFrame:
        storage = self.storage.get_storage()
        key = location.key(PARQUET)
        if not storage.exists(key):
            raise ObjectNotFoundError(f"{asset.to_user_string()}: no Parquet to check at {storage.uri(key)}")
        with storage.local_copy(key) as path:  # the storage API's retries, not polars' silent ones
            return pl.read_parquet(path)


def _evaluate(connection: Any, asset: AssetKey, check: SqlCheck, total_rows: int) -> AssetCheckResult:
    try:
        offending = connection.sql(check.sql.format(table=CHECKED_TABLE)).pl()
    except Exception as error:
        raise ValueError(f"check {check.name!r} on {asset.to_user_string()}: SQL failed: {error}") from error
    sample = offending.head(check.sample_size)
    return AssetCheckResult(
        asset_key=asset,
        check_name=check.name,
        passed=offending.height <= check.max_offending_rows,
        severity=check.severity,
        metadata={
            "offending_rows": MetadataValue.int(offending.height),
            "checked_rows": MetadataValue.int(total_rows),
            "max_offending_rows": MetadataValue.int(check.max_offending_rows),
            "offending_values": MetadataValue.json(_jsonable(sample)),
            "sql": MetadataValue.md(f"```sql\n{check.sql.strip()}\n```"),
        },
    )


def _jsonable(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (dates, decimals and the like as strings)."""
    return json.loads(json.dumps(frame.to_dicts(), default=str))
