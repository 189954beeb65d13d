"""Keep the sheet partitions equal to the provider's index and request work for what changed.

Each tick reads the live index. Dynamic partitions are added and deleted so the set always equals the
index's sheets. Sheets are only run once the stored ``wfs_index`` snapshot matches the live index (its
materialisation records a fingerprint): if it does not, the tick requests the snapshot first and the
sheet runs follow on a later tick, so a run never reads a stale index. A cursor remembers each sheet's
fingerprint, so only new or changed sheets run and a tick without changes requests nothing.
"""

import json
from typing import TYPE_CHECKING

import dagster as dg

from landing_zone.resources.sources import SourcesResource
from shared.assets.landing_zone import REGIONS

if TYPE_CHECKING:
    from landing_zone.defs.elevation.pipeline import ElevationPipeline


def index_sensor(pipeline: "ElevationPipeline") -> dg.SensorDefinition:
    index_key, sheets_name = pipeline.key("wfs_index"), pipeline.sheets.name
    sheet_assets = [pipeline.key("raw_tiles"), pipeline.key("converted_tiles")]

    @dg.sensor(
        name=f"elevation_{pipeline.product}_index_sensor",
        minimum_interval_seconds=600,
        asset_selection=[index_key, *sheet_assets],
        description=f"Registers and retires {pipeline.product.upper()} sheets; runs new or changed ones.",
    )
    def elevation_index_sensor(
        context: dg.SensorEvaluationContext, sources: SourcesResource
    ) -> dg.SensorResult:
        from landing_zone.defs.elevation.index_source import index_fingerprint, read_index, sheet_fingerprints

        index = read_index(sources.elevation_index_url.format(product=pipeline.product))
        wanted = set(index["map_sheet"].unique().to_list())
        registered = set(context.instance.get_dynamic_partitions(sheets_name))
        partition_requests = []
        if wanted - registered:
            partition_requests.append(pipeline.sheets.build_add_request(sorted(wanted - registered)))
        if registered - wanted:
            partition_requests.append(pipeline.sheets.build_delete_request(sorted(registered - wanted)))
        live = index_fingerprint(index)
        if _stored_fingerprint(context, index_key) != live:
            return dg.SensorResult(
                run_requests=[dg.RunRequest(run_key=f"index-{live}", asset_selection=[index_key])],
                dynamic_partitions_requests=partition_requests,
            )
        seen = json.loads(context.cursor) if context.cursor else {}
        current = {
            f"{sheet}|{region}": fingerprint
            for region in REGIONS.get_partition_keys()
            for sheet, fingerprint in sheet_fingerprints(index, region).items()
        }
        runs = [
            dg.RunRequest(
                run_key=f"{name}|{fingerprint}",
                asset_selection=sheet_assets,
                partition_key=dg.MultiPartitionKey(
                    dict(zip(("map_sheet", "region"), name.split("|"), strict=True))
                ),
            )
            for name, fingerprint in sorted(current.items())
            if seen.get(name) != fingerprint
        ]
        return dg.SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=partition_requests,
            cursor=json.dumps(current, sort_keys=True),
        )

    return elevation_index_sensor


def _stored_fingerprint(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> str | None:
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("index_fingerprint") if materialization else None
    return str(value.value) if value is not None else None
