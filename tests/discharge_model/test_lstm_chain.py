"""``discharge_model/lstm`` then ``discharge_model/evaluation`` through Dagster on the real S3 server, on
a twin experiment: the small sample region's true catchment weather and true discharge at its five gauges
(the discharge its runoff model computed from that weather), packed as the training-data contract's zip
(built here, independent of the training-data asset).

One scenario, because training is the expensive part and every claim below is about the same trained
model, with the versioned lstm.yml as it is: it is stored as an archive that reloads and predicts what
evaluation reported, its epoch losses are in the run's log, its test-period NSE is at least 0.7 in the
median and above the day-of-year climatology's at every gauge (the table is printed), it is promoted; a
config naming a column the data lacks fails before training and leaves the published model untouched; an
evaluation whose check fails keeps the promoted model; a second training keeps the first archive.
"""

import datetime as dt
import hashlib
import io
import json
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import pandas as pd
import polars as pl
import pyproj
import pytest
import xarray as xr

from discharge_model.defs.lstm.definitions import lstm_definitions
from discharge_model.defs.lstm.hydrographs import HEIGHT_PX, WIDTH_PX
from discharge_model.defs.lstm.nh_config import load_settings
from discharge_model.defs.lstm.promotion import promoted
from landing_zone.defs.features.zonal import extraterrestrial_radiation, oudin_pet
from shared.assets.discharge_model import (
    LSTM_MODEL,
    MODEL_EVALUATION,
    TRAINING_DATA,
    TRAINING_DATASET_EXT,
    TRAINING_DATASET_NAME,
)
from shared.assets.landing_zone import REGIONS
from shared.resources.platform import platform_resources
from shared.resources.storage import StorageResource
from shared.storage import Storage
from shared.storage.layout import PARQUET, AssetLocation
from tests.discharge_model.dagster_results import assets_of, failure_message

REGION = "pilica"
PERIODS = {
    "train": ["2018-01-01", "2021-09-30"],
    "validation": ["2021-10-01", "2021-12-31"],
    "test": ["2022-01-01", "2023-12-31"],
}
"""The training data's default periods (TrainingDataConfig says why the test period is two years)."""
TEST_DAYS = 365 + 365
DYNAMIC_INPUTS = [
    "precipitation_mm",
    "air_temperature_c",
    "air_temperature_max_c",
    "air_temperature_min_c",
    "relative_humidity_pct",
    "air_pressure_hpa",
    "pet_mm",
]
STATIC_ATTRIBUTES = ["area_km2", "p_mean", "pet_mean", "t_mean", "aridity", "frac_snow"]
GAP_GAUGE = "150190012"
"""This gauge's record has holes (a month in training, ten days in the test period): NaN targets must be
left out of training and of every score."""

DATASET_KEY = AssetLocation.for_partition(TRAINING_DATA, REGIONS, REGION).key(
    TRAINING_DATASET_EXT, name=TRAINING_DATASET_NAME
)
MODEL_LOCATION = AssetLocation.for_partition(LSTM_MODEL, REGIONS, REGION)
EVALUATION_LOCATION = AssetLocation.for_partition(MODEL_EVALUATION, REGIONS, REGION)
POINTER_KEY = MODEL_LOCATION.key("json", name="current")


