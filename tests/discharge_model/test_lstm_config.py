"""The LSTM's settings, the training-data contract as the trainer reads it, and the NeuralHydrology run
configuration built from both: checked without training anything."""

import datetime as dt
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from discharge_model.defs.lstm.nh_config import (
    DEFAULT_SETTINGS,
    MissingFeatureError,
    check_features,
    constant_attributes,
    load_settings,
    nh_config,
)
from discharge_model.defs.lstm.training_data import TrainingDataError, read, unpack

PERIODS = {
    "train": ["2018-01-01", "2021-12-31"],
    "validation": ["2022-01-01", "2022-12-31"],
    "test": ["2023-01-01", "2023-12-31"],
}


def write_dataset(folder: Path, description: dict | None = None, attributes: str | None = None) -> Path:
    """A dataset folder in the contract's layout; the netCDFs are empty placeholders (never opened here)."""
    basins = ["b1", "b2", "b3"]
    (folder / "time_series").mkdir(parents=True)
    (folder / "attributes").mkdir()
    for basin in basins:
        (folder / "time_series" / f"{basin}.nc").write_bytes(b"")
    (folder / "basins.txt").write_text("\n".join(basins) + "\n")
    (folder / "attributes" / "attributes.csv").write_text(
        attributes or "gauge_id,area_km2,p_mean,frac_snow\nb1,10.0,2.0,0.1\nb2,20.0,2.1,0.1\nb3,5.0,1.9,0.1\n"
    )
    (folder / "dataset.json").write_text(
        json.dumps(
            description
            or {
                "periods": PERIODS,
                "dynamic_inputs": ["precipitation_mm", "air_temperature_c", "pet_mm", "air_pressure_hpa"],
                "static_attributes": ["area_km2", "p_mean", "frac_snow"],
                "target": "discharge_mm",
                "input_versions": {"features/catchment_forcings": "sha256:abc"},
                "gauge_catchments": {"b1": "r1", "b2": "r2", "b3": "r3"},
            }
        )
    )
    return folder


def test_the_versioned_settings_load_and_hash_stably() -> None:
    settings = load_settings()
    assert settings.model == "cudalstm" and settings.loss == "NSE"
    assert settings.target == "discharge_mm"
    assert settings.config_hash() == load_settings().config_hash()
    assert load_settings(overrides={"epochs": 2}).config_hash() != settings.config_hash()
    assert load_settings(overrides={"epochs": None}) == settings  # an unset override changes nothing
    assert yaml.safe_load(DEFAULT_SETTINGS.read_text())["config_version"] == settings.config_version


def test_settings_refuse_unknown_keys_and_duplicate_columns(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT_SETTINGS.read_text())
    path = tmp_path / "lstm.yml"
    path.write_text(yaml.safe_dump({**raw, "hiden_size": 64}))
    with pytest.raises(ValidationError, match="hiden_size"):
        load_settings(path)
    path.write_text(yaml.safe_dump({**raw, "dynamic_inputs": ["pet_mm", "pet_mm"]}))
    with pytest.raises(ValidationError, match="listed more than once"):
        load_settings(path)


def test_the_run_configuration_follows_the_settings_and_the_dataset(tmp_path: Path) -> None:
    data = read(write_dataset(tmp_path / "data"))
    settings = load_settings(
        overrides={
            "dynamic_inputs": ["precipitation_mm", "pet_mm"],
            "static_attributes": ["area_km2", "p_mean"],
            "learning_rate": {0: 0.01, 10: 0.001},
        }
    )
    config = nh_config(settings, data, tmp_path / "runs", "lstm_pilica", "cpu")
    assert config["dataset"] == "generic" and config["data_dir"] == str(tmp_path / "data")
    assert (config["train_start_date"], config["train_end_date"]) == ("01/01/2018", "31/12/2021")
    assert (config["test_start_date"], config["test_end_date"]) == ("01/01/2023", "31/12/2023")
    assert config["train_basin_file"] == config["test_basin_file"] == str(tmp_path / "data" / "basins.txt")
    assert config["dynamic_inputs"] == ["precipitation_mm", "pet_mm"]  # only what the settings name
    assert config["static_attributes"] == ["area_km2", "p_mean"]
    assert config["target_variables"] == ["discharge_mm"]
    assert (config["model"], config["loss"], config["device"]) == ("cudalstm", "NSE", "cpu")
    assert (config["seq_length"], config["hidden_size"]) == (settings.seq_length, settings.hidden_size)
    assert config["learning_rate"] == {0: 0.01, 10: 0.001}
    assert config["seed"] == settings.seed and config["num_workers"] == 0


