"""The four assets of one station network, built for a :class:`~.definitions.StationNetwork`.

A ``raw_observations`` partition fetches its provider file, parses it and only then stores it in the raw
layer (:mod:`.raw_layer`), so a file whose format changed fails before anything is written.
``polished_timeseries`` polishes every raw partition into one long table, with DuckDB checks
(:mod:`.checks`) run on the candidate in the asset's own step: write-audit-publish
(shared/publication.py), so a version that fails a blocking check never replaces the published series
that analysts and downstream assets read. The polished series follows the raw layer by itself
(:func:`shared.automation.when_deps_passed`): once a new or revised file is stored and no registered file
is missing or still running.
"""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from landing_zone.defs.stations.checks import polished_sql_checks
from landing_zone.defs.stations.polishing import OUTPUT_DESCRIPTIONS, OUTPUT_SCHEMA
from landing_zone.defs.stations.provider_formats import (
    FORMATS,
    STATION_LIST_FORMAT,
    ProviderFormat,
    parse_provider_csv,
)
from landing_zone.defs.stations.provider_listing import STATION_LIST, is_source, listed_file, source_key
from landing_zone.defs.stations.raw_layer import Ingested, ingest, read_provider_zip
from landing_zone.defs.stations.schedules import POLISHED_FRESHNESS
from landing_zone.defs.stations.sync_plan import PLAN_DESCRIPTIONS, PLAN_SCHEMA, plan_metadata, plan_table
from landing_zone.resources.sources import SourcesResource
from landing_zone.sources import RemoteFile
from shared.automation import when_deps_passed
from shared.columns import described_columns
from shared.io_managers.parquet import ALLOW_MISSING_PARTITIONS
from shared.k8s import K8sOpTags
from shared.publication import publish_table_if_passed
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.storage import StorageResource
from shared.storage.layout import AssetLocation

if TYPE_CHECKING:
    from landing_zone.defs.stations.definitions import StationNetwork


def sync_plan_asset(network: "StationNetwork") -> dg.AssetsDefinition:
    """The plan the sensor acts on, materialised so a reviewer sees what a sync would fetch and why."""

    @dg.asset(
        key=network.key("sync_plan"),
        op_tags=K8sOpTags.small(),
        kinds={"parquet", "polars"},
        metadata=described_columns(network.key("sync_plan").to_user_string(), PLAN_SCHEMA, PLAN_DESCRIPTIONS),
        description=f"The {network.network} provider's yearly files compared with the raw layer: new, "
        "changed, unchanged or gone.",
    )
    def sync_plan(sources: SourcesResource, storage: StorageResource) -> dg.Output[pl.DataFrame]:
        plan = network.plan(sources, storage)
        table = plan_table(plan)
        return dg.Output(table, metadata=plan_metadata(plan, table))

    return sync_plan


def stations_asset(network: "StationNetwork") -> dg.AssetsDefinition:
    """The station list, taken into the raw layer like the observation files."""

    @dg.asset(
        key=network.key("stations"),
        op_tags=K8sOpTags.small(),
        kinds={"parquet", "polars"},
        metadata=provider_columns(network.key("stations"), STATION_LIST_FORMAT),
        description=f"The {network.network} provider's station list (code, name, river, WGS84 position, "
        "elevation); the file itself is kept unchanged beside the table.",
    )
    def stations(sources: SourcesResource, storage: StorageResource) -> dg.Output[pl.DataFrame]:
        allowed = network.allowed(sources)
        file = listed_file(network.url(sources), lambda f: f.name == STATION_LIST, STATION_LIST, allowed)
        ingested = ingest(
            file,
            storage.get_storage(),
            AssetLocation.for_partition(network.key("stations")),
            "stations",
            lambda path, _: parse_provider_csv(path, STATION_LIST_FORMAT, file.name),
            allowed,
        )
        table = ingested.table
        return dg.Output(table, metadata=ingest_metadata(file, ingested) | {"stations": table.height})

    return stations


def raw_observations_asset(network: "StationNetwork") -> dg.AssetsDefinition:
    """One provider file per partition, so a revised file re-runs alone."""
    partitions = network.sources_partitions

    @dg.asset(
        key=network.key("raw_observations"),
        partitions_def=partitions,
        op_tags=K8sOpTags.small(),
        kinds={"parquet", "polars"},
        metadata=provider_columns(network.key("raw_observations"), FORMATS[network.network]),
        description=f"One {network.network} provider file, kept unchanged in the raw layer and parsed "
        "into a typed table (station, UTC time, one column per variable, source, line).",
    )
    def raw_observations(
        context: dg.AssetExecutionContext, sources: SourcesResource, storage: StorageResource
    ) -> dg.Output[pl.DataFrame]:
        source = context.partition_key
        allowed = network.allowed(sources)
        file = listed_file(
            network.url(sources),
            lambda f: is_source(f.name) and source_key(f.name) == source,
            f"the file of partition {source!r}",
            allowed,
        )
        ingested = ingest(
            file,
            storage.get_storage(),
            AssetLocation.for_partition(network.key("raw_observations"), partitions, source),
            source,
            lambda path, work_dir: read_provider_zip(path, network.network, source, work_dir),
            allowed,
        )
        table = ingested.table
        stations = table["station"].n_unique()
        return dg.Output(
            table,
            metadata=ingest_metadata(file, ingested)
            | time_span(table)
            | {"rows": table.height, "stations": stations},
        )

    return raw_observations


