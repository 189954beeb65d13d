"""``satellite_catalog_sensor`` ticks over two regions, in a process of its own: the regions come from the
regions file (``PLATFORM_REGIONS_FILE``), which is read once per process.

    PLATFORM_REGIONS_FILE=regions.yaml python -m tests.satellite.two_regions_probe TICKS_JSON

``TICKS_JSON`` lists per tick ``{region: source folder or "broken"}``; before the tick each region's
catalogue folder (the regions file's per-region ``satellite_catalog`` override) is replaced by a copy of
the source, or by a catalogue that is not JSON. A tick with ``"reset_cursor": true`` starts without the
previous cursor, as after an operator reset it. Prints one JSON line: per tick the registered months, the
requested partitions and the cursor.
"""

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from landing_zone.defs.satellite.keys import SATELLITE_MONTHS
from landing_zone.defs.satellite.sensors import satellite_catalog_sensor
from shared.partitions import apply_partition_requests
from shared.regions import platform_regions
from tests.support.sources import sources_with


def replace_catalogue(catalogue: Path, source: str) -> None:
    """The region's catalogue folder as a copy of ``source``, or a catalogue that cannot be parsed."""
    shutil.rmtree(catalogue.parent, ignore_errors=True)
    if source == "broken":
        catalogue.parent.mkdir(parents=True)
        catalogue.write_text("{ this is not a catalogue")
    else:
        shutil.copytree(source, catalogue.parent)


def main(ticks: list[dict[str, Any]]) -> list[dict[str, object]]:
    catalogues = {
        name: Path(place.sources["satellite_catalog"]) for name, place in platform_regions().items()
    }
    instance = dg.DagsterInstance.ephemeral()
    cursor, outcomes = None, []
    for tick in ticks:
        if tick.pop("reset_cursor", False):
            cursor = None
        for name, source in tick.items():
            replace_catalogue(catalogues[name], source)
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"sources": sources_with(satellite_catalog_url="unused")},
        )
        result = satellite_catalog_sensor(context)
        apply_partition_requests(instance, result.dynamic_partitions_requests or [])
        cursor = result.cursor
        outcomes.append(
            {
                "months": sorted(instance.get_dynamic_partitions(SATELLITE_MONTHS.name)),
                "requested": sorted(str(request.partition_key) for request in result.run_requests or []),
                "cursor": json.loads(cursor or "{}"),
            }
        )
    return outcomes


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