def twin_dataset(region: Path, manifest: dict, folder: Path) -> Path:
    """The training-data zip of the region's gauges, exactly in the contract's layout.

    Dynamic inputs are the generator's catchment-mean weather at each gauge and Oudin PET from it (the
    landing zone's formula, at the region's latitude); the target is the true discharge as specific
    discharge; static attributes are the gauge area and CAMELS-style means over the train period.
    """
    forcings = pl.read_parquet(region / manifest["stations"]["gauge_forcings"])
    clean = pl.read_parquet(region / manifest["stations"]["clean_series"]).filter(
        pl.col("variable") == "discharge_m3s"
    )
    west, south, east, north = manifest["region"]["bounds"]
    to_wgs84 = pyproj.Transformer.from_crs(manifest["region"]["crs"], "EPSG:4326", always_xy=True)
    _, latitude = to_wgs84.transform((west + east) / 2, (south + north) / 2)
    files: dict[str, bytes] = {}
    attributes = []
    for gauge in manifest["stations"]["gauges"]:
        code = gauge["code"]
        days = forcings.filter(pl.col("station") == code).sort("date").to_pandas().set_index("date")
        discharge = (
            clean.filter(pl.col("station") == code).sort("date").to_pandas().set_index("date")["value"]
        )
        frame = days[DYNAMIC_INPUTS[:-1]].copy()
        radiation = extraterrestrial_radiation(np.array([latitude]), [d.date() for d in frame.index])
        frame["pet_mm"] = oudin_pet(frame["air_temperature_c"].to_numpy()[None, :], radiation)[0]
        frame["discharge_mm"] = discharge.reindex(frame.index).to_numpy() * 86.4 / gauge["area_km2"]
        if code == GAP_GAUGE:
            frame.loc["2019-03-01":"2019-03-31", "discharge_mm"] = np.nan
            frame.loc["2023-06-01":"2023-06-10", "discharge_mm"] = np.nan
        frame.index = pd.DatetimeIndex(frame.index, name="date")
        dataset = xr.Dataset.from_dataframe(frame.astype(np.float32))
        files[f"time_series/{code}.nc"] = bytes(dataset.to_netcdf())
        train = frame.loc[PERIODS["train"][0] : PERIODS["train"][1]]
        precipitation, pet = train["precipitation_mm"], train["pet_mm"]
        attributes.append(
            {
                "gauge_id": code,
                "area_km2": gauge["area_km2"],
                "p_mean": precipitation.mean(),
                "pet_mean": pet.mean(),
                "t_mean": train["air_temperature_c"].mean(),
                "aridity": pet.mean() / precipitation.mean(),
                "frac_snow": precipitation[train["air_temperature_c"] < 0].sum() / precipitation.sum(),
            }
        )
    codes = [row["gauge_id"] for row in attributes]
    files["attributes/attributes.csv"] = pd.DataFrame(attributes).to_csv(index=False).encode()
    files["basins.txt"] = ("\n".join(sorted(codes)) + "\n").encode()
    truth = (region / manifest["stations"]["gauge_forcings"]).read_bytes()
    files["dataset.json"] = json.dumps(
        {
            "periods": PERIODS,
            "dynamic_inputs": DYNAMIC_INPUTS,
            "static_attributes": STATIC_ATTRIBUTES,
            "target": "discharge_mm",
            "input_versions": {"truth/gauge_forcings": f"sha256:{hashlib.sha256(truth).hexdigest()}"},
            "gauge_catchments": {code: f"reach-{code}" for code in codes},
            "region": REGION,
        }
    ).encode()
    path = folder / "dataset.zip"
    with zipfile.ZipFile(path, "w") as bundle:
        for name, content in files.items():
            bundle.writestr(name, content)
    return path


def materialise(
    storage: StorageResource, selection: list[dg.AssetKey], config: dict | None = None
) -> tuple[dg.ExecuteInProcessResult, dg.DagsterInstance]:
    """Run the selection on one ephemeral instance; returns the result and the instance (for its logs)."""
    instance = dg.DagsterInstance.ephemeral()
    run_config = {"ops": {"discharge_model__lstm": {"config": config}}} if config else None
    result = dg.materialize(
        [
            dg.AssetSpec(TRAINING_DATA, partitions_def=REGIONS),
            *assets_of(lstm_definitions()),
        ],
        resources=platform_resources(storage),
        partition_key=REGION,
        selection=selection,
        run_config=run_config,
        instance=instance,
        raise_on_error=False,
    )
    return result, instance


def log_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", png[16:24])


