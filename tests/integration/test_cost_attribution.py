"""Cost attribution in real ``materialize()`` runs: every stored output records what its step consumed,
and the cost report sums and prices it per asset and day with the node-pool catalogue's prices."""

import time
from typing import Any

import dagster as dg
import polars as pl

from shared.costs.metadata import (
    BYTES_READ,
    BYTES_WRITTEN,
    CPU_S,
    NODE_POOL,
    PEAK_RSS_MB,
    WALL_S,
    asset_cost_metadata,
)
from shared.costs.report import cost_rows, render_table
from shared.io_managers.parquet import ParquetIOManager
from shared.k8s import NODE_POOLS, K8sOpTags
from shared.k8s.prices import HOURLY_PRICE_USD
from shared.resources.storage import StorageResource

SOURCE, CONSUMER = dg.AssetKey(["cost", "source"]), dg.AssetKey(["cost", "consumer"])
BURN_S = 0.4
BALLAST_MB = 160


def burn_cpu(seconds: float) -> None:
    """Busy CPU for ``seconds`` of process CPU time."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


@dg.asset(key=SOURCE, op_tags=K8sOpTags.medium(divider=2))
def source() -> pl.DataFrame:
    ballast = bytearray(BALLAST_MB * 2**20)
    ballast[:: 2**12] = b"\1" * len(ballast[:: 2**12])  # touch every page, so it is resident
    burn_cpu(BURN_S)
    return pl.DataFrame({"value": range(50_000)}, schema={"value": pl.Int64})


@dg.asset(key=CONSUMER, deps=[], ins={"table": dg.AssetIn(SOURCE)})
def consumer(table: pl.DataFrame) -> pl.DataFrame:
    return table.select(doubled=pl.col("value") * 2)


def materialised(instance: dg.DagsterInstance, key: dg.AssetKey) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(key)
    assert event is not None and event.asset_materialization is not None
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


def test_each_step_records_its_own_cost_and_the_report_prices_it(any_storage: StorageResource) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {"io_manager": ParquetIOManager(storage=any_storage)}
    result = dg.materialize([source, consumer], resources=resources, instance=instance)
    assert result.success
    produced, consumed = materialised(instance, SOURCE), materialised(instance, CONSUMER)

    assert produced[CPU_S] >= BURN_S * 0.9 and produced[WALL_S] >= produced[CPU_S] * 0.5
    assert 0 < consumed[CPU_S] < produced[CPU_S] - BURN_S / 2, "the consumer was charged the source's work"
    assert consumed[WALL_S] > 0
    # bytes: each step stored its object (and its catalogue entries), the consumer also read the source's
    assert produced[BYTES_WRITTEN] >= produced["bytes"] and consumed[BYTES_WRITTEN] >= consumed["bytes"]
    assert consumed[BYTES_READ] >= produced["bytes"] > produced[BYTES_READ]
    # the peak RSS window restarts per step: the source's ballast is not the consumer's peak
    assert produced[PEAK_RSS_MB] >= BALLAST_MB
    assert consumed[PEAK_RSS_MB] < produced[PEAK_RSS_MB] - BALLAST_MB / 2
    assert (produced[NODE_POOL], consumed[NODE_POOL]) == ("medium", "small")

    rows = {row.asset: row for row in cost_rows(instance)}
    assert set(rows) == {"cost/source", "cost/consumer"}
    for row in rows.values():
        assert row.materialisations == 1 and row.unmetered == 0
        assert row.cpu_s > 0 and row.bytes_written > 0
    expected = produced[WALL_S] / 3600 * HOURLY_PRICE_USD["medium"] / 2
    assert rows["cost/source"].cost_usd is not None
    assert abs(rows["cost/source"].cost_usd - expected) < 1e-9
    assert rows["cost/consumer"].bytes_read == consumed[BYTES_READ]
    assert "cost/consumer" in render_table(list(rows.values()))


def test_an_asset_storing_through_the_storage_itself_records_its_cost(local_storage: StorageResource) -> None:
    @dg.asset(key=["cost", "direct"], op_tags=K8sOpTags.large())
    def direct(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.MaterializeResult:
        burn_cpu(0.05)
        stored = storage.get_storage().put_bytes(b"x" * 10_000, "cost/direct/part.bin")
        return dg.MaterializeResult(metadata={"bytes": stored.size} | asset_cost_metadata(context))

    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([direct], resources={"storage": local_storage}, instance=instance).success
    recorded = materialised(instance, dg.AssetKey(["cost", "direct"]))
    assert recorded[CPU_S] >= 0.05 and recorded[BYTES_WRITTEN] == 10_000 and recorded[NODE_POOL] == "large"


def test_materialisations_without_cost_are_counted_as_unmetered() -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(dg.AssetMaterialization(SOURCE))
    (row,) = cost_rows(instance)
    assert (row.asset, row.materialisations, row.unmetered, row.cost_usd) == ("cost/source", 1, 1, 0.0)


def test_every_node_pool_has_a_price() -> None:
    assert set(HOURLY_PRICE_USD) == set(NODE_POOLS)
    assert all(price > 0 for price in HOURLY_PRICE_USD.values())
