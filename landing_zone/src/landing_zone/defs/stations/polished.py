"""``{network}/polished_timeseries``: every raw partition of a network polished into one long table,
with DuckDB checks on the result (uniqueness, continuity, bounds, imputation, flagged fraction)."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from landing_zone.defs.stations.rules import RULES
from shared.assets.landing_zone import STATION_NETWORKS, station_key
from shared.io_managers.parquet import ALLOW_MISSING_PARTITIONS
from shared.k8s import K8sOpTags
from shared.resources.duckdb_checks import DuckDBChecksResource, SqlCheck

MAX_FLAGGED_FRACTION = 0.25


def polished_asset(network: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=station_key(network, "polished_timeseries"),
        ins={
            "raw": dg.AssetIn(
                key=station_key(network, "raw_observations"),
                partition_mapping=dg.AllPartitionMapping(),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        op_tags=K8sOpTags.medium(divider=4),
        kinds={"parquet", "polars"},
        description=f"{network.capitalize()} series on a regular daily index, tested, gap-filled per "
        "variable and flagged value by value (rules in landing_zone/defs/stations/rules.py).",
    )
    def polished_timeseries(context: dg.AssetExecutionContext, raw: dict[str, pl.DataFrame]) -> pl.DataFrame:
        from landing_zone.defs.stations.polishing import duplicate_summary, polish

        tables = [table for table in raw.values() if table.height]
        polished = polish(pl.concat(tables, how="vertical_relaxed"))
        counts = polished.group_by("flag").len().sort("flag")
        context.add_output_metadata(
            {
                "flags": dict(zip(counts["flag"], counts["len"].to_list(), strict=True)),
                "duplicate_values": duplicate_summary(polished),
                "sources": len(tables),
                "stations": polished["station"].n_unique(),
            }
        )
        return polished

    return polished_timeseries


def polished_sql_checks() -> list[SqlCheck]:
    bounds = " OR ".join(
        f"(variable = '{rule.variable}' AND (value < {rule.minimum} OR value > {rule.maximum}))"
        for rule in RULES.values()
    )
    return [
        SqlCheck(
            name="station_time_unique",
            blocking=True,
            description="One row per station, day and variable.",
            sql="SELECT station, time, variable, count(*) AS rows FROM {table} "
            "GROUP BY ALL HAVING count(*) > 1",
        ),
        SqlCheck(
            name="index_continuity",
            blocking=True,
            description="Every day between first and last report.",
            sql="SELECT station, variable, count(*) AS rows, date_diff('day', min(time), max(time)) + 1 "
            "AS days FROM {table} GROUP BY ALL HAVING count(*) <> date_diff('day', min(time), max(time)) + 1",
        ),
        SqlCheck(
            name="physical_bounds",
            blocking=True,
            description="Polished values within the rules' ranges.",
            sql=f"SELECT station, time, variable, value FROM {{table}} WHERE {bounds}",
        ),
        SqlCheck(
            name="precipitation_never_imputed",
            blocking=True,
            description="Rain is never invented.",
            sql="SELECT station, time FROM {table} WHERE variable = 'precipitation_mm' AND flag = 'imputed'",
        ),
        SqlCheck(
            name="flagged_fraction",
            blocking=True,
            description=f"At most {MAX_FLAGGED_FRACTION:.0%} of a station's values flagged.",
            sql="SELECT station, variable, avg(CASE WHEN flag <> 'ok' THEN 1 ELSE 0 END) AS flagged "
            f"FROM {{table}} GROUP BY ALL HAVING flagged > {MAX_FLAGGED_FRACTION}",
        ),
    ]


def polished_checks(network: str) -> dg.AssetChecksDefinition:
    key = station_key(network, "polished_timeseries")
    checks = polished_sql_checks()

    @dg.multi_asset_check(
        name=f"{network}_polished_timeseries_checks",
        specs=[check.spec(key) for check in checks],
        op_tags=K8sOpTags.small(),
    )
    def polished_timeseries_checks(duckdb: DuckDBChecksResource) -> Iterator[dg.AssetCheckResult]:
        yield from duckdb.run_checks(key, checks)

    return polished_timeseries_checks


def polished_definitions() -> dg.Definitions:
    return dg.Definitions(
        assets=[polished_asset(network) for network in STATION_NETWORKS],
        asset_checks=[polished_checks(network) for network in STATION_NETWORKS],
    )
