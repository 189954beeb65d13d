"""Keep the sheet partitions equal to the provider's index and request work for what changed.

Each tick reads the live index and registers new sheets at once. Sheets are only run once the stored
``wfs_index`` snapshot matches the live index (its materialisation records a fingerprint): if it does
not, the tick requests the snapshot first and the sheet runs follow on a later tick, so a run never
reads a stale index. Likewise a sheet is only retired (partitions deleted, objects retired by
:mod:`.retirement`) once the snapshot confirms its withdrawal, and never more than
``max_retired_fraction`` of the sheets at once.

Each sheet's last fingerprint comes from the cursor or, where the cursor does not know it (a new
daemon, a reset cursor), from the ``sheet_fingerprint`` of the sheet's latest ``raw_tiles``
materialisation: only new or changed sheets run, and a restarted sensor requests nothing that is
already materialised.
"""

import json
from typing import TYPE_CHECKING

import dagster as dg

from landing_zone.resources.sources import SourcesResource
from shared.assets.landing_zone import REGIONS
from shared.instigators import sensor_status
from shared.partitions import partition_requests
from shared.resources.storage import StorageResource
from shared.storage.layout import PARQUET, AssetLocation

if TYPE_CHECKING:
    from landing_zone.defs.elevation.definitions import ElevationPipeline


def index_sensor(pipeline: "ElevationPipeline") -> dg.SensorDefinition:
    index_key, sheets_name = pipeline.key("wfs_index"), pipeline.sheets.name
    sheet_assets = [pipeline.key("raw_tiles"), pipeline.key("converted_tiles")]

    @dg.sensor(
        name=f"elevation_{pipeline.product}_index_sensor",
        minimum_interval_seconds=600,
        asset_selection=[index_key, *sheet_assets],
        default_status=sensor_status(),
        description=f"Registers and retires {pipeline.product.upper()} sheets; runs new or changed ones.",
    )
    def elevation_index_sensor(
        context: dg.SensorEvaluationContext, sources: SourcesResource, storage: StorageResource
    ) -> dg.SensorResult:
        from landing_zone.defs.elevation.index_source import index_fingerprint, read_index, sheet_fingerprints
        from landing_zone.defs.elevation.retirement import retire_sheet

        url = sources.elevation_index_url.format(product=pipeline.product)
        index = read_index(url, sources.allowed_prefixes("elevation_index", url))
        wanted = set(index["map_sheet"].unique().to_list())
        registered = set(context.instance.get_dynamic_partitions(sheets_name))
        live = index_fingerprint(index)
        if _stored_fingerprint(context, index_key) != live:
            return dg.SensorResult(
                run_requests=[dg.RunRequest(run_key=f"index-{live}", asset_selection=[index_key])],
                dynamic_partitions_requests=partition_requests(
                    pipeline.sheets, wanted, registered, retire=()
                ),
            )
        # Only a withdrawal that the stored snapshot confirms (a second, recorded read) retires data.
        withdrawn = _confirmed_withdrawals(
            context, registered - wanted, len(registered), pipeline.max_retired_fraction
        )
        for sheet in withdrawn:
            for region in REGIONS.get_partition_keys():
                partition = {"map_sheet": sheet, "region": region}
                raw, converted = (AssetLocation(key.path, partition) for key in sheet_assets)
                counts = retire_sheet(storage.get_storage(), raw, converted, "withdrawn")
                context.log.info(f"retired sheet {sheet} in {region}: {counts}")
        current = {
            f"{sheet}|{region}": fingerprint
            for region in REGIONS.get_partition_keys()
            for sheet, fingerprint in sheet_fingerprints(index, region).items()
        }
        seen = json.loads(context.cursor) if context.cursor else {}
        unknown = [name for name in current if name not in seen and name.split("|")[0] in registered]
        seen |= _listed_in_storage(
            storage,
            sheet_assets[0],
            pipeline.sheet_partitions,
            _materialized_fingerprints(context.instance, sheet_assets[0], unknown),
        )
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
            # New sheets registered at once; withdrawn ones deleted only now the snapshot confirmed them.
            dynamic_partitions_requests=partition_requests(
                pipeline.sheets, wanted, registered, retire=withdrawn
            ),
            cursor=json.dumps(current, sort_keys=True),
        )

    return elevation_index_sensor


def _stored_fingerprint(context: dg.SensorEvaluationContext, key: dg.AssetKey) -> str | None:
    event = context.instance.get_latest_materialization_event(key)
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("index_fingerprint") if materialization else None
    return str(value.value) if value is not None else None


def _materialized_fingerprints(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition_keys: list[str]
) -> dict[str, str]:
    """Each partition's ``sheet_fingerprint`` from its latest materialisation of ``key`` (newest first)."""
    found: dict[str, str] = {}
    if not partition_keys:
        return found
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=partition_keys)
    cursor = None
    while len(found) < len(partition_keys):
        page = instance.fetch_materializations(records_filter, limit=1000, cursor=cursor)
        for record in page.records:
            materialization = record.asset_materialization
            value = materialization.metadata.get("sheet_fingerprint") if materialization else None
            if record.partition_key and record.partition_key not in found and value is not None:
                found[record.partition_key] = str(value.value)
        if not page.has_more:
            break
        cursor = page.cursor
    return found


def _confirmed_withdrawals(
    context: dg.SensorEvaluationContext, withdrawn: set[str], registered: int, max_fraction: float
) -> list[str]:
    """The withdrawn sheets to retire now; none when they are more than ``max_fraction`` of the sheets.

    A provider's index that suddenly lacks most sheets is far more likely broken than a real withdrawal;
    retiring is not undone by the next good index, so such a tick retires nothing and says why.
    """
    if not withdrawn:
        return []
    if len(withdrawn) > max_fraction * registered:
        context.log.warning(
            f"the index withdraws {len(withdrawn)} of {registered} sheets (more than {max_fraction:.0%}): "
            "nothing retired; raise max_retired_fraction if this is a real withdrawal"
        )
        return []
    return sorted(withdrawn)


def _listed_in_storage(
    storage: StorageResource,
    key: dg.AssetKey,
    partitions: dg.MultiPartitionsDefinition,
    fingerprints: dict[str, str],
) -> dict[str, str]:
    """The fingerprints of sheets whose raw table is still stored (a retired sheet's is deleted)."""
    store = storage.get_storage()
    return {
        name: fingerprint
        for name, fingerprint in fingerprints.items()
        if store.exists(AssetLocation.for_partition(key, partitions, name).key(PARQUET))
    }
