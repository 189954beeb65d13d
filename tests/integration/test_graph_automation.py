"""The automation daemon propagates a change through the graph, and only a change whose blocking checks
passed: a new station file reaches the polished series, the daily grids, the catchment features and the
training data; a new DTM reaches the catchment chain; a failed blocking check stops it; a tick with
nothing new requests nothing.

The graph is the deployed workspace's (:func:`platform_dev.workspace.joined_definitions`: both code
locations, landing-zone checks included) and the conditions are its own, evaluated together as the
locations' automation sensors (``shared.instigators.automation_sensor``) evaluate them (all but the
weather-model runs' chain, tested in
tests/forecasts), tick by tick with ``dg.evaluate_automation_conditions`` and its cursor carried.
Materialisations and check results are recorded by real runs of stand-ins
(:func:`tests.support.automation.stand_in`); a requested run is recorded the same way, every check
passing, as the daemon's run would record it.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping

import dagster as dg
import pytest

from landing_zone.defs.catchments.keys import catchment_key
from landing_zone.defs.elevation.keys import elevation_key
from landing_zone.defs.stations.keys import station_key
from platform_dev.workspace import joined_definitions
from shared.assets.discharge_model import (
    FORECAST_VERIFICATION,
    GAUGE_CATCHMENTS,
    LSTM_MODEL,
    MODEL_EVALUATION,
    TRAINING_DATA,
)
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CLIMATIC_INDICES,
    DTM_CONSOLIDATED,
    FORECAST_RUNS,
    HYDRO_POLISHED,
    METEO_POLISHED,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    RIVERS_ALIGNED,
)
from shared.automation import when_deps_passed
from tests.support.automation import stand_in

REGION = "pilica"
MONTHS = ("2023-06", "2023-07")
DYNAMIC = {
    "meteo_sources": ["2023"],
    "hydro_sources": ["2023"],
    "meteo_months": list(MONTHS),
    "elevation_dtm_sheets": ["N-34-100"],
    "elevation_dsm_sheets": ["N-34-100"],
}
METEO_RAW = station_key("meteo", "raw_observations")
HYDRO_RAW = station_key("hydro", "raw_observations")
DAILY_GRIDS = dg.AssetKey(["meteo", "daily_grids"])
DTM_CONVERTED = elevation_key("dtm", "converted_tiles")
SHEET = str(dg.MultiPartitionKey({"map_sheet": "N-34-100", "region": REGION}))
ANALYSIS_DEM = catchment_key("analysis_dem")
CATCHMENT_LAYERS = (
    *(
        catchment_key(name)
        for name in ("conditioned_dem", "flow_direction", "flow_accumulation/d8", "flow_accumulation/dinf")
    ),
    REACHES,
    REACH_CATCHMENTS,
    PROGRESSIVE_CATCHMENTS,
)
"""Per strategy x region, everything the conditioned DEM leads to."""
MONTHLY_FEATURES = (CATCHMENT_FORCINGS, CLIMATIC_INDICES)
RETRAINED = (TRAINING_DATA, LSTM_MODEL, MODEL_EVALUATION)
"""Training data (this condition), model and evaluation (discharge_model's, the same condition)."""
Requests = dict[dg.AssetKey, set[str | None]]


class Graph:
    """The workspace's graph on one instance: stand-in runs and the daemon's ticks."""

    def __init__(self) -> None:
        self.defs = joined_definitions()
        self.graph = self.defs.resolve_asset_graph()
        self.instance = dg.DagsterInstance.ephemeral()
        for name, keys in DYNAMIC.items():
            self.instance.add_dynamic_partitions(name, keys)
        self.cursor: dg.AssetDaemonCursor | None = None
        # Every asset but the weather-model runs' (thousands of run partitions, a second per tick): their
        # conditions follow their own run's fields only (tests/forecasts/test_forecast_automation.py).
        self.outside_runs = [
            key
            for key in self.graph.get_all_asset_keys()
            if self.graph.get(key).partitions_def != FORECAST_RUNS
        ]

    def partitions(self, key: dg.AssetKey) -> list[str | None]:
        partitions_def = self.graph.get(key).partitions_def
        if partitions_def is None:
            return [None]
        return list(partitions_def.get_partition_keys(dynamic_partitions_store=self.instance))

    def materialise(
        self, requests: Mapping[dg.AssetKey, Iterable[str | None]], failing: Iterable[str] = ()
    ) -> None:
        """One stand-in run per partition, the assets of the same partitions and partition together."""
        runs: dict[tuple[str, str | None], list[dg.AssetKey]] = defaultdict(list)
        for key, partitions in requests.items():
            for partition in partitions:
                runs[(repr(self.graph.get(key).partitions_def), partition)].append(key)
        for (_, partition), keys in runs.items():
            dg.materialize(
                [stand_in(self.graph, key, set(failing)) for key in keys],
                instance=self.instance,
                partition_key=partition,
                raise_on_error=False,
            )

    def tick(self) -> Requests:
        """One evaluation of the conditions outside the runs: the partitions it requests, per asset."""
        result = dg.evaluate_automation_conditions(
            defs=self.defs,
            instance=self.instance,
            asset_selection=dg.AssetSelection.assets(*self.outside_runs),
            cursor=self.cursor,
        )
        self.cursor = result.cursor
        requested = {
            key: set(result.get_requested_partitions(key)) for key in self.graph.get_all_asset_keys()
        }
        return {key: partitions for key, partitions in requested.items() if partitions}

    def blocking_check(self, key: dg.AssetKey) -> str:
        node = self.graph.get(key)
        return sorted(c.name for c in node.check_keys if self.graph.get_check_spec(c).blocking)[0]


def months_of(region: str) -> set[str | None]:
    return {str(dg.MultiPartitionKey({"month": month, "region": region})) for month in MONTHS}


def strategies_of(region: str) -> set[str | None]:
    return {str(dg.MultiPartitionKey({"conditioning": c, "region": region})) for c in ("burn_fill", "fill")}


@pytest.fixture(scope="module")
def graph() -> Graph:
    """Every asset outside the weather-model runs materialised once, every check passed, and the first
    tick (which requests nothing: nothing is missing or new) taken."""
    graph = Graph()
    world = {
        key: set(graph.partitions(key))
        for key in graph.outside_runs
        if graph.graph.get(key).is_materializable
    }
    graph.materialise(world)
    assert graph.tick() == {}
    return graph


def test_the_chains_carry_the_condition(graph: Graph) -> None:
    for key in (
        METEO_POLISHED,
        DAILY_GRIDS,
        CATCHMENT_FORCINGS,
        CATCHMENT_ATTRIBUTES,
        CLIMATIC_INDICES,
        TRAINING_DATA,
        DTM_CONSOLIDATED,
        RIVERS_ALIGNED,
        REACHES,
    ):
        assert graph.graph.get(key).automation_condition == when_deps_passed(), key.to_user_string()
    for source in (METEO_RAW, station_key("meteo", "sync_plan"), elevation_key("dtm", "raw_tiles")):
        assert graph.graph.get(source).automation_condition is None, "sources move by sensor or schedule"


def test_a_new_station_file_reaches_the_training_data_step_by_step(graph: Graph) -> None:
    """Each step waits for the one above to be materialised with its blocking checks passed: a
    partitioning change (one series -> months x regions) cannot share a run, so it takes a tick of its own;
    the region-partitioned features, training data, model and evaluation go in one run."""
    graph.materialise({METEO_RAW: {"2023"}})
    assert graph.tick() == {METEO_POLISHED: {None}}
    assert graph.tick() == {}, "requested once per change"

    graph.materialise({METEO_POLISHED: {None}})
    assert graph.tick() == {DAILY_GRIDS: months_of(REGION)}, "every registered month of every region"

    graph.materialise({DAILY_GRIDS: months_of(REGION)})
    assert graph.tick() == {key: {REGION} for key in (*MONTHLY_FEATURES, *RETRAINED)}

    graph.materialise({key: {REGION} for key in (*MONTHLY_FEATURES, *RETRAINED)})
    assert graph.tick() == {}, "nothing left to do"


def test_a_new_discharge_file_reaches_the_training_data(graph: Graph) -> None:
    """The polished discharge is read per region through an unpartitioned series, so its readers follow
    on the next tick, in one run."""
    graph.materialise({HYDRO_RAW: {"2023"}})
    assert graph.tick() == {HYDRO_POLISHED: {None}}
    graph.materialise({HYDRO_POLISHED: {None}})
    observed = {key: {REGION} for key in (*RETRAINED, FORECAST_VERIFICATION)}
    assert graph.tick() == observed, "the gauges' discharge: the dataset and the forecasts' scores"
    graph.materialise(observed)
    assert graph.tick() == {}


def test_a_failed_blocking_check_stops_the_chain_until_corrected(graph: Graph) -> None:
    graph.materialise({METEO_RAW: {"2023"}})
    assert graph.tick() == {METEO_POLISHED: {None}}
    graph.materialise({METEO_POLISHED: {None}}, failing={graph.blocking_check(METEO_POLISHED)})
    assert graph.tick() == {}, "polished failed a blocking check: no grids"
    assert graph.tick() == {}

    graph.materialise({METEO_POLISHED: {None}})
    assert graph.tick() == {DAILY_GRIDS: months_of(REGION)}, "the corrected series goes through"
    june, july = sorted(months_of(REGION), key=str)
    graph.materialise({DAILY_GRIDS: {june}})
    graph.materialise({DAILY_GRIDS: {july}}, failing={graph.blocking_check(DAILY_GRIDS)})
    assert graph.tick() == {}, "one month of the region failed: the region's forcings wait"

    graph.materialise({DAILY_GRIDS: {july}})
    assert graph.tick() == {key: {REGION} for key in (*MONTHLY_FEATURES, *RETRAINED)}
    graph.materialise({key: {REGION} for key in (*MONTHLY_FEATURES, *RETRAINED)})
    assert graph.tick() == {}


def test_new_tiles_reach_the_catchments_and_what_reads_them(graph: Graph) -> None:
    """Converted tiles -> the region's mosaic, in one run with its region-partitioned readers -> both
    strategies' catchment rasters and layers, and the month grids -> what reads the catchments and the
    grids. Assets reading the DTM and the catchments (attributes, and the training data after them) run
    on the DTM's tick and again once the catchments are rebuilt: ``eager()`` looks at direct inputs only."""
    graph.materialise({DTM_CONVERTED: {SHEET}})
    regions_run = {
        DTM_CONSOLIDATED: {REGION},
        ANALYSIS_DEM: {REGION},
        RIVERS_ALIGNED: {REGION},
        CATCHMENT_ATTRIBUTES: {REGION},
        **{key: {REGION} for key in RETRAINED},
    }
    assert graph.tick() == regions_run, "one sheet's new tiles: its region's mosaic and its readers"
    assert graph.tick() == {}
    graph.materialise(regions_run)

    catchments = {key: strategies_of(REGION) for key in CATCHMENT_LAYERS} | {DAILY_GRIDS: months_of(REGION)}
    assert graph.tick() == catchments
    graph.materialise(catchments)

    readers = {
        key: {REGION}
        for key in (
            *MONTHLY_FEATURES,
            CATCHMENT_ATTRIBUTES,
            GAUGE_CATCHMENTS,
            FORECAST_VERIFICATION,
            *RETRAINED,
        )
    }
    assert graph.tick() == readers
    graph.materialise(readers)
    assert graph.tick() == {}