def test_neuralhydrology_accepts_the_run_configuration(tmp_path: Path) -> None:
    from neuralhydrology.utils.config import Config

    data = read(write_dataset(tmp_path / "data"))
    settings = load_settings(overrides={"dynamic_inputs": ["precipitation_mm"], "static_attributes": []})
    parsed = Config(nh_config(settings, data, tmp_path / "runs", "lstm_pilica", "cpu"))
    assert parsed.train_start_date.date() == dt.date(2018, 1, 1)
    assert parsed.test_end_date.date() == dt.date(2023, 12, 31)
    assert parsed.run_dir == tmp_path / "runs"


def test_a_column_the_data_lacks_is_named_with_what_it_has(tmp_path: Path) -> None:
    data = read(write_dataset(tmp_path / "data"))
    settings = load_settings(overrides={"dynamic_inputs": ["precipitation_mm", "snow_depth_cm"]})
    with pytest.raises(MissingFeatureError, match=r"\['snow_depth_cm'\].*it has \['precipitation_mm'"):
        check_features(settings, data)
    with pytest.raises(MissingFeatureError, match="target"):
        check_features(load_settings(overrides={"target": "discharge_m3s"}), data)


def test_attributes_equal_for_every_basin_are_found(tmp_path: Path) -> None:
    data = read(write_dataset(tmp_path / "data"))
    assert constant_attributes(["area_km2", "p_mean", "frac_snow"], data) == ["frac_snow"]


def test_the_dataset_reads_with_its_description(tmp_path: Path) -> None:
    data = read(write_dataset(tmp_path / "data"))
    assert data.basins == ("b1", "b2", "b3")
    assert data.periods["validation"] == (dt.date(2022, 1, 1), dt.date(2022, 12, 31))
    assert data.gauge_catchments == {"b1": "r1", "b2": "r2", "b3": "r3"}
    assert data.input_versions == {"features/catchment_forcings": "sha256:abc"}


@pytest.mark.hostile
@pytest.mark.parametrize(
    ("breaks", "message"),
    [
        (lambda folder: (folder / "dataset.json").unlink(), "no dataset.json"),
        (lambda folder: (folder / "dataset.json").write_text("{"), "not JSON"),
        (lambda folder: (folder / "basins.txt").write_text("\n"), "lists no basin"),
        (lambda folder: (folder / "time_series" / "b2.nc").unlink(), r"basin\(s\) \['b2'\]"),
        (lambda folder: (folder / "attributes" / "attributes.csv").unlink(), "no attributes/attributes.csv"),
        (
            lambda folder: edit_periods(folder, test=["2021-06-01", "2021-12-31"]),
            "'train' and 'test' overlap",
        ),
        (lambda folder: edit_periods(folder, test=["2023-12-31", "2023-01-01"]), "ends .* before it starts"),
        (lambda folder: edit_periods(folder, test=None), "exactly"),
    ],
)
def test_a_broken_dataset_is_refused_naming_the_part(
    tmp_path: Path, breaks: Callable[[Path], object], message: str
) -> None:
    folder = write_dataset(tmp_path / "data")
    breaks(folder)
    with pytest.raises(TrainingDataError, match=message):
        read(folder)


def edit_periods(folder: Path, **changes: list[str] | None) -> None:
    description = json.loads((folder / "dataset.json").read_text())
    for name, value in changes.items():
        if value is None:
            description["periods"].pop(name)
        else:
            description["periods"][name] = value
    (folder / "dataset.json").write_text(json.dumps(description))


@pytest.mark.hostile
def test_a_zip_member_escaping_the_folder_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("../outside.txt", "x")
    with pytest.raises(TrainingDataError, match="outside"):
        unpack(archive, tmp_path / "data")
    assert not (tmp_path / "outside.txt").exists()
    (tmp_path / "not.zip").write_text("plain text")
    with pytest.raises(TrainingDataError, match="not a zip"):
        unpack(tmp_path / "not.zip", tmp_path / "data2")
