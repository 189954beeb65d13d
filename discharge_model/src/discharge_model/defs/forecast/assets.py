"""The forecast assets: ``discharge_model/discharge_forecast`` (per weather-model run) and
``discharge_model/forecast_verification`` (per region).

Like the training data, both read the landing zone's published objects from storage by registry key
(:mod:`discharge_model.defs.training_data.inputs`), never its code: the observed and forecast catchment
forcings, the catchment attributes and climatic indices, the reaches of the gauges' conditioning strategy
and the polished discharge; from this location they read the gauges' catchments and the promoted model
(``promoted.json`` of the evaluation, never ``current.json``: a candidate that did not pass its
evaluation never issues a forecast).

The forecast runs the promoted model in a scratch folder (:mod:`.model_inputs`, :mod:`.simulation`),
adds each reach's local inflow (:mod:`.network`) and the issued, observation-updated forecast at the gauges
(:mod:`.correction`), stores ``reaches.fgb`` (:mod:`.layer`) and returns the table to the Parquet IO
manager, which stores it last as ``part.parquet``: a reader that sees the table finds its layer in place.
"""

import datetime as dt
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from discharge_model.automation import WHEN_ANY_UPDATED
from discharge_model.defs.forecast.columns import FORECAST_DESCRIPTIONS, FORECAST_SCHEMA
from discharge_model.defs.forecast.correction import corrected, last_observations
from discharge_model.defs.forecast.inputs import Network, forecast_forcings, network, observed_inputs
from discharge_model.defs.forecast.layer import write_reaches
from discharge_model.defs.forecast.model_inputs import (
    Window,
    lead_days,
    model_input,
    refuse_short_observations,
)
from discharge_model.defs.forecast.network import local_inflow
from discharge_model.defs.forecast.region import configured_region
from discharge_model.defs.forecast.verification import DESCRIPTIONS as VERIFICATION_DESCRIPTIONS
from discharge_model.defs.forecast.verification import SCHEMA as VERIFICATION_SCHEMA
from discharge_model.defs.forecast.verification import (
    median_nse,
    verification_table,
)
from discharge_model.defs.lstm.promotion import NoPromotedModelError, promoted
from discharge_model.defs.lstm.run_archive import ModelNotFoundError, fetch
from discharge_model.defs.lstm.training_data import unpack
from discharge_model.defs.training_data.dataset import write_dataset
from discharge_model.defs.training_data.inputs import (
    StoredInput,
    read_gauge_discharge,
    read_input,
    versions,
)
from discharge_model.defs.training_data.target import (
    M3S_TO_MM_PER_DAY_KM2,
    valid_discharge,
)
from shared.assets.discharge_model import (
    DISCHARGE_FORECAST,
    FORECAST_VERIFICATION,
    GAUGE_CATCHMENTS,
    MODEL_EVALUATION,
)
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CATCHMENT_FORECAST_FORCINGS,
    CLIMATIC_INDICES,
    FORECAST_RUNS,
    HYDRO_POLISHED,
    REACHES,
    REGIONS,
)
from shared.automation import when_dep_passed
from shared.columns import described_columns
from shared.forecast_runs import run_start
from shared.freshness import FORECAST_FRESHNESS
from shared.k8s import K8sOpTags
from shared.resources.platform import PARQUET_IO_MANAGER, TRANSIENT_STEP_RETRY
from shared.resources.storage import StorageResource
from shared.storage import ObjectNotFoundError, Storage
from shared.storage.layout import FLATGEOBUF, PARQUET, AssetLocation

REACHES_LAYER = "reaches"
"""``reaches.fgb`` beside the forecast's ``part.parquet``."""

PARQUET_NAME = f"part.{PARQUET}"
"""The table object of each forecast partition (the Parquet IO manager's name)."""

EVERY_PARTITION = dg.AllPartitionMapping()
"""A run's forecast reads the region's current observed forcings, model and layers, whatever their
partitions: the region is run configuration, which no static mapping can follow."""

FORECAST_INPUTS = [
    dg.AssetSpec(
        CATCHMENT_FORECAST_FORCINGS,
        partitions_def=FORECAST_RUNS,
        description="Daily catchment forecast forcings per weather-model run from landing_zone.",
    )
]
"""The landing-zone asset only the forecast reads (the others are declared by the training data)."""


