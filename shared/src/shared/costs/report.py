"""The cost report: what every asset consumed and cost, per UTC day, from the instance's materialisations.

``python -m shared.costs.report [--days N] [--json]`` against the instance of ``DAGSTER_HOME`` (the last
step of ``make demo``; in a cluster, run it in the webserver's pod). It sums the cost keys each
materialisation recorded (:mod:`shared.costs.metadata`) per asset, day and node pool, and prices them:

    cost = wall seconds / 3600 x the pool's hourly price (:mod:`shared.k8s.prices`) / the step's divider

Wall time, not CPU time, because a step pod is billed for what it reserves (``1/divider`` of a node, see
:mod:`shared.k8s.op_tags`) for as long as it runs, busy or waiting on storage; CPU seconds are reported
beside it so a step that reserves much more than it uses stands out. Materialisations without cost keys
(recorded before cost attribution existed, or by an asset that stores nothing through an IO manager) are
counted as ``unmetered`` rather than silently priced at zero.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, EventLogRecord

from shared.costs.metadata import (
    BYTES_READ,
    BYTES_WRITTEN,
    CPU_S,
    DIVIDER,
    NODE_POOL,
    PEAK_RSS_MB,
    WALL_S,
)
from shared.k8s.prices import HOURLY_PRICE_USD

PAGE = 1000
"""Materialisation records fetched per query."""


@dataclass(frozen=True)
class AssetDayCost:
    """One asset's materialisations on one UTC day on one node pool, summed (peak RSS: the largest)."""

    asset: str
    day: date
    node_pool: str
    materialisations: int = 0
    unmetered: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    cost_usd: float | None = 0.0

    def add(self, values: Mapping[str, Any] | None) -> AssetDayCost:
        """This row with one more materialisation (``values``: its cost keys, ``None`` if it has none)."""
        if values is None:
            return replace(self, materialisations=self.materialisations + 1, unmetered=self.unmetered + 1)
        price = HOURLY_PRICE_USD.get(self.node_pool)
        own_cost = None if price is None else values[WALL_S] / 3600 * price / max(1, values[DIVIDER])
        return replace(
            self,
            materialisations=self.materialisations + 1,
            cpu_s=self.cpu_s + values[CPU_S],
            wall_s=self.wall_s + values[WALL_S],
            peak_rss_mb=max(self.peak_rss_mb, values[PEAK_RSS_MB]),
            bytes_read=self.bytes_read + values[BYTES_READ],
            bytes_written=self.bytes_written + values[BYTES_WRITTEN],
            cost_usd=None if own_cost is None or self.cost_usd is None else self.cost_usd + own_cost,
        )


def cost_values(record: EventLogRecord) -> Mapping[str, Any] | None:
    """The cost keys of one materialisation as plain values; ``None`` when it recorded none."""
    materialization = record.asset_materialization
    metadata = materialization.metadata if materialization else {}
    if CPU_S not in metadata:
        return None
    keys = (CPU_S, WALL_S, PEAK_RSS_MB, BYTES_READ, BYTES_WRITTEN, NODE_POOL, DIVIDER)
    return {key: metadata[key].value for key in keys if key in metadata}


def materialisations(
    instance: DagsterInstance, key: AssetKey, since: datetime | None
) -> Iterator[EventLogRecord]:
    """Every materialisation record of ``key`` (after ``since``), page by page."""
    records_filter = AssetRecordsFilter(asset_key=key, after_timestamp=since.timestamp() if since else None)
    cursor = None
    while True:
        page = instance.fetch_materializations(records_filter, limit=PAGE, cursor=cursor, ascending=True)
        yield from page.records
        if not page.has_more:
            return
        cursor = page.cursor


def cost_rows(instance: DagsterInstance, since: datetime | None = None) -> list[AssetDayCost]:
    """Per asset, UTC day and node pool: the summed cost of every materialisation, sorted that way."""
    rows: dict[tuple[str, date, str], AssetDayCost] = {}
    for key in instance.get_asset_keys():
        asset = key.to_user_string()
        for record in materialisations(instance, key, since):
            values = cost_values(record)
            day = datetime.fromtimestamp(record.timestamp, tz=UTC).date()
            pool = str(values.get(NODE_POOL, "?")) if values else "?"
            row = rows.get((asset, day, pool)) or AssetDayCost(asset, day, pool)
            rows[(asset, day, pool)] = row.add(values)
    return [rows[group] for group in sorted(rows)]


def render_table(rows: list[AssetDayCost]) -> str:
    """A fixed-width table for a terminal, with the total cost last."""
    header = (
        f"{'asset':<48} {'day':<10} {'pool':<12} {'mat':>4} {'unmet':>5} {'cpu_s':>9} {'wall_s':>9} "
        f"{'rss_mb':>7} {'read_mb':>9} {'written_mb':>10} {'usd':>10}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        usd = "n/a" if row.cost_usd is None else f"{row.cost_usd:.6f}"
        lines.append(
            f"{row.asset:<48} {row.day.isoformat():<10} {row.node_pool:<12} {row.materialisations:>4} "
            f"{row.unmetered:>5} {row.cpu_s:>9.2f} {row.wall_s:>9.2f} {row.peak_rss_mb:>7.0f} "
            f"{row.bytes_read / 1e6:>9.2f} {row.bytes_written / 1e6:>10.2f} {usd:>10}"
        )
    total = sum(row.cost_usd or 0.0 for row in rows)
    lines.append(f"total priced cost: {total:.4f} USD over {len(rows)} asset-days")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Per-asset, per-day cost of materialisations.")
    parser.add_argument("--days", type=int, default=None, help="only the last N days (default: all)")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args()
    since = datetime.now(UTC) - timedelta(days=args.days) if args.days else None
    with DagsterInstance.get() as instance:
        rows = cost_rows(instance, since)
    if args.json:
        print(json.dumps([asdict(row) | {"day": row.day.isoformat()} for row in rows], indent=1))
    else:
        print(f"\nCost per asset and UTC day (prices: shared/k8s/prices.py):\n{render_table(rows)}")


if __name__ == "__main__":
    main()
