"""The training data's assets: ``discharge_model/gauge_catchments`` and ``discharge_model/training_data``.

The landing zone's outputs are declared here by registry key only (``shared/assets/landing_zone.py``),
so the asset graph shows the lineage across the two code locations without importing landing-zone code.
Both assets read those outputs straight from storage where the layout puts them (:mod:`.inputs`), for
two reasons: the catchment layers are partitioned by conditioning strategy, which is run config that no
static partition mapping can follow (the landing zone's own features read them the same way), and each
object's SHA-256 is taken from the very copy that is read, which is what ``dataset.json`` records as the
input's version.

Both follow write-audit-publish (:mod:`shared.publication`): the blocking checks (:mod:`.checks`) run on
the candidate in the asset's own step, and only a candidate that passes is published. For the dataset
that is two objects: the zip (uploaded first, a single atomic write) and the per-basin summary that the
Parquet IO manager stores as ``part.parquet``. A rejected dataset is kept beside them as
``candidate.zip`` and ``candidate.parquet``, and the published ones stay as they were.

Computation is in plain modules (:mod:`.gauge_matching`, :mod:`.dataset`, :mod:`.audit`); shapely,
pyproj and xarray load inside their functions, so loading the code location stays light.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from discharge_model.automation import WHEN_UPSTREAM_PASSED
from discharge_model.defs.training_data.audit import (
    basin_table,
    column_table,
    coverage_table,
    period_table,
    summary,
)
from discharge_model.defs.training_data.checks import (
    BASIN_CHECKS,
    COLUMN_CHECKS,
    COVERAGE_CHECKS,
    GAUGE_CHECKS,
    PERIOD_CHECKS,
    TRAINING_CHECKS,
    described,
)
from discharge_model.defs.training_data.columns import (
    FORCING_INPUTS,
    STATIC_ATTRIBUTES,
    SUMMARY_DESCRIPTIONS,
    SUMMARY_SCHEMA,
)
from discharge_model.defs.training_data.dataset import BASIN, Candidate, assemble, write_dataset
from discharge_model.defs.training_data.gauge_matching import (
    MATCH_DESCRIPTIONS,
    MATCH_SCHEMA,
    Matches,
    MatchSettings,
    match_gauges,
)
from discharge_model.defs.training_data.inputs import (
    StoredInput,
    file_version,
    read_gauge_discharge,
    read_input,
    scan_reader,
    uris,
    versions,
)
from discharge_model.defs.training_data.periods import PERIOD_NAMES, Periods
from shared.assets.discharge_model import (
    GAUGE_CATCHMENTS,
    TRAINING_DATA,
    TRAINING_DATASET_EXT,
    TRAINING_DATASET_NAME,
)
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CATCHMENT_PARTITIONS,
    CLIMATIC_INDICES,
    CONDITIONING,
    HYDRO_POLISHED,
    HYDRO_STATIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.columns import described_columns
from shared.k8s import K8sOpTags
from shared.partitions import BY_REGION
from shared.publication import (
    drop_candidate,
    failed_blocking,
    keep_candidate_file,
    keep_candidate_table,
    publish_if_passed,
    publish_table_if_passed,
)
from shared.resources.duckdb_checks import DuckDBChecksResource
from shared.resources.platform import PARQUET_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation
from shared.vectors.formats import read_geoparquet

LANDING_ZONE_INPUTS = [
    dg.AssetSpec(HYDRO_STATIONS, description="The hydro station list from landing_zone (gauge positions)."),
    dg.AssetSpec(HYDRO_POLISHED, description="Polished hydro series from landing_zone (the target)."),
    *(
        dg.AssetSpec(key, partitions_def=CATCHMENT_PARTITIONS, description=f"{what} from landing_zone.")
        for key, what in (
            (REACHES, "River reaches with upstream areas"),
            (REACH_CATCHMENTS, "Reach catchments (the region's extent and analysis cell size)"),
            (PROGRESSIVE_CATCHMENTS, "Progressive catchments (the gauges' catchments)"),
        )
    ),
    *(
        dg.AssetSpec(key, partitions_def=REGIONS, description=f"{what} from landing_zone.")
        for key, what in (
            (CATCHMENT_FORCINGS, "Daily catchment forcings (the dynamic inputs)"),
            (CATCHMENT_ATTRIBUTES, "Catchment attributes (static inputs)"),
            (CLIMATIC_INDICES, "CAMELS climatic indices (static inputs)"),
        )
    ),
]
"""The landing-zone assets the training data reads, by registry key (materialised by the other location)."""


class GaugeCatchmentsConfig(dg.Config):
    """Which catchments the gauges are matched to, and how far and how exactly."""

    conditioning: str = Field(
        default="burn_fill",
        description="DEM conditioning strategy of the reaches and catchments (burn_fill, fill); the "
        "features the dataset reads must follow the same one (checked by catchment_areas_agree).",
    )
    search_cells: float = Field(
        default=5.0,
        gt=0,
        description="Search distance in analysis cells (the reach catchments' own cell size). The reaches "
        "follow rivers aligned to that grid within about a cell, and a gauge's published position is "
        "good to a cell or two at 4 m; five cells leaves margin without reaching a neighbouring river.",
    )
    max_area_ratio: float = Field(
        default=1.2,
        gt=1,
        description="Accepted area ratio is [1/max, max]. Specific discharge is Q / area, so a catchment "
        "20 % too large or small biases the target by 20 %, about a rating curve's own uncertainty at "
        "high flows; more means the model would learn another basin's water balance.",
    )


class TrainingDataConfig(dg.Config):
    """Periods, columns and the target's coverage threshold of the dataset.

    The default periods split the sample region's six years (2018-2023). The test period is the last two
    years: NSE divides by the variance observed in the test period, so one year alone scores how dry that
    year happened to be as much as the model (the sample region's 2023 is its driest: a model whose
    errors there are smaller than in 2022 scores an NSE 0.2 to 0.3 lower on it). The validation period is
    one quarter: the model is not selected on it (it is scored once, after the last epoch, into the
    training log), so the other days serve training better.
    """

    train_start: str = Field(default="2018-01-01", description="First day of the train period (ISO).")
    train_end: str = Field(default="2021-09-30", description="Last day of the train period (ISO).")
    validation_start: str = Field(default="2021-10-01", description="First day of the validation period.")
    validation_end: str = Field(default="2021-12-31", description="Last day of the validation period.")
    test_start: str = Field(default="2022-01-01", description="First day of the test period.")
    test_end: str = Field(default="2023-12-31", description="Last day of the test period.")
    dynamic_inputs: list[str] = Field(
        default=list(FORCING_INPUTS),
        description="Columns of features/catchment_forcings the LSTM reads each day.",
    )
    static_attributes: list[str] = Field(
        default=list(STATIC_ATTRIBUTES),
        description="Columns of features/catchment_attributes and climatic_indices/catchment, per basin.",
    )
    min_target_coverage: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Least share of a period's days with a valid target, per basin. NeuralHydrology's NSE "
        "loss scales each basin by its discharge's spread over the train period, and evaluation compares "
        "with the observed mean: below half of a period observed, one season can make up most of what "
        "is, and neither number describes the basin. A share of days, so it holds for any period length.",
    )
    exclude_basins: list[str] = Field(
        default=[],
        description="Gauge codes left out on purpose (recorded in dataset.json), e.g. a gauge that only "
        "reports water level: every other matched gauge is a basin.",
    )

    def periods(self) -> Periods:
        """The three periods parsed (a date that is not ISO names its period)."""
        return Periods.from_iso(
            train=(self.train_start, self.train_end),
            validation=(self.validation_start, self.validation_end),
            test=(self.test_start, self.test_end),
        )


GAUGE_CHECK_SPECS = [check.spec(GAUGE_CATCHMENTS) for check in GAUGE_CHECKS]
TRAINING_CHECK_SPECS = [check.spec(TRAINING_DATA) for check in TRAINING_CHECKS]


@dg.asset(
    key=GAUGE_CATCHMENTS,
    metadata=described_columns(GAUGE_CATCHMENTS.to_user_string(), MATCH_SCHEMA, MATCH_DESCRIPTIONS),
    deps=[
        dg.AssetDep(HYDRO_STATIONS),
        *(
            dg.AssetDep(key, partition_mapping=BY_REGION)
            for key in (REACHES, REACH_CATCHMENTS, PROGRESSIVE_CATCHMENTS)
        ),
    ],
    partitions_def=REGIONS,
    check_specs=GAUGE_CHECK_SPECS,
    automation_condition=WHEN_UPSTREAM_PASSED,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.small(),
    kinds={"parquet", "shapely"},
    description="Each hydro gauge of the region matched to the progressive catchment it measures: the "
    "reach whose line passes nearest the gauge within search_cells analysis cells (default 5; the cell "
    "size is the reach catchments' own), ties within half a cell to the larger upstream area. Records "
    "match_distance_m, the catchment's area and its ratio to the area the gauge drains (the provider's, "
    "else along the reach). Published only when every gauge is matched, each catchment has one gauge and "
    "every area ratio is within [1/1.2, 1.2] (config).",
)
def gauge_catchments(
    context: dg.AssetExecutionContext,
    config: GaugeCatchmentsConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
) -> Iterator[Any]:
    region_name = context.partition_key
    store = storage.get_storage()
    with refused_inputs():
        matches, read = match_region(store, region_name, config)
    table = matches.table
    location = AssetLocation.for_partition(GAUGE_CATCHMENTS, REGIONS, region_name)
    results = [described(result) for result in duckdb.check_frame(GAUGE_CATCHMENTS, GAUGE_CHECKS, table)]
    metadata = {
        "conditioning": dg.MetadataValue.text(config.conditioning),
        "gauges": dg.MetadataValue.int(table.height),
        "matched": dg.MetadataValue.int(int(table["catchment_id"].count())),
        "outside_region": dg.MetadataValue.json(matches.outside_region),
        "unplaced": dg.MetadataValue.json(matches.unplaced),
        "cell_size_m": dg.MetadataValue.float(largest(table["cell_size_m"])),
        "max_match_distance_m": dg.MetadataValue.float(largest(table["match_distance_m"])),
        "area_ratios": dg.MetadataValue.json(
            {
                g: round(r, 4)
                for g, r in zip(table["gauge"], table["area_ratio"], strict=True)
                if r is not None
            }
        ),
        "input_versions": dg.MetadataValue.json(versions(read)),
    }
    yield from publish_table_if_passed(
        GAUGE_CATCHMENTS,
        results,
        GAUGE_CHECK_SPECS,
        table,
        metadata,
        store,
        location,
    )


def match_region(
    store: Storage, region_name: str, config: GaugeCatchmentsConfig
) -> tuple[Matches, list[StoredInput]]:
    """Read the station list and the region's catchment layers of the chosen strategy, and match."""
    layers = (REACHES, REACH_CATCHMENTS, PROGRESSIVE_CATCHMENTS)
    locations = {key: layer(key, config.conditioning, region_name) for key in layers}  # strategy first
    stations, stations_read = read_input(
        store, AssetLocation.for_partition(HYDRO_STATIONS), lambda path, _: pl.read_parquet(path)
    )
    reaches, reaches_read = read_input(store, locations[REACHES], read_geoparquet)
    catchments, catchments_read = read_input(store, locations[REACH_CATCHMENTS], read_geoparquet)
    progressive, progressive_read = read_input(
        store,
        locations[PROGRESSIVE_CATCHMENTS],
        scan_reader(required=["reach_id", "progressive_area_km2", "reach_area_km2"], columns=[]),
    )
    settings = MatchSettings(config.search_cells, config.max_area_ratio, config.conditioning)
    matches = match_gauges(stations, reaches, progressive, catchments, settings)
    return matches, [stations_read, reaches_read, catchments_read, progressive_read]


