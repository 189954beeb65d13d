"""``{network}/polished_timeseries``: every raw partition of a network polished into one long table,
with DuckDB checks (uniqueness, continuity, bounds, imputation, flagged fraction) run on the candidate in
the asset's own step: write-audit-publish (shared/publication.py), so a version that fails a blocking
check never replaces the published series that analysts and downstream assets read."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from landing_zone.defs.stations.rules import RULES
from shared.assets.landing_zone import STATION_NETWORKS, station_key
from shared.io_managers.parquet import ALLOW_MISSING_PARTITIONS
from shared.k8s import K8sOpTags
from shared.publication import drop_candidate, failed_blocking, keep_candidate_table, reject
from shared.resources.duckdb_checks import DuckDBChecksResource, SqlCheck
from shared.resources.storage import StorageResource

MAX_FLAGGED_FRACTION = 0.25


def polished_asset(network: str) -> dg.AssetsDefinition:
    """The network's polished series; its checks are specs of the asset itself (not a separate asset
    check run after the IO manager stored it), so they audit the candidate before it is published."""
    key = station_key(network, "polished_timeseries")
    sql_checks = polished_sql_checks()
    specs = [check.spec(key) for check in sql_checks]

    @dg.asset(
        key=key,
        ins={
            "raw": dg.AssetIn(
                key=station_key(network, "raw_observations"),
                partition_mapping=dg.AllPartitionMapping(),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        check_specs=specs,
        op_tags=K8sOpTags.medium(divider=4),
        kinds={"parquet", "polars"},
        description=f"{network.capitalize()} series on a regular daily index, tested, gap-filled per "
        "variable and flagged value by value (rules in landing_zone/defs/stations/rules.py). "
        "Published only when its blocking checks pass.",
    )
    def polished_timeseries(
        storage: StorageResource, duckdb: DuckDBChecksResource, raw: dict[str, pl.DataFrame]
    ) -> Iterator[dg.AssetCheckResult | dg.Output[pl.DataFrame]]:
        from landing_zone.defs.stations.polishing import polish

        tables = [table for table in raw.values() if table.height]
        polished = polish(pl.concat(tables, how="vertical_relaxed"))
        results = list(duckdb.check_frame(key, sql_checks, polished))
        yield from results
        store = storage.get_storage()
        failed = failed_blocking(results, specs)
        if failed:
            reject(key, failed, keep_candidate_table(store, key.path, None, polished))
        yield dg.Output(polished, metadata=polished_metadata(polished, len(tables)))
        # Published: a candidate kept by an earlier rejection no longer explains what analysts read.
        drop_candidate(store, key.path, None, "parquet")

    return polished_timeseries


def polished_metadata(polished: pl.DataFrame, sources: int) -> dict[str, dg.MetadataValue]:
    """What a reviewer compares between versions: flag counts, duplicate readings, sources, stations."""
    from landing_zone.defs.stations.polishing import duplicate_summary

    counts = polished.group_by("flag").len().sort("flag")
    return {
        "flags": dg.MetadataValue.json(dict(zip(counts["flag"], counts["len"].to_list(), strict=True))),
        "duplicate_values": dg.MetadataValue.json(duplicate_summary(polished)),
        "sources": dg.MetadataValue.int(sources),
        "stations": dg.MetadataValue.int(polished["station"].n_unique()),
    }


def polished_sql_checks() -> list[SqlCheck]:
    """Each check selects the offending rows; all are blocking, because a series that fails any of them
    would mislead every analysis read from it, so the last good version stays published instead."""
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


def polished_definitions() -> dg.Definitions:
    """Both networks' polished series; their checks come with the assets (``check_specs``)."""
    return dg.Definitions(assets=[polished_asset(network) for network in STATION_NETWORKS])
