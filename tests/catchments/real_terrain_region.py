"""Run the catchments chain for a second region, the real DEM, in a process of its own.

Regions come from the regions file (``PLATFORM_REGIONS_FILE``) and are fixed while a code location is
loaded, so the test that adds a region runs the chain here, in a fresh interpreter whose environment
names a file with both regions. Usage::

    PLATFORM_REGIONS_FILE=regions.yaml python -m tests.catchments.real_terrain_region WORKDIR REGION DTM

``DTM`` is put where the elevation pipeline publishes the region's consolidated DTM; the rivers come from
the region's ``sources.rivers`` URL in the regions file. Prints one JSON line: every check evaluation
(name, asset, partition, passed, blocking), the steps that failed, and the storage root.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import dagster as dg

from landing_zone.defs.catchments.definitions import defs as catchment_defs
from landing_zone.defs.catchments.keys import catchment_key, hydrography_key
from shared.assets.landing_zone import CONDITIONING, DTM_CONSOLIDATED, REGIONS
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from tests.support.sources import sources_with

REGION_STAGES = [hydrography_key("rivers"), catchment_key("analysis_dem"), hydrography_key("rivers_aligned")]


def run(workdir: Path, region: str, dtm: Path) -> dict[str, Any]:
    storage = StorageResource(url=str(workdir / "storage"))
    location = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, region))
    storage.get_storage().put_file(dtm, location.key(COG))
    sources = sources_with()  # the regions file names this region's rivers
    dtm_spec = dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER)
    assets = [dtm_spec, *(catchment_defs.assets or [])]
    resources = {**platform_resources(storage), "sources": sources}
    instance = dg.DagsterInstance.ephemeral()
    later = [key for a in catchment_defs.assets or [] for key in a.keys if key not in REGION_STAGES]  # type: ignore[union-attr]
    partitions: list[tuple[list[dg.AssetKey], str]] = [(REGION_STAGES, region)]
    partitions += [
        (later, dg.MultiPartitionKey({"conditioning": strategy, "region": region}))
        for strategy in CONDITIONING.get_partition_keys()
    ]
    checks: list[dict[str, Any]] = []
    failed_steps: list[str] = []
    for selection, partition in partitions:
        result = dg.materialize(
            [*assets, *(catchment_defs.asset_checks or [])],
            instance=instance,
            resources=resources,
            partition_key=partition,
            selection=selection,
            raise_on_error=False,
        )
        failed_steps += [f"{event.step_key}|{partition}" for event in result.get_step_failure_events()]
        checks += [
            {
                "check": evaluation.check_name,
                "asset": evaluation.asset_key.to_user_string(),
                "partition": str(partition),
                "passed": evaluation.passed,
                "blocking": evaluation.blocking,
            }
            for evaluation in result.get_asset_check_evaluations()
        ]
    return {"checks": checks, "failed_steps": failed_steps, "storage": str(workdir / "storage")}


if __name__ == "__main__":
    workdir, region, dtm = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    print(json.dumps(run(workdir, region, dtm)), flush=True)