@contextmanager
def refused_inputs() -> Iterator[None]:
    """Turn the errors that name a bad config or a malformed input (``ValueError``: a period that is not
    ISO dates, a layer without a key column, a gauge-day listed twice) into a step failure that is not
    retried: the same input fails the same way, so the transient-fault retry would only delay the report."""
    try:
        yield
    except ValueError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error


def largest(values: pl.Series) -> float:
    """The largest value of a float column, 0 for an empty or all-null one (for metadata)."""
    top = values.drop_nulls().max()
    return float(top) if isinstance(top, int | float) else 0.0


def layer(key: dg.AssetKey, conditioning: str, region_name: str) -> AssetLocation:
    """Where one catchment layer of the chosen strategy and region is published."""
    strategies = CONDITIONING.get_partition_keys()
    if conditioning not in strategies:
        raise ValueError(f"conditioning {conditioning!r}: expected one of {strategies}")
    partition = dg.MultiPartitionKey({"conditioning": conditioning, "region": region_name})
    return AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, str(partition))


def dataset_location(region_name: str) -> tuple[AssetLocation, str]:
    """The partition's folder and the key of its published dataset zip (the registry's contract)."""
    location = AssetLocation.for_partition(TRAINING_DATA, REGIONS, region_name)
    return location, location.key(TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME)