@dataclass
class Chain:
    storage: StorageResource
    data_dir: Path
    train: dg.ExecuteInProcessResult
    train_logs: list[str]
    evaluation: dg.ExecuteInProcessResult
    scratch: Path

    @property
    def store(self) -> Storage:
        return self.storage.get_storage()

    def materialisation(self, result: dg.ExecuteInProcessResult, key: dg.AssetKey) -> dict[str, Any]:
        (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
        return dict(event.materialization.metadata)

    def pointer(self) -> dict:
        return json.loads(self.store.get_bytes(POINTER_KEY))

    def archives(self) -> list[str]:
        return [o.key for o in self.store.list(MODEL_LOCATION.folder) if o.key.endswith(".zip")]


@pytest.mark.timeout(900)  # training on a shared CPU; about two minutes on two idle cores
def test_the_lstm_trains_is_stored_reloads_beats_climatology_and_survives_failed_runs(
    small_region: Path, manifest: dict, tmp_path: Path, s3_storage: StorageResource
) -> None:
    storage = s3_storage
    archive = twin_dataset(small_region, manifest, tmp_path)
    storage.get_storage().put_file(archive, DATASET_KEY)
    data_dir = tmp_path / "data"
    with zipfile.ZipFile(archive) as bundle:
        bundle.extractall(data_dir)

    train, instance = materialise(storage, [LSTM_MODEL])
    assert train.success
    train_logs = log_messages(instance, train.run_id)
    evaluation, _ = materialise(storage, [MODEL_EVALUATION])
    assert evaluation.success
    chain = Chain(storage, data_dir, train, train_logs, evaluation, tmp_path / "scratch")

    check_training_is_logged_and_described(chain)
    first_archive = check_the_archive_is_published(chain)
    check_the_evaluation_table_and_hydrographs(chain)
    check_a_fresh_model_from_the_archive_predicts_what_evaluation_reported(chain)
    check_the_model_is_promoted(chain)
    check_a_failed_training_leaves_the_published_model(chain, first_archive)
    check_a_failed_evaluation_keeps_the_promoted_model(chain)
    check_a_second_training_keeps_the_first_archive(chain, first_archive)


def check_training_is_logged_and_described(chain: Chain) -> None:
    settings = load_settings()
    epoch_lines = [m for m in chain.train_logs if "average loss" in m and "validation" not in m]
    assert len(epoch_lines) == settings.epochs, epoch_lines
    assert epoch_lines[0].startswith("neuralhydrology: Epoch 1 average loss")
    metadata = chain.materialisation(chain.train, LSTM_MODEL)
    losses = metadata["epoch_losses"].value
    assert len(losses) == settings.epochs
    assert losses[str(settings.epochs)] < 0.5 * losses["1"], "training did not reduce the NSE loss"
    assert metadata["config_hash"].value == settings.config_hash()
    assert metadata["device"].value == "cpu"
    assert (
        metadata["input_versions"].value
        == json.loads((chain.data_dir / "dataset.json").read_text())["input_versions"]
    )
    assert set(metadata["packages"].value) == {"discharge-model", "neuralhydrology", "torch"}
    assert metadata["code_version"].value
    print(
        f"\ntraining: {metadata['epochs'].value} epochs in {metadata['wall_s'].value} s "
        f"({metadata['seconds_per_epoch'].value} s/epoch), final loss {metadata['final_loss'].value:.4f}"
    )


def check_the_archive_is_published(chain: Chain) -> str:
    pointer = chain.pointer()
    metadata = chain.materialisation(chain.train, LSTM_MODEL)
    assert chain.archives() == [pointer["archive"]] == [metadata["archive_key"].value]
    assert pointer["run_id"] == metadata["run_id"].value
    content = chain.store.get_bytes(pointer["archive"])
    assert hashlib.sha256(content).hexdigest() == pointer["sha256"]
    names = set(zipfile.ZipFile(io.BytesIO(content)).namelist())
    epochs = load_settings().epochs
    assert {
        "config.yml",
        f"model_epoch{epochs:03d}.pt",
        "train_data/train_data_scaler.yml",
        "training.log",
    } <= names
    return pointer["archive"]


def median(values: pl.Series) -> float:
    value = values.median()
    assert isinstance(value, int | float), values
    return float(value)


def nse_table(table: pl.DataFrame) -> str:
    """The per-gauge test NSE of the LSTM and of the climatology, as the closing note quotes it."""
    lines = [f"{'gauge':<10} {'LSTM NSE':>9} {'climatology NSE':>16} {'valid days':>11}"]
    for row in table.to_dicts():
        basin, lstm, baseline, days = (row[k] for k in ("basin", "lstm_nse", "climatology_nse", "valid_days"))
        lines.append(f"{basin:<10} {lstm:>9.3f} {baseline:>16.3f} {days:>11}")
    lstm, baseline = median(table["lstm_nse"]), median(table["climatology_nse"])
    lines.append(f"{'median':<10} {lstm:>9.3f} {baseline:>16.3f}")
    return "\n".join(lines)


def check_the_evaluation_table_and_hydrographs(chain: Chain) -> None:
    table = pl.read_parquet(chain.store.get_bytes(EVALUATION_LOCATION.key(PARQUET)))
    scores = ["nse", "kge", "kge_r", "kge_alpha", "kge_beta", "bias_pct", "peak_timing_days"]
    assert table.columns == [
        "basin",
        "catchment_id",
        "model_run",
        "test_start",
        "test_end",
        *[f"lstm_{name}" for name in scores[:7]],
        "valid_days",
        *[f"climatology_{name}" for name in scores],
        "nse_gain",
    ]
    assert table.height == 5
    assert table["catchment_id"].to_list() == [f"reach-{basin}" for basin in table["basin"]]
    assert table["test_start"].unique().to_list() == [dt.date(2022, 1, 1)]
    gaps = dict(zip(table["basin"], table["valid_days"], strict=True))
    assert gaps[GAP_GAUGE] == TEST_DAYS - 10
    assert all(days == TEST_DAYS for basin, days in gaps.items() if basin != GAP_GAUGE)
    print(f"\ntest period {PERIODS['test'][0]}..{PERIODS['test'][1]}, model as lstm.yml configures it:")
    print(nse_table(table))
    print(f"median test KGE LSTM {median(table['lstm_kge']):.3f}")
    assert table["lstm_nse"].is_finite().all(), table
    assert median(table["lstm_nse"]) >= 0.7, nse_table(table)
    worse = table.filter(pl.col("lstm_nse") <= pl.col("climatology_nse"))
    assert worse.is_empty(), f"the LSTM is not above the climatology at {worse['basin'].to_list()}"
    metadata = chain.materialisation(chain.evaluation, MODEL_EVALUATION)
    assert metadata["median_lstm_nse"].value == pytest.approx(median(table["lstm_nse"]))
    assert metadata["model_run"].value == chain.pointer()["run_id"]
    assert metadata["basins_lstm_beats_climatology"].value == "5/5"
    checks = {e.check_name: e.passed for e in chain.evaluation.get_asset_check_evaluations()}
    assert checks == {"lstm_beats_climatology": True, "every_basin_scored": True}
    for basin in table["basin"]:
        png = chain.store.get_bytes(EVALUATION_LOCATION.key("png", name=f"hydrograph-{basin}"))
        assert png_size(png) == (WIDTH_PX, HEIGHT_PX)
        embedded = metadata[f"hydrograph_{basin}"].value
        assert embedded.startswith(f"![{basin}](data:image/png;base64,")


def predict_test_period(run_dir: Path, data_dir: Path, basin: str) -> pd.Series:
    """The test period simulated by a model rebuilt from the run directory with NeuralHydrology's own
    pieces, not through the evaluation's code path."""
    import torch
    from neuralhydrology.datasetzoo import get_dataset
    from neuralhydrology.datautils.utils import load_scaler
    from neuralhydrology.modelzoo import get_model
    from neuralhydrology.utils.config import Config
    from torch.utils.data import DataLoader

    config = Config(run_dir / "config.yml")
    config.update_config(
        {"run_dir": str(run_dir), "data_dir": str(data_dir), "test_basin_file": str(data_dir / "basins.txt")}
    )
    model = get_model(config)
    (weights,) = sorted(run_dir.glob("model_epoch*.pt"))
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    scaler = load_scaler(run_dir)
    dataset = get_dataset(config, is_train=False, period="test", basin=basin, scaler=scaler)
    values, dates = [], []
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=256, collate_fn=dataset.collate_fn):
            values.append(model(batch)["y_hat"][:, -1, 0].numpy())
            dates.append(batch["date"][:, -1])
    scale = float(scaler["xarray_feature_scale"]["discharge_mm"])
    center = float(scaler["xarray_feature_center"]["discharge_mm"])
    simulated = np.concatenate(values) * scale + center
    return pd.Series(np.maximum(simulated, 0.0), index=pd.DatetimeIndex(np.concatenate(dates)))


