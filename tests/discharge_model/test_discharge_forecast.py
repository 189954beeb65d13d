"""``discharge_model/discharge_forecast`` and ``discharge_model/forecast_verification`` through Dagster on
the real S3 server.

One scenario, because training is the expensive part and every claim is about the same forecasts: the
landing-zone inputs of the small sample region (``platform_dev.training_inputs``: two reaches per gauge, the
generator's true weather as observed forcings, the provider's polished discharge), the gauge catchments
and training data built by their assets, the LSTM of lstm.yml trained and evaluated by its assets (and so
promoted), then forecast forcings for fourteen daily runs in March 2023 made here from the observed
forcings: the first run's exactly the observed days, so its forecast must equal the evaluation's
simulation of those days; the others with noise, like a weather model's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from discharge_model.defs.forecast.definitions import forecast_definitions
from discharge_model.defs.lstm.definitions import lstm_definitions
from discharge_model.defs.training_data.definitions import training_data_definitions
from platform_dev.training_inputs import REGION, Network, read_stored, store_inputs
from shared.assets.discharge_model import (
    DISCHARGE_FORECAST,
    FORECAST_VERIFICATION,
    GAUGE_CATCHMENTS,
    LSTM_MODEL,
    MODEL_EVALUATION,
    TRAINING_DATA,
)
from shared.assets.landing_zone import (
    CATCHMENT_FORCINGS,
    CATCHMENT_FORECAST_FORCINGS,
    FORECAST_RUNS,
    HYDRO_POLISHED,
    REGIONS,
)
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation
from tests.discharge_model.dagster_results import assets_of, failure_message

LEAD_DAYS = 3
RUNS = [dt.datetime(2023, 3, 10, 6, tzinfo=dt.UTC) + dt.timedelta(days=n) for n in range(14)]
"""Daily runs over two of March 2023's rain events (the sample's wettest month of its test year): between
events the record is a smooth recession that persistence follows closely, so an NSE over the runs
measures whether a forecast catches the rises."""
PERFECT_RUN = RUNS[0]
LATE_RUN = dt.datetime(2024, 1, 5, 0, tzinfo=dt.UTC)
"""The observed forcings end on 2023-12-31: this run needs them through 2024-01-04."""
LEAD_COLUMNS = [f"{kind}_lead{n}_m3s" for n in range(1, LEAD_DAYS + 1) for kind in ("q", "local")]


def run_key(run: dt.datetime) -> str:
    return FORECAST_RUNS.get_partition_key_for_timestamp(run.timestamp())


def forecast_location(run: dt.datetime) -> AssetLocation:
    return AssetLocation.for_partition(DISCHARGE_FORECAST, FORECAST_RUNS, run_key(run))


def forecast_forcings(observed: pl.DataFrame, run: dt.datetime, noise: bool) -> pl.DataFrame:
    """The contract's table for ``run``: every catchment's observed days from the run's day on, with the
    forecast's lead day; with ``noise`` precipitation scaled by a random factor (sd about 30 %) and the
    temperatures shifted by up to a degree, PET following the temperature as the landing zone's does."""
    days = [run.date() + dt.timedelta(days=n) for n in range(LEAD_DAYS)]
    rows = observed.filter(pl.col("date").is_in(days)).sort("catchment_id", "catchment_kind", "date")
    if not rows.height:  # past the observed record: the observed days of a year before, re-dated
        rows = observed.filter(pl.col("date").is_in([d - dt.timedelta(days=365) for d in days])).with_columns(
            pl.col("date") + pl.duration(days=365)
        )
    if noise:
        generator = np.random.default_rng(run.day)
        factor = np.exp(generator.normal(0.0, 0.3, rows.height))
        shift = generator.uniform(-1.0, 1.0, rows.height)
        temperatures = ["air_temperature_c", "air_temperature_max_c", "air_temperature_min_c"]
        rows = rows.with_columns(
            pl.col("precipitation_mm") * pl.Series(factor),
            *(pl.col(name) + pl.Series(shift) for name in temperatures),
        ).with_columns(pet_mm=(pl.col("air_temperature_c") + 5.0).clip(lower_bound=0.0) * 0.12)
    return rows.with_columns(
        lead_day=((pl.col("date") - pl.lit(run.date())).dt.total_days() + 1).cast(pl.Int32),
        run_time=pl.lit(run).cast(pl.Datetime("us", "UTC")),
        earlier_run_hours=pl.lit(0.0),
        scaled_hours=pl.lit(0.0),
    )