@dg.asset(
    key=TRAINING_DATA,
    metadata=described_columns(TRAINING_DATA.to_user_string(), SUMMARY_SCHEMA, SUMMARY_DESCRIPTIONS),
    deps=[GAUGE_CATCHMENTS, HYDRO_POLISHED, CATCHMENT_FORCINGS, CATCHMENT_ATTRIBUTES, CLIMATIC_INDICES],
    partitions_def=REGIONS,
    check_specs=TRAINING_CHECK_SPECS,
    automation_condition=WHEN_UPSTREAM_PASSED,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.medium(divider=2),
    kinds={"netcdf", "parquet", "xarray"},
    description="The dataset NeuralHydrology's GenericDataset reads, one zip per region at "
    "discharge_model/training_data/partition={region}/dataset.zip: time_series/{basin}.nc (coordinate "
    "date, daily and contiguous from the train start to the test end; one variable per dynamic input and "
    "the target discharge_mm = Q m3/s * 86.4 / catchment km2 from valid polished values, NaN otherwise), "
    "attributes/attributes.csv (gauge_id, static attributes), basins.txt, dataset.json (periods, columns, "
    "units, the SHA-256 of every input read, each basin's catchment). part.parquet is a per-basin summary "
    "with the target's coverage per period. Published only when its blocking checks pass.",
)
def training_data(
    context: dg.AssetExecutionContext,
    config: TrainingDataConfig,
    storage: StorageResource,
    duckdb: DuckDBChecksResource,
) -> Iterator[Any]:
    region_name = context.partition_key
    store = storage.get_storage()
    with refused_inputs():
        candidate, read, gauges = assemble_candidate(store, region_name, config)
    coverage = coverage_table(candidate, config.min_target_coverage)
    sources = {
        "dynamic": CATCHMENT_FORCINGS.to_user_string(),
        "static": f"{CATCHMENT_ATTRIBUTES.to_user_string()} or {CLIMATIC_INDICES.to_user_string()}",
        "target": HYDRO_POLISHED.to_user_string(),
    }
    audits = [
        (PERIOD_CHECKS, period_table(candidate, coverage)),
        (COVERAGE_CHECKS, coverage),
        (BASIN_CHECKS, basin_table(candidate)),
        (COLUMN_CHECKS, column_table(candidate, sources)),
    ]
    results = [
        described(result)
        for checks, frame in audits
        for result in duckdb.check_frame(TRAINING_DATA, checks, frame)
    ]
    table = summary(candidate.basins, coverage)
    location, dataset_key = dataset_location(region_name)
    facts = {
        "region": region_name,
        "conditioning": conditioning_of(gauges),
        "min_target_coverage": config.min_target_coverage,
        "excluded_basins": sorted(config.exclude_basins),
        "input_versions": versions(read),
        "input_objects": uris(read),
        "gauge_catchments": dict(zip(candidate.basins[BASIN], candidate.basins["catchment_id"], strict=True)),
    }
    with tempfile.TemporaryDirectory(prefix="training-data-") as scratch:
        archive = write_dataset(candidate, facts, Path(scratch))
        version = file_version(archive)
        if not failed_blocking(results, TRAINING_CHECK_SPECS):
            store.put_file(archive, dataset_key)  # one atomic write; the summary is published next
        metadata = dataset_metadata(candidate, coverage, facts, store.uri(dataset_key), archive, version)
        yield from publish_if_passed(
            TRAINING_DATA,
            results,
            TRAINING_CHECK_SPECS,
            dg.Output(table, metadata=metadata, data_version=dg.DataVersion(version)),
            lambda: keep_candidates(store, location, archive, table),
            store,
            location,
            PARQUET,
        )
    drop_candidate(store, location, TRAINING_DATASET_EXT)