class DischargeForecastConfig(dg.Config):
    """Which region a run is for and how the gauges' forecasts are updated."""

    region: str | None = Field(
        default=None, description="Region of the run (default: the regions file's only region)."
    )
    conditioning: str | None = Field(
        default=None,
        description="Conditioning strategy of the reaches (default: the one the gauges were matched on).",
    )
    max_observation_age_days: int = Field(
        default=3,
        ge=1,
        description="How many days before the run's day a gauge's last valid discharge may lie to update "
        "the forecast (and be the persistence forecast); older, the gauge is issued the model as it is. "
        "Daily observations arrive the next morning, so 1 is normal and 3 allows a weekend's delay.",
    )
    error_persistence: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="Factor per day by which the model's error at the last observation is carried onto "
        "the forecast days (1: whole over the horizon, 0: not at all); why 1, measured: see "
        "discharge_model.defs.forecast.correction.",
    )


@dataclass(frozen=True)
class Issued:
    """A run's forecast table and what it was made from."""

    table: pl.DataFrame
    region: str
    model: dict[str, Any]
    window: Window
    read: list[StoredInput]
    layer_features: int
    gauges_updated: list[str]


@contextmanager
def refused_forecast() -> Iterator[None]:
    """Inputs that cannot make a forecast (no promoted model, observed forcings that end too early, a gap)
    fail the step at once, not retried: the same inputs fail the same way."""
    try:
        yield
    except (NoPromotedModelError, ModelNotFoundError, ObjectNotFoundError, ValueError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error


@dg.asset(
    key=DISCHARGE_FORECAST,
    metadata=described_columns(DISCHARGE_FORECAST.to_user_string(), FORECAST_SCHEMA, FORECAST_DESCRIPTIONS),
    deps=[
        dg.AssetDep(CATCHMENT_FORECAST_FORCINGS),
        dg.AssetDep(HYDRO_POLISHED),
        *(
            dg.AssetDep(key, partition_mapping=EVERY_PARTITION)
            for key in (
                CATCHMENT_FORCINGS,
                CATCHMENT_ATTRIBUTES,
                CLIMATIC_INDICES,
                REACHES,
                GAUGE_CATCHMENTS,
                MODEL_EVALUATION,
            )
        ),
    ],
    partitions_def=FORECAST_RUNS,
    automation_condition=when_dep_passed(CATCHMENT_FORECAST_FORCINGS),
    freshness_policy=FORECAST_FRESHNESS,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.medium(),
    kinds={"parquet", "flatgeobuf", "pytorch", "neuralhydrology"},
    description="Daily discharge forecast of one weather-model run from the promoted LSTM (promoted.json "
    "of discharge_model/evaluation): every progressive catchment's inputs are the observed forcings up to "
    "the day before the run's day, then the run's forecast forcings per lead day, simulated by "
    "NeuralHydrology's tester as the evaluation does. Discharge in mm/day and m3/s, each reach's local "
    "inflow (its discharge minus its upstream reaches'), and at the gauges the issued forecast: the model "
    "updated with the last observed discharge (its error carried over the horizon), beside that "
    "observation (persistence). part.parquet per catchment and lead day; reaches.fgb with q_lead{n}_m3s "
    "and local_lead{n}_m3s for QGIS. Refused when the observed forcings end before the run's day or no "
    "model is promoted.",
)
def discharge_forecast(
    context: dg.AssetExecutionContext, config: DischargeForecastConfig, storage: StorageResource
) -> dg.Output[pl.DataFrame]:
    store = storage.get_storage()
    run_key = context.partition_key
    location = AssetLocation.for_partition(DISCHARGE_FORECAST, FORECAST_RUNS, run_key)
    layer_key = location.key(FLATGEOBUF, name=REACHES_LAYER)
    with refused_forecast(), tempfile.TemporaryDirectory(prefix="discharge-forecast-") as folder:
        issued = issue_forecast(store, run_key, config, Path(folder), layer_key)
    table = issued.table
    context.log.info(
        f"run {run_key}: {table['catchment_id'].n_unique()} catchments, lead days {issued.window.run_day}.."
        f"{issued.window.last_day}, "
        f"from model {issued.model['run_id']}; updated at gauges {issued.gauges_updated}"
    )
    gauges = sorted(table["gauge"].drop_nulls().unique().to_list())
    metadata = {
        "region": dg.MetadataValue.text(issued.region),
        "run_time": dg.MetadataValue.text(run_start(run_key).isoformat()),
        "model_run": dg.MetadataValue.text(issued.model["run_id"]),
        "model_archive": dg.MetadataValue.text(issued.model["archive"]),
        "lead_days": dg.MetadataValue.int(table.select(pl.col("lead_day").max()).item()),
        "forecast_days": dg.MetadataValue.text(f"{issued.window.run_day}..{issued.window.last_day}"),
        "observed_through": dg.MetadataValue.text(issued.window.observed_end.isoformat()),
        "catchments": dg.MetadataValue.int(table["catchment_id"].n_unique()),
        "gauges": dg.MetadataValue.json(gauges),
        "gauges_updated": dg.MetadataValue.json(issued.gauges_updated),
        "max_discharge_m3s": dg.MetadataValue.float(table.select(pl.col("discharge_m3s").max()).item()),
        "table_uri": dg.MetadataValue.path(store.uri(location.key(PARQUET))),
        "reaches_uri": dg.MetadataValue.path(store.uri(layer_key)),
        "reaches_features": dg.MetadataValue.int(issued.layer_features),
        "input_versions": dg.MetadataValue.json(versions(issued.read)),
    }
    return dg.Output(table, metadata=metadata)


def issue_forecast(
    store: Storage, run_key: str, config: DischargeForecastConfig, scratch: Path, layer_key: str
) -> Issued:
    """Everything the asset computes for one run (see the module docstring), in ``scratch``."""
    from discharge_model.defs.forecast.simulation import model_reads, simulate_days

    region = configured_region(config.region)
    run_time = run_start(run_key)
    model = promoted(store, AssetLocation.for_partition(MODEL_EVALUATION, REGIONS, region))
    run_dir = fetch(store, model["archive"], scratch / "model", model.get("sha256"))
    reads = model_reads(run_dir)
    forecast, forecast_read = forecast_forcings(store, run_key, reads)
    days = lead_days(forecast, run_time.date())
    window = Window(
        run_day=run_time.date(),
        first_simulated=run_time.date() - dt.timedelta(days=config.max_observation_age_days),
        last_day=max(days["date"].to_list()),
        seq_length=reads.seq_length,
    )
    ids = forecast["catchment_id"].unique()
    observed, statics, read = observed_inputs(store, region, ids, window, reads)
    refuse_short_observations(observed, window, CATCHMENT_FORCINGS.to_user_string())
    candidate = model_input(
        observed,
        forecast,
        statics,
        window,
        reads.dynamic_inputs,
        reads.static_attributes,
        CATCHMENT_FORCINGS.to_user_string(),
    )
    (scratch / "dataset").mkdir()
    archive = write_dataset(candidate, {"region": region, "run_time": run_key}, scratch / "dataset")
    data = unpack(archive, scratch / "data")
    simulated = simulate_days(run_dir, data.data_dir, window.first_simulated, window.last_day)
    where, network_read = network(store, region, config.conditioning)
    table = forecast_table(simulated, forecast, days, where, window, config, run_time, model)
    with store.writer(layer_key) as path:
        features = write_reaches(where.reaches, table, path)
    updated = sorted(table.filter(pl.col("last_observed_m3s").is_not_null())["gauge"].unique().to_list())
    return Issued(table, region, model, window, [forecast_read, *read, *network_read], features, updated)


def forecast_table(
    simulated: pl.DataFrame,
    forecast: pl.DataFrame,
    days: pl.DataFrame,
    where: Network,
    window: Window,
    config: DischargeForecastConfig,
    run_time: dt.datetime,
    model: dict[str, Any],
) -> pl.DataFrame:
    """The contract's table from the simulated days: m3/s, local inflow, gauges, the issued forecast."""
    areas = forecast.group_by("catchment_id").agg(pl.col("area_km2").first())
    discharge = (
        simulated.rename({"basin": "catchment_id"})
        .join(areas, on="catchment_id")
        .with_columns(discharge_m3s=pl.col("discharge_mm") * pl.col("area_km2") / M3S_TO_MM_PER_DAY_KM2)
    )
    matched = where.gauges
    leads = local_inflow(discharge.join(days, on="date"), where.reaches.frame).join(
        matched, on="catchment_id", how="left"
    )
    observations = last_observations(
        where.polished, matched["gauge"].to_list(), window.run_day, config.max_observation_age_days
    ).join(matched, on="gauge")
    before_run = discharge.filter(pl.col("date") < window.run_day).select(
        "catchment_id", "date", "discharge_m3s"
    )
    issued = corrected(leads, before_run, observations, config.error_persistence)
    return issued.select(
        "catchment_id",
        "gauge",
        pl.lit(run_time).cast(pl.Datetime("us", "UTC")).alias("run_time"),
        "date",
        pl.col("lead_day").cast(pl.Int32),
        "area_km2",
        "discharge_mm",
        "discharge_m3s",
        "local_inflow_m3s",
        "corrected_m3s",
        "last_observed_m3s",
        "last_observed_date",
        pl.lit(model["run_id"]).alias("model_run"),
    ).sort("catchment_id", "lead_day")


@dg.asset(
    key=FORECAST_VERIFICATION,
    metadata=described_columns(
        FORECAST_VERIFICATION.to_user_string(), VERIFICATION_SCHEMA, VERIFICATION_DESCRIPTIONS
    ),
    deps=[
        dg.AssetDep(DISCHARGE_FORECAST, partition_mapping=EVERY_PARTITION),
        dg.AssetDep(HYDRO_POLISHED),
        dg.AssetDep(GAUGE_CATCHMENTS),
    ],
    partitions_def=REGIONS,
    automation_condition=WHEN_ANY_UPDATED,
    io_manager_key=PARQUET_IO_MANAGER,
    retry_policy=TRANSIENT_STEP_RETRY,
    op_tags=K8sOpTags.small(),
    kinds={"parquet"},
    description="Every stored discharge forecast of the region's gauges scored against the valid observed "
    "discharge, per gauge and lead day: NSE and volume bias (%) of the issued forecast, of the open-loop "
    "model and of persistence (the last observation before the run), each on the forecast days that have "
    "an observation. Median NSE per lead day of each in the metadata. Re-scored when a forecast or the "
    "observations arrive.",
)
def forecast_verification(
    context: dg.AssetExecutionContext, storage: StorageResource
) -> dg.Output[pl.DataFrame]:
    store = storage.get_storage()
    region = context.partition_key
    with refused_forecast():
        gauges, _ = read_input(
            store,
            AssetLocation.for_partition(GAUGE_CATCHMENTS, REGIONS, region),
            lambda path, _: pl.read_parquet(path),
        )
        codes = gauges.filter(pl.col("catchment_id").is_not_null())["gauge"].to_list()
        forecasts, runs = stored_forecasts(store, codes)
        polished, _ = read_gauge_discharge(store, AssetLocation.for_partition(HYDRO_POLISHED), codes)
    table = verification_table(forecasts, valid_discharge(polished, codes))
    if table.is_empty():
        context.log.warning(f"{runs} stored forecast(s) of {region}: none has an observed day yet")
    medians = median_nse(table)
    metadata: dict[str, Any] = {
        "forecast_runs": dg.MetadataValue.int(runs),
        "gauges": dg.MetadataValue.int(table["gauge"].n_unique()),
        "scored_forecast_days": dg.MetadataValue.int(int(table["forecasts"].sum())),
        "median_nse_per_lead_day": dg.MetadataValue.json(medians),
    }
    for name, per_lead in medians.items():
        for lead, value in per_lead.items():
            if value is not None:
                metadata[f"median_nse_{name}_lead{lead}"] = dg.MetadataValue.float(value)
    return dg.Output(table, metadata=metadata)


def stored_forecasts(store: Storage, gauges: list[str]) -> tuple[pl.DataFrame, int]:
    """The gauge rows of every stored forecast table that names one of ``gauges`` (the region's), and
    how many runs they come from."""
    prefix = AssetLocation.for_partition(DISCHARGE_FORECAST).folder
    frames = []
    for listed in store.list(prefix):
        if not listed.key.endswith(f"/{PARQUET_NAME}"):
            continue
        with store.local_copy(listed.key) as path:
            rows = pl.read_parquet(path).filter(pl.col("gauge").is_in(gauges))
        if rows.height:
            frames.append(rows)
    columns = ["gauge", "date", "lead_day", "corrected_m3s", "discharge_m3s", "last_observed_m3s"]
    if not frames:
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.Float64)).cast(
            {"gauge": pl.String, "date": pl.Date, "lead_day": pl.Int32}
        ), 0
    return pl.concat([frame.select(columns) for frame in frames]), len(frames)