def check_a_fresh_model_from_the_archive_predicts_what_evaluation_reported(chain: Chain) -> None:
    pointer = chain.pointer()
    run_dir = chain.scratch / "reloaded"
    with zipfile.ZipFile(io.BytesIO(chain.store.get_bytes(pointer["archive"]))) as bundle:
        bundle.extractall(run_dir)
    predictions = pl.read_parquet(chain.store.get_bytes(EVALUATION_LOCATION.key(PARQUET, name="predictions")))
    basin = "150190011"
    reported = predictions.filter((pl.col("basin") == basin) & (pl.col("period") == "test")).sort("date")
    fresh = predict_test_period(run_dir, chain.data_dir, basin)
    assert len(fresh) == reported.height == TEST_DAYS
    assert [d.date() for d in fresh.index] == reported["date"].to_list()
    np.testing.assert_allclose(fresh.to_numpy(), reported["lstm"].to_numpy(), rtol=1e-5, atol=1e-6)


def check_the_model_is_promoted(chain: Chain) -> None:
    record = promoted(chain.store, EVALUATION_LOCATION)
    assert record["run_id"] == chain.pointer()["run_id"] and record["archive"] == chain.pointer()["archive"]
    metadata = chain.materialisation(chain.evaluation, MODEL_EVALUATION)
    assert metadata["promoted"].value is True
    assert record["evaluation"]["median_lstm_nse"] == pytest.approx(metadata["median_lstm_nse"].value)
    assert record["evaluation"]["dagster_run_id"] == chain.evaluation.run_id