def assemble_candidate(
    store: Storage, region_name: str, config: TrainingDataConfig
) -> tuple[Candidate, list[StoredInput], pl.DataFrame]:
    """Read every input of the region (only the matched basins' rows) and assemble the candidate;
    returns it, what was read, and the gauges it covers."""
    periods = config.periods()
    start, end = periods.span()
    all_gauges, gauges_read = read_input(
        store,
        AssetLocation.for_partition(GAUGE_CATCHMENTS, REGIONS, region_name),
        lambda p, _: pl.read_parquet(p),
    )
    gauges = all_gauges.filter(
        pl.col("catchment_id").is_not_null() & ~pl.col("gauge").is_in(config.exclude_basins)
    )
    ids = gauges["catchment_id"].to_list()
    region = lambda key: AssetLocation.for_partition(key, REGIONS, region_name)  # noqa: E731
    forcings, forcings_read = read_input(
        store,
        region(CATCHMENT_FORCINGS),
        scan_reader(
            required=["catchment_id", "catchment_kind", "date", "area_km2"],
            columns=config.dynamic_inputs,
            where=(pl.col("catchment_kind") == "progressive")
            & pl.col("catchment_id").is_in(ids)
            & pl.col("date").is_between(start, end),
        ),
    )
    statics = {}
    read = [gauges_read, forcings_read]
    for key in (CATCHMENT_ATTRIBUTES, CLIMATIC_INDICES):
        statics[key.to_user_string()], stored = read_input(
            store,
            region(key),
            scan_reader(["catchment_id"], config.static_attributes, pl.col("catchment_id").is_in(ids)),
        )
        read.append(stored)
    polished, polished_read = read_gauge_discharge(
        store, AssetLocation.for_partition(HYDRO_POLISHED), gauges["gauge"].to_list()
    )
    read.append(polished_read)
    candidate = assemble(
        gauges,
        forcings,
        statics,
        polished,
        periods,
        config.dynamic_inputs,
        config.static_attributes,
        CATCHMENT_FORCINGS.to_user_string(),
    )
    return candidate, read, gauges