def polished_asset(network: "StationNetwork") -> dg.AssetsDefinition:
    """The network's polished series; its checks are specs of the asset itself (not a separate asset
    check run after the IO manager stored it), so they audit the candidate before it is published."""
    key = network.key("polished_timeseries")
    sql_checks = polished_sql_checks()
    specs = [check.spec(key) for check in sql_checks]

    @dg.asset(
        key=key,
        ins={
            "raw": dg.AssetIn(
                key=network.key("raw_observations"),
                partition_mapping=dg.AllPartitionMapping(),
                metadata={ALLOW_MISSING_PARTITIONS: True},
            )
        },
        check_specs=specs,
        automation_condition=when_deps_passed(),
        freshness_policy=POLISHED_FRESHNESS,
        op_tags=K8sOpTags.medium(divider=4),
        kinds={"parquet", "polars"},
        metadata=described_columns(key.to_user_string(), OUTPUT_SCHEMA, OUTPUT_DESCRIPTIONS),
        description=f"{network.network.capitalize()} series on a regular daily index, tested, gap-filled "
        "per variable and flagged value by value (rules in landing_zone/defs/stations/rules.py). "
        "Published only when its blocking checks pass.",
    )
    def polished_timeseries(
        storage: StorageResource, duckdb: DuckDBChecksResource, raw: dict[str, pl.DataFrame]
    ) -> Iterator[dg.AssetCheckResult | dg.Output[pl.DataFrame]]:
        from landing_zone.defs.stations.polishing import polish

        tables = [table for table in raw.values() if table.height]
        polished = polish(pl.concat(tables, how="vertical_relaxed"))
        results = list(duckdb.check_frame(key, sql_checks, polished))
        store, location = storage.get_storage(), AssetLocation.for_partition(key)
        yield from publish_table_if_passed(
            key,
            results,
            specs,
            polished,
            polished_metadata(polished, len(tables)),
            store,
            location,
        )

    return polished_timeseries


def ingest_metadata(file: RemoteFile, ingested: Ingested) -> dict[str, Any]:
    """Where a raw file came from and where it is stored, with a URI an analyst can open."""
    return {
        "source_url": ingested.fetched.url,
        "source_name": file.name,
        "source_sha256": ingested.fetched.sha256,
        "source_bytes": ingested.fetched.size,
        "raw_uri": dg.MetadataValue.path(ingested.stored.uri),
    }


def time_span(table: pl.DataFrame) -> dict[str, Any]:
    """First and last time of a table, for metadata (nothing for an empty one)."""
    if table.is_empty():
        return {}
    return {"first_time": str(table["time"].min()), "last_time": str(table["time"].max())}


def polished_metadata(polished: pl.DataFrame, sources: int) -> dict[str, dg.MetadataValue]:
    """What a reviewer compares between versions: flag counts, duplicate readings, sources, stations."""
    from landing_zone.defs.stations.polishing import duplicate_summary

    counts = polished.group_by("flag").len().sort("flag")
    return {
        "flags": dg.MetadataValue.json(dict(zip(counts["flag"], counts["len"].to_list(), strict=True))),
        "flags_per_station": flags_per_station(polished),
        "duplicate_values": dg.MetadataValue.json(duplicate_summary(polished)),
        "sources": dg.MetadataValue.int(sources),
        "stations": dg.MetadataValue.int(polished["station"].n_unique()),
    }


def provider_columns(key: dg.AssetKey, fmt: ProviderFormat) -> dict[str, Any]:
    """Definition metadata describing a table parsed from a provider file, from its declared format."""
    return described_columns(key.to_user_string(), fmt.table_schema, fmt.column_descriptions)


def flags_per_station(polished: pl.DataFrame) -> dg.TableMetadataValue:
    """Per station, how many values carry each flag other than ``ok``: where a reviewer looks first."""
    from landing_zone.defs.stations.rules import FLAGS

    flagged = [flag for flag in FLAGS if flag != "ok"]
    counts = polished.filter(pl.col("flag") != "ok").group_by("station", "flag").len()
    per_station: dict[str, dict[str, int]] = {}
    for station, flag, count in counts.iter_rows():
        per_station.setdefault(station, {})[flag] = count
    rows = [
        dg.TableRecord({"station": station, **{flag: per_station[station].get(flag, 0) for flag in flagged}})
        for station in sorted(per_station)
    ]
    columns = [dg.TableColumn("station", "string")] + [dg.TableColumn(flag, "int") for flag in flagged]
    return dg.MetadataValue.table(rows, schema=dg.TableSchema(columns=columns))
