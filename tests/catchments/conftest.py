"""The catchments chain materialised on the small sample region, once per module that asks for it.

The consolidated DTM is the generator's true DTM put where the elevation pipeline stores it, so these
tests exercise delineation without re-running tile conversion (tested in ``tests/elevation``).
"""

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from landing_zone.defs.catchments.definitions import defs as catchment_defs
from landing_zone.defs.catchments.keys import catchment_key, hydrography_key
from shared.assets.landing_zone import DTM_CONSOLIDATED, REGIONS
from shared.resources.platform import RASTER_IO_MANAGER, platform_resources
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from tests.support.sources import sources_with

REGION = "pilica"
REGION_STAGES = [hydrography_key("rivers"), catchment_key("analysis_dem"), hydrography_key("rivers_aligned")]


@dataclass
class Chain:
    """A storage root and instance on which the chain ran, and the results of each run."""

    storage: StorageResource
    instance: dg.DagsterInstance
    region_run: dg.ExecuteInProcessResult
    strategy_runs: dict[str, dg.ExecuteInProcessResult]

    def metadata(self, key: dg.AssetKey, strategy: str | None = None) -> dict:
        run = self.region_run if strategy is None else self.strategy_runs[strategy]
        events = [e for e in run.get_asset_materialization_events() if e.asset_key == key]
        return {name: value.value for name, value in events[0].materialization.metadata.items()}

    def checks(self, strategy: str) -> dict[str, dg.AssetCheckEvaluation]:
        return {e.check_name: e for e in self.strategy_runs[strategy].get_asset_check_evaluations()}


def strategy_key(strategy: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"conditioning": strategy, "region": REGION})


def run_chain(
    root: Path, region: Path, strategies: tuple[str, ...], storage: StorageResource | None = None
) -> Chain:
    """Materialise every catchments asset (with checks) for the region and each strategy."""
    storage = storage or StorageResource(url=str(root / "storage"))
    storage.get_storage().put_file(
        region / "truth" / "dtm.tif",
        AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG),
    )
    sources = sources_with(rivers_url=(region / "hydrography" / "rivers.geojson").as_uri())
    defs = catchment_defs
    dtm = dg.AssetSpec(DTM_CONSOLIDATED, partitions_def=REGIONS).with_io_manager_key(RASTER_IO_MANAGER)
    assets = [dtm, *(defs.assets or [])]
    resources = {**platform_resources(storage), "sources": sources}
    instance = dg.DagsterInstance.ephemeral()

    def run(selection: list[dg.AssetKey], partition: str) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*assets, *(defs.asset_checks or [])],
            instance=instance,
            resources=resources,
            partition_key=partition,
            selection=selection,
            raise_on_error=False,
        )

    later = [key for a in defs.assets or [] for key in a.keys if key not in REGION_STAGES]  # type: ignore[union-attr]
    return Chain(
        storage,
        instance,
        run(REGION_STAGES, REGION),
        {strategy: run(later, strategy_key(strategy)) for strategy in strategies},
    )


@pytest.fixture(scope="session")
def catchment_chain(small_region: Path, tmp_path_factory: pytest.TempPathFactory) -> Chain:
    return run_chain(tmp_path_factory.mktemp("catchments"), small_region, ("burn_fill", "fill"))
