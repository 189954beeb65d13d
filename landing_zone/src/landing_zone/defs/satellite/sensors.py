"""``satellite_catalog_sensor``: the month partitions follow the STAC catalogue, and each new or changed
month of a region is fetched and composited.

Each tick reads every region's catalogue (:mod:`.catalogue`) and keeps ``satellite_months`` equal to the
months any region's catalogue holds: new months are registered, and a month with no item left in any
catalogue (its scenes withdrawn by a later version) is deleted, unless no catalogue lists any item at
all: that is taken for a broken publication and deletes nothing. Deleting the partition key does not
delete stored objects: the raw layer keeps what was fetched, and a month that comes back is fetched again.

For every month of every region whose fingerprint (item ids, asset hrefs relative to the catalogue,
declared checksums and grids) differs from the one the cursor last recorded, it requests a run of
``satellite/scenes`` and ``satellite/ndvi`` for that partition. The cursor is the JSON of the current
fingerprints, so an evaluation that finds nothing changed requests nothing; the run key carries the
fingerprint too, so the daemon starts a changed month again but never the same version twice, even
after the cursor was reset. A run that fails is not requested again for the same version: it shows as
failed, for someone to look at and rerun.

Stopped by default, as every sensor of the location (Dagster's default): an operator turns it on.
"""

import json
import logging

import dagster as dg

from landing_zone.defs.satellite.keys import (
    SATELLITE_MONTHS,
    SATELLITE_NDVI,
    SATELLITE_PARTITIONS,
    SATELLITE_SCENES,
)
from landing_zone.resources.sources import SourcesResource
from shared.partitions import partition_requests


@dg.sensor(
    name="satellite_catalog_sensor",
    minimum_interval_seconds=3600,
    asset_selection=[SATELLITE_SCENES, SATELLITE_NDVI],
    description="Keeps satellite_months equal to the months the STAC catalogue holds; fetches and "
    "composites new or changed months of each region.",
)
def satellite_catalog_sensor(
    context: dg.SensorEvaluationContext, sources: SourcesResource
) -> dg.SensorResult:
    fingerprints = catalogue_fingerprints(sources, context.log)
    seen = json.loads(context.cursor) if context.cursor else {}
    registered = context.instance.get_dynamic_partitions(SATELLITE_MONTHS.name or "")
    wanted = {name.split("|")[0] for name in fingerprints}
    if registered and not wanted:
        context.log.warning(
            "every satellite catalogue is empty: nothing deleted (a catalogue that suddenly lists no item is "
            "far likelier broken than withdrawn; delete the months by hand if it really is)"
        )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{name}|{fingerprint}",
                asset_selection=[SATELLITE_SCENES, SATELLITE_NDVI],
                partition_key=partition_key(name),
            )
            for name, fingerprint in sorted(fingerprints.items())
            if seen.get(name) != fingerprint
        ],
        dynamic_partitions_requests=partition_requests(
            SATELLITE_MONTHS, wanted, registered, retire=None if wanted else ()
        ),
        cursor=json.dumps(fingerprints, sort_keys=True),
    )


def catalogue_fingerprints(sources: SourcesResource, log: logging.Logger) -> dict[str, str]:
    """``{"YYYY-MM|region": fingerprint}`` of every month each region's catalogue holds; items that
    belong to no month are logged."""
    from landing_zone.defs.satellite.catalogue import read_catalogue
    from shared.regions import region

    fingerprints = {}
    for region_name in SATELLITE_PARTITIONS.get_partitions_def_for_dimension("region").get_partition_keys():
        url = sources.region_url("satellite_catalog", region_name)
        catalogue = read_catalogue(
            url, sources.allowed_prefixes("satellite_catalog", url), region(region_name)
        )
        for item_id, reason in catalogue.unplaced.items():
            log.warning(f"{url}: item {item_id} is in no month: {reason}")
        for month, scenes in catalogue.months.items():
            fingerprints[f"{month}|{region_name}"] = scenes.fingerprint
    return fingerprints


def partition_key(name: str) -> dg.MultiPartitionKey:
    """The partition of a cursor entry ``YYYY-MM|region``."""
    month, region_name = name.split("|")
    return dg.MultiPartitionKey({"month": month, "region": region_name})