def put_forecast_forcings(store: Storage, table: pl.DataFrame, run: dt.datetime) -> None:
    location = AssetLocation.for_partition(CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS, run_key(run))
    with store.writer(location.key(PARQUET)) as path:
        table.write_parquet(path)


def materialise(
    storage: StorageResource,
    selection: list[dg.AssetKey],
    partition: str,
) -> dg.ExecuteInProcessResult:
    """One selection of the discharge model's assets; landing-zone inputs are in storage already."""
    return dg.materialize(
        assets_of(training_data_definitions(), lstm_definitions(), forecast_definitions()),
        resources=platform_resources(storage),
        partition_key=partition,
        selection=selection,
        raise_on_error=False,
    )


def forecast(storage: StorageResource, run: dt.datetime) -> dg.ExecuteInProcessResult:
    return materialise(storage, [DISCHARGE_FORECAST], run_key(run))


@dataclass
class Chain:
    storage: StorageResource
    network: Network
    unpromoted: dg.ExecuteInProcessResult
    left_by_unpromoted: list[str]
    forecasts: dict[dt.datetime, dg.ExecuteInProcessResult]
    verification: dg.ExecuteInProcessResult

    @property
    def store(self) -> Storage:
        return self.storage.get_storage()

    def table(self, run: dt.datetime) -> pl.DataFrame:
        with self.store.local_copy(forecast_location(run).key(PARQUET)) as path:
            return pl.read_parquet(path)

    def metadata(self, result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict:
        (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
        return dict(event.materialization.metadata)


def build_chain(storage: StorageResource, small_region: Path, manifest: dict) -> Chain:
    """Inputs, model, forecasts of every run and the verification, in that order (module docstring)."""
    network = store_inputs(storage, small_region, manifest)
    store = storage.get_storage()
    observed = read_stored(storage, CATCHMENT_FORCINGS)
    for run in RUNS:
        put_forecast_forcings(store, forecast_forcings(observed, run, noise=run != PERFECT_RUN), run)
    assert materialise(storage, [GAUGE_CATCHMENTS, TRAINING_DATA], REGION).success
    unpromoted = forecast(storage, PERFECT_RUN)  # trained or not, nothing is promoted yet
    left = [listed.key for listed in store.list(forecast_location(PERFECT_RUN).folder)]
    assert materialise(storage, [LSTM_MODEL, MODEL_EVALUATION], REGION).success  # lstm.yml as it is
    forecasts = {run: forecast(storage, run) for run in RUNS}
    verification = materialise(storage, [FORECAST_VERIFICATION], REGION)
    return Chain(storage, network, unpromoted, left, forecasts, verification)


@pytest.mark.timeout(900)  # training on a shared CPU; about 90 s on two idle cores
def test_forecasts_cover_every_reach_refuse_bad_inputs_and_beat_persistence(
    small_region: Path, manifest: dict, s3_storage: StorageResource, tmp_path: Path
) -> None:
    chain = build_chain(s3_storage, small_region, manifest)
    check_no_forecast_without_a_promoted_model(chain)
    check_every_progressive_catchment_and_lead_day_is_forecast(chain)
    check_gauges_are_filled_and_updated_with_their_last_observation(chain)
    check_local_inflows_sum_back_to_the_outlets_discharge(chain)
    check_the_reaches_layer_opens_with_a_column_per_lead_day(chain, tmp_path)
    check_a_forecast_with_perfect_forcings_is_the_models_simulation_of_those_days(chain)
    check_observed_forcings_that_end_too_early_refuse_the_run(chain)
    check_verification_scores_match_a_hand_computation(chain)
    check_the_issued_forecast_beats_persistence_at_lead_day_one(chain)


def check_no_forecast_without_a_promoted_model(chain: Chain) -> None:
    assert not chain.unpromoted.success
    step, message = failure_message(chain.unpromoted)
    assert step == "discharge_model__discharge_forecast"
    assert "no promoted model" in message and "promoted.json" in message
    assert chain.left_by_unpromoted == []


def check_every_progressive_catchment_and_lead_day_is_forecast(chain: Chain) -> None:
    assert all(result.success for result in chain.forecasts.values())
    table = chain.table(RUNS[1])
    catchments = sorted(chain.network.area_km2)
    assert table.columns == [
        "catchment_id",
        "gauge",
        "run_time",
        "date",
        "lead_day",
        "area_km2",
        "discharge_mm",
        "discharge_m3s",
        "local_inflow_m3s",
        "corrected_m3s",
        "last_observed_m3s",
        "last_observed_date",
        "model_run",
    ]
    assert table.height == len(catchments) * LEAD_DAYS
    assert sorted(table["catchment_id"].unique()) == catchments
    assert table.group_by("catchment_id").agg(pl.col("lead_day").sort())["lead_day"].to_list() == [
        list(range(1, LEAD_DAYS + 1))
    ] * len(catchments)
    run_day = RUNS[1].date()
    assert table.filter(pl.col("lead_day") == 1)["date"].unique().to_list() == [run_day]
    assert table["run_time"].unique().to_list() == [RUNS[1]]
    assert (table["discharge_mm"] >= 0).all() and table["discharge_mm"].is_not_null().all()
    np.testing.assert_allclose(
        table["discharge_m3s"], table["discharge_mm"] * table["area_km2"] / 86.4, rtol=1e-12
    )
    promoted = chain.metadata(chain.forecasts[RUNS[1]], DISCHARGE_FORECAST)["model_run"].value
    assert table["model_run"].unique().to_list() == [promoted]


def check_gauges_are_filled_and_updated_with_their_last_observation(chain: Chain) -> None:
    table = chain.table(RUNS[1])
    gauged = table.filter(pl.col("gauge").is_not_null())
    reach = chain.network.gauge_reach
    assert dict(gauged.select("gauge", "catchment_id").unique().iter_rows()) == reach
    ungauged = table.filter(pl.col("gauge").is_null())
    assert ungauged["corrected_m3s"].is_null().all() and ungauged["last_observed_m3s"].is_null().all()
    assert gauged["corrected_m3s"].is_not_null().all()
    polished = read_stored(chain.storage, HYDRO_POLISHED, None).filter(
        (pl.col("variable") == "discharge_m3s")
        & pl.col("flag").is_in(["ok", "duplicate", "corrected", "imputed"])
    )
    run_day = RUNS[1].date()
    for row in gauged.filter(pl.col("lead_day") == 1).iter_rows(named=True):
        recent = polished.filter(
            (pl.col("station") == row["gauge"])
            & pl.col("time")
            .dt.date()
            .is_between(run_day - dt.timedelta(days=3), run_day - dt.timedelta(days=1))
        ).sort("time")
        if recent.is_empty():  # a gap in the record: the model is issued as it is
            assert row["last_observed_m3s"] is None and row["corrected_m3s"] == row["discharge_m3s"]
        else:
            assert row["last_observed_date"] == recent["time"][-1].date()
            assert row["last_observed_m3s"] == pytest.approx(recent["value"][-1])
            assert row["corrected_m3s"] != pytest.approx(row["discharge_m3s"])
    assert gauged["last_observed_m3s"].is_not_null().sum() >= 3 * LEAD_DAYS


def check_local_inflows_sum_back_to_the_outlets_discharge(chain: Chain) -> None:
    table = chain.table(RUNS[2])
    q = {(row["catchment_id"], row["date"]): row for row in table.iter_rows(named=True)}
    for gauge, reach in chain.network.gauge_reach.items():
        upstream = f"u-{gauge}"
        for day in table["date"].unique():
            outlet, head = q[(reach, day)], q[(upstream, day)]
            assert head["local_inflow_m3s"] == pytest.approx(head["discharge_m3s"])  # a headwater reach
            assert outlet["local_inflow_m3s"] + head["local_inflow_m3s"] == pytest.approx(
                outlet["discharge_m3s"]
            )
            assert outlet["local_inflow_m3s"] != pytest.approx(outlet["discharge_m3s"])


def check_the_reaches_layer_opens_with_a_column_per_lead_day(chain: Chain, tmp_path: Path) -> None:
    import pyogrio

    path = tmp_path / "reaches.fgb"
    chain.store.get_file(forecast_location(RUNS[2]).key("fgb", name="reaches"), path)
    info = pyogrio.read_info(path)
    assert info["features"] == len(chain.network.area_km2)
    assert info["geometry_type"] == "LineString"
    assert set(LEAD_COLUMNS) <= set(info["fields"])
    layer = pl.from_arrow(pyogrio.read_arrow(path)[1])
    assert isinstance(layer, pl.DataFrame)
    table = chain.table(RUNS[2])
    for row in layer.iter_rows(named=True):
        for n in range(1, LEAD_DAYS + 1):
            expected = table.filter((pl.col("catchment_id") == row["reach_id"]) & (pl.col("lead_day") == n))
            assert row[f"q_lead{n}_m3s"] == pytest.approx(expected["discharge_m3s"].item())
            assert row[f"local_lead{n}_m3s"] == pytest.approx(expected["local_inflow_m3s"].item())


def check_a_forecast_with_perfect_forcings_is_the_models_simulation_of_those_days(chain: Chain) -> None:
    """Forecasting and evaluation go through the same dataset writer and NeuralHydrology tester."""
    location = AssetLocation.for_partition(MODEL_EVALUATION, REGIONS, REGION)
    with chain.store.local_copy(location.key(PARQUET, name="predictions")) as path:
        predictions = pl.read_parquet(path)
    issued = chain.table(PERFECT_RUN).filter(pl.col("gauge").is_not_null())
    joined = issued.join(predictions.rename({"basin": "gauge"}), on=["gauge", "date"])
    assert joined.height == issued.height == len(chain.network.gauge_reach) * LEAD_DAYS
    np.testing.assert_allclose(joined["discharge_mm"], joined["lstm"], rtol=1e-5, atol=1e-6)


def check_observed_forcings_that_end_too_early_refuse_the_run(chain: Chain) -> None:
    observed = read_stored(chain.storage, CATCHMENT_FORCINGS)
    put_forecast_forcings(chain.store, forecast_forcings(observed, LATE_RUN, noise=False), LATE_RUN)
    result = forecast(chain.storage, LATE_RUN)
    assert not result.success
    _, message = failure_message(result)
    assert "end on 2023-12-31" in message and "through 2024-01-04" in message, message
    assert not chain.store.exists(forecast_location(LATE_RUN).key(PARQUET))


def nse(observed: np.ndarray, simulated: np.ndarray) -> float:
    return float(1 - ((observed - simulated) ** 2).sum() / ((observed - observed.mean()) ** 2).sum())


def check_verification_scores_match_a_hand_computation(chain: Chain) -> None:
    assert chain.verification.success
    table = read_stored(chain.storage, FORECAST_VERIFICATION)
    gauges = sorted(chain.network.gauge_reach)
    assert sorted(table["gauge"].unique()) == gauges
    assert sorted(table["lead_day"].unique()) == list(range(1, LEAD_DAYS + 1))
    forecasts = pl.concat([chain.table(run) for run in RUNS]).filter(pl.col("gauge") == gauges[1])
    polished = read_stored(chain.storage, HYDRO_POLISHED, None).filter(
        (pl.col("station") == gauges[1])
        & (pl.col("variable") == "discharge_m3s")
        & pl.col("flag").is_in(["ok", "duplicate", "corrected", "imputed"])
    )
    observed = dict(zip(polished["time"].dt.date(), polished["value"], strict=True))
    lead = forecasts.filter((pl.col("lead_day") == 2) & pl.col("date").is_in(list(observed)))
    obs = np.array([observed[day] for day in lead["date"]])
    row = table.filter((pl.col("gauge") == gauges[1]) & (pl.col("lead_day") == 2)).row(0, named=True)
    assert row["forecasts"] == lead.height >= len(RUNS) - 2
    for prefix, column in (
        ("", "corrected_m3s"),
        ("model_", "discharge_m3s"),
        ("persistence_", "last_observed_m3s"),
    ):
        simulated = lead[column].to_numpy()
        assert row[f"{prefix}nse"] == pytest.approx(nse(obs, simulated))
        assert row[f"{prefix}bias_pct"] == pytest.approx(100 * (simulated.sum() - obs.sum()) / obs.sum())
    medians = chain.metadata(chain.verification, FORECAST_VERIFICATION)["median_nse_per_lead_day"].value
    first = table.filter(pl.col("lead_day") == 1)["nse"].median()
    assert medians["issued"]["1"] == pytest.approx(first, abs=1e-4)


def check_the_issued_forecast_beats_persistence_at_lead_day_one(chain: Chain) -> None:
    table = read_stored(chain.storage, FORECAST_VERIFICATION)
    print("\n" + str(table.select("gauge", "lead_day", "forecasts", "nse", "model_nse", "persistence_nse")))
    first = table.filter(pl.col("lead_day") == 1)
    issued, persistence = (first.select(pl.col(c).median()).item() for c in ("nse", "persistence_nse"))
    print(f"lead day 1, median NSE over the gauges: issued {issued:.3f}, persistence {persistence:.3f}")
    assert issued > persistence, first
