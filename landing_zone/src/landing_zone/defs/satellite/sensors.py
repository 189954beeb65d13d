"""``satellite_catalog_sensor``: the month partitions follow the STAC catalogue, and each new or changed
month of a region is fetched and composited.

Each tick reads every region's catalogue (:mod:`.catalogue`) and keeps ``satellite_months`` equal to the
months any region's catalogue holds: new months are registered, and a month with no item left in any
catalogue (its scenes withdrawn by a later version) is deleted, unless no catalogue lists any item at
all: that is taken for a broken publication and deletes nothing. Deleting the partition key does not
delete stored objects: the raw layer keeps what was fetched, and the materialisations stay recorded.

A region whose catalogue cannot be read this tick (:class:`~.catalogue.CatalogueError`: unreachable,
malformed) is logged and otherwise left as it was: its entries of the previous cursor are carried
forward, so its months count as still wanted (nothing is deleted on its account) and none of them is
requested; the other regions go on. A failing region without entries in the cursor (a reset cursor, a
new region) could hold any registered month, so that tick deletes nothing at all.

For every month of every region whose fingerprint (item ids, asset hrefs relative to the catalogue,
declared checksums and grids) differs from the one the cursor last recorded, it requests a run of
``satellite/scenes`` and ``satellite/ndvi`` for that partition. The cursor is the JSON of the current
fingerprints, so an evaluation that finds nothing changed requests nothing; the run key carries the
fingerprint too, so the daemon starts a changed month again but never the same version twice, even
after the cursor was reset. A month that is withdrawn and comes back with the same fingerprint is
registered again but not requested (its run key was used): its published scenes and composite are the
ones of that version and stay readable. A run that fails is not requested again for the same version:
it shows as failed, for someone to look at and rerun.

Stopped by default, as every sensor of the location (Dagster's default): an operator turns it on.
"""

import json
import logging
from collections.abc import Sequence

import dagster as dg

from landing_zone.defs.satellite.keys import (
    SATELLITE_MONTHS,
    SATELLITE_NDVI,
    SATELLITE_PARTITIONS,
    SATELLITE_SCENES,
)
from landing_zone.resources.sources import SourcesResource
from shared.instigators import sensor_status
from shared.partitions import partition_requests


@dg.sensor(
    name="satellite_catalog_sensor",
    minimum_interval_seconds=3600,
    asset_selection=[SATELLITE_SCENES, SATELLITE_NDVI],
    default_status=sensor_status(),
    description="Keeps satellite_months equal to the months the STAC catalogue holds; fetches and "
    "composites new or changed months of each region.",
)
def satellite_catalog_sensor(
    context: dg.SensorEvaluationContext, sources: SourcesResource
) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    found, unread = catalogue_fingerprints(sources, context.log)
    carried = {name: fingerprint for name, fingerprint in seen.items() if region_of(name) in unread}
    fingerprints = found | carried
    registered = context.instance.get_dynamic_partitions(SATELLITE_MONTHS.name or "")
    wanted = {name.split("|")[0] for name in fingerprints}
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{name}|{fingerprint}",
                asset_selection=[SATELLITE_SCENES, SATELLITE_NDVI],
                partition_key=partition_key(name),
            )
            for name, fingerprint in sorted(found.items())
            if seen.get(name) != fingerprint
        ],
        dynamic_partitions_requests=partition_requests(
            SATELLITE_MONTHS,
            wanted,
            registered,
            retire=None if may_delete(context, wanted, registered, unread, carried) else (),
        ),
        cursor=json.dumps(fingerprints, sort_keys=True),
    )


def may_delete(
    context: dg.SensorEvaluationContext,
    wanted: set[str],
    registered: Sequence[str],
    unread: set[str],
    carried: dict[str, str],
) -> bool:
    """Whether registered months no catalogue holds may be deleted this tick (with why not, logged)."""
    blind = sorted(unread - {region_of(name) for name in carried})
    if blind:
        context.log.warning(
            f"the satellite catalogue of {', '.join(blind)} could not be read and the cursor holds no month "
            "of it: nothing deleted this tick (any registered month may be one of its)"
        )
        return False
    if not wanted and registered:
        context.log.warning(
            "every satellite catalogue is empty: nothing deleted (a catalogue that suddenly lists no item is "
            "far likelier broken than withdrawn; delete the months by hand if it really is)"
        )
        return False
    return True


def catalogue_fingerprints(sources: SourcesResource, log: logging.Logger) -> tuple[dict[str, str], set[str]]:
    """``{"YYYY-MM|region": fingerprint}`` of every month each readable region's catalogue holds, and the
    regions whose catalogue could not be read (each logged with why); items in no month are logged."""
    from landing_zone.defs.satellite.catalogue import CatalogueError, read_catalogue
    from shared.regions import region

    fingerprints, unread = {}, set()
    for region_name in SATELLITE_PARTITIONS.get_partitions_def_for_dimension("region").get_partition_keys():
        url = sources.region_url("satellite_catalog", region_name)
        try:
            catalogue = read_catalogue(
                url, sources.allowed_prefixes("satellite_catalog", url), region(region_name)
            )
        except CatalogueError as error:
            log.warning(f"region {region_name}: {error}; its months are kept as the last tick saw them")
            unread.add(region_name)
            continue
        for item_id, reason in catalogue.unplaced.items():
            log.warning(f"{url}: item {item_id} is in no month: {reason}")
        for month, scenes in catalogue.months.items():
            fingerprints[f"{month}|{region_name}"] = scenes.fingerprint
    return fingerprints, unread


def region_of(name: str) -> str:
    """The region of a cursor entry ``YYYY-MM|region``."""
    return name.split("|")[1]


def partition_key(name: str) -> dg.MultiPartitionKey:
    """The partition of a cursor entry ``YYYY-MM|region``."""
    month, region_name = name.split("|")
    return dg.MultiPartitionKey({"month": month, "region": region_name})