def conditioning_of(gauges: pl.DataFrame) -> str | None:
    """The conditioning strategy of the catchments the gauges were matched to."""
    strategies = gauges["conditioning"].unique().to_list() if "conditioning" in gauges.columns else []
    return strategies[0] if len(strategies) == 1 else None


def keep_candidates(store: Storage, location: AssetLocation, archive: Path, table: pl.DataFrame) -> str:
    """Keep a rejected dataset and its summary beside the published ones; returns the zip's URI."""
    keep_candidate_table(store, location, table)
    return keep_candidate_file(store, location, archive, TRAINING_DATASET_EXT)


def dataset_metadata(
    candidate: Candidate,
    coverage: pl.DataFrame,
    facts: dict[str, Any],
    uri: str,
    archive: Path,
    version: str,
) -> dict[str, Any]:
    """What a reviewer compares between runs: basins, periods, columns, coverage, input versions."""
    least = coverage.group_by("period").agg(pl.col("coverage").min())
    return {
        "dataset_uri": dg.MetadataValue.path(uri),
        "dataset_bytes": dg.MetadataValue.int(archive.stat().st_size),
        "dataset_version": dg.MetadataValue.text(version),
        "basins": dg.MetadataValue.int(candidate.basins.height),
        "periods": dg.MetadataValue.json(candidate.periods.as_json()),
        "dynamic_inputs": dg.MetadataValue.json(candidate.dynamic_inputs),
        "static_attributes": dg.MetadataValue.json(candidate.static_attributes),
        "least_target_coverage": dg.MetadataValue.json(
            {p: round(float(c), 4) for p, c in zip(least["period"], least["coverage"], strict=True)}
            | {p: None for p in PERIOD_NAMES if p not in least["period"].to_list()}
        ),
        "conditioning": dg.MetadataValue.text(str(facts["conditioning"])),
        "input_versions": dg.MetadataValue.json(facts["input_versions"]),
    }