def check_a_failed_training_leaves_the_published_model(chain: Chain, first_archive: str) -> None:
    before = chain.store.get_bytes(POINTER_KEY)
    archive_bytes = chain.store.get_bytes(first_archive)

    missing_column, _ = materialise(chain.storage, [LSTM_MODEL], {"dynamic_inputs": ["snow_depth_cm"]})
    assert not missing_column.success
    assert "snow_depth_cm" in failure_message(missing_column)[1]

    assert chain.store.get_bytes(POINTER_KEY) == before
    assert chain.archives() == [first_archive]
    assert chain.store.get_bytes(first_archive) == archive_bytes


def check_a_failed_evaluation_keeps_the_promoted_model(chain: Chain) -> None:
    """A gauge whose test year lost its record cannot be scored: the every_basin_scored check fails, the
    evaluation is still stored as the report it is, and promoted.json stays as it was."""
    promoted_before = chain.store.get_bytes(EVALUATION_LOCATION.key("json", name="promoted"))
    published_dataset = chain.store.get_bytes(DATASET_KEY)
    series = chain.data_dir / "time_series" / f"{GAP_GAUGE}.nc"
    with xr.open_dataset(series) as dataset:
        frame = dataset.to_dataframe()
    frame.loc[PERIODS["test"][0] : PERIODS["test"][1], "discharge_mm"] = np.nan
    unscored = chain.scratch / "unscored.zip"
    unscored.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(unscored, "w") as bundle:
        for path in chain.data_dir.rglob("*"):
            if path.is_file() and path != series:
                bundle.write(path, path.relative_to(chain.data_dir).as_posix())
        bundle.writestr(f"time_series/{GAP_GAUGE}.nc", xr.Dataset.from_dataframe(frame).to_netcdf())
    chain.store.put_file(unscored, DATASET_KEY)
    try:
        evaluation, _ = materialise(chain.storage, [MODEL_EVALUATION])
    finally:
        chain.store.put_bytes(published_dataset, DATASET_KEY)
    assert evaluation.success  # a report: stored, with its failed check beside it
    checks = {e.check_name: e.passed for e in evaluation.get_asset_check_evaluations()}
    assert checks == {"lstm_beats_climatology": True, "every_basin_scored": False}
    assert chain.materialisation(evaluation, MODEL_EVALUATION)["promoted"].value is False
    assert chain.store.get_bytes(EVALUATION_LOCATION.key("json", name="promoted")) == promoted_before


def check_a_second_training_keeps_the_first_archive(chain: Chain, first_archive: str) -> None:
    second, _ = materialise(chain.storage, [LSTM_MODEL], {"epochs": 1, "seq_length": 30})
    assert second.success
    metadata = chain.materialisation(second, LSTM_MODEL)
    pointer = chain.pointer()
    assert pointer["archive"] == metadata["archive_key"].value != first_archive
    assert sorted(chain.archives()) == sorted([first_archive, pointer["archive"]])
    assert pointer["config_hash"] != load_settings().config_hash()  # the overrides are part of the hash
    assert pointer["settings"]["epochs"] == 1 and pointer["settings"]["seq_length"] == 30
