"""The LSTM's settings (the versioned ``lstm.yml``) and the NeuralHydrology run configuration built from
them and a training dataset.

The settings say *what* model to train: architecture, optimisation, seed and the input columns by name.
The dataset says *on what*: its directory, basins, periods and which columns it holds. Building the run
configuration checks one against the other, so a config naming a column the data lacks fails before
anything is trained, with both lists in the message. Nothing here imports torch or NeuralHydrology:
NeuralHydrology takes the configuration as a plain dict (its ``Config`` parses DD/MM/YYYY dates itself).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from discharge_model.defs.lstm.training_data import PERIODS, TrainingData

DEFAULT_SETTINGS = Path(__file__).with_name("lstm.yml")
"""The versioned default, packaged beside this module."""

NH_DATE_FORMAT = "%d/%m/%Y"
"""How NeuralHydrology's config spells dates."""


class MissingFeatureError(ValueError):
    """The settings name an input or target column that the training data does not have."""


class LstmSettings(BaseModel):
    """What the versioned ``lstm.yml`` holds; every field is part of the config hash.

    Defaults and why, measured on the sample region's twin experiment (its five gauges, the generator's
    true weather and discharge, the training data's default periods: train 2018-01..2021-09, test
    2022-2023; ``tests/discharge_model/test_lstm_chain.py``), one CPU thread. Figures for "2023 alone"
    come from the split used before (train 2018-2021, validation 2022, test 2023, the driest year):

    - ``epochs`` 15 with ``learning_rate`` 0.01, lowered to 0.002 from epoch 10: median test NSE 0.86,
      0.77 and 0.84 for three seeds, against 0.83, 0.73 and 0.82 at a constant 0.01, for the same 35 to
      50 s of training. More epochs buy little on these four years: with 2023 alone as the test year, 15
      epochs at a constant rate scored 0.58, 30 scored 0.46, and with the rate lowered 20 epochs scored
      0.60 and 30 epochs 0.59.
    - ``seq_length`` 180 days covers the slow groundwater store's memory (a 40-day recession constant) and
      a season of soil moisture and snow; 365 days costs twice as much and did not score better (2023 as
      the test year: 0.51 to 0.60 against 0.58).
    - ``hidden_size`` 32 is ample for a few gauges (CAMELS models use 256 for 531 basins): 16 scored 0.47
      and 64 (with 270 days and 30 epochs, five times the cost) 0.48 where 32 scored 0.58 (2023 alone).
    - ``output_dropout`` 0: 0.4 left the model far from fitting in 15 epochs (2023 alone: -0.04).
    - ``initial_forget_bias`` 3 keeps the forget gate open at the start, NeuralHydrology's advice for
      gradient flow; ``cpu_threads`` 1 because matrices of a 32-unit LSTM are too small for intra-op
      threads to pay, and on a shared CPU spinning threads cost several times the compute.

    Seeds matter: these settings scored 0.77 to 0.86 with three seeds; one fixed seed keeps a run
    reproducible, and its metadata names it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    config_version: int = Field(ge=1, description="Bumped by hand when the meaning of a key changes.")
    model: Literal["cudalstm"] = "cudalstm"
    loss: Literal["NSE", "MSE", "RMSE"] = "NSE"
    dynamic_inputs: tuple[str, ...] = Field(min_length=1)
    static_attributes: tuple[str, ...] = ()
    target: str
    seq_length: int = Field(ge=2, description="Days of input the LSTM sees before each prediction.")
    hidden_size: int = Field(ge=1)
    initial_forget_bias: float | None = 3.0
    output_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    epochs: int = Field(ge=1)
    learning_rate: float | dict[int, float] = Field(
        description="One rate, or {first epoch: rate} for a schedule (NeuralHydrology's form)."
    )
    batch_size: int = Field(ge=1)
    clip_gradient_norm: float | None = 1.0
    seed: int
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: cuda:0 when the pod has a GPU, else the CPU."
    )
    cpu_threads: int | None = Field(default=1, ge=1, description="torch threads on CPU; None keeps torch's.")

    @field_validator("dynamic_inputs", "static_attributes")
    @classmethod
    def _unique(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"listed more than once: {duplicates}")
        return names

    def learning_rates(self) -> dict[int, float]:
        """NeuralHydrology's schedule form: ``{epoch: rate}``, from epoch 0 when one rate is given."""
        if isinstance(self.learning_rate, Mapping):
            return dict(self.learning_rate)
        return {0: self.learning_rate}

    def config_hash(self) -> str:
        """A short, stable hash of every setting: equal hashes train the same model on the same data."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def load_settings(path: Path = DEFAULT_SETTINGS, overrides: Mapping[str, Any] | None = None) -> LstmSettings:
    """The settings of a YAML file, with ``overrides`` (e.g. from the asset's run config) applied on top."""
    if not path.is_file():
        raise FileNotFoundError(f"LSTM settings file {path} does not exist")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    raw.update({key: value for key, value in (overrides or {}).items() if value is not None})
    return LstmSettings.model_validate(raw)


def settings_file_digest(path: Path = DEFAULT_SETTINGS) -> str:
    """A hash of the settings file's bytes, cheap enough for import time (the asset's code version)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def check_features(settings: LstmSettings, data: TrainingData) -> None:
    """Every input and the target the settings name is a column of the training data, else a
    :class:`MissingFeatureError` that names the missing columns and those available."""
    problems = []
    for kind, wanted, available in (
        ("dynamic input", settings.dynamic_inputs, data.dynamic_inputs),
        ("static attribute", settings.static_attributes, data.static_attributes),
        ("target", (settings.target,), (data.target,)),
    ):
        missing = [name for name in wanted if name not in available]
        if missing:
            problems.append(f"{kind}(s) {missing} not in the training data (it has {list(available)})")
    if problems:
        raise MissingFeatureError("; ".join(problems))


def constant_attributes(names: Sequence[str], data: TrainingData) -> list[str]:
    """Static attributes that take one value over all the training basins.

    NeuralHydrology standardises attributes by their spread across basins and refuses one with none; a
    region of one gauge, or an index equal for all its gauges, carries no information for the model, so
    such attributes are left out (and listed in the asset's metadata) instead of failing the run. A
    missing or NaN value is not "constant": :mod:`.preflight` refuses it, naming the basin.
    """
    columns = data.attributes()
    return [name for name in names if len({columns.get(name, {}).get(basin) for basin in data.basins}) < 2]


def nh_config(
    settings: LstmSettings,
    data: TrainingData,
    run_root: Path,
    experiment_name: str,
    device: str,
    static_attributes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """NeuralHydrology's run configuration: ``settings`` trained on ``data``, runs created in ``run_root``.

    ``static_attributes`` replaces the settings' list (after :func:`constant_attributes` took some out).
    Validation runs once, after the last epoch, on every basin: its median NSE lands in the log at the
    cost of one pass over the validation year. Weights are kept for the last epoch only, the one that is
    published.
    """
    check_features(settings, data)
    dates = {
        f"{period}_{edge}_date": day.strftime(NH_DATE_FORMAT)
        for period in PERIODS
        for edge, day in zip(("start", "end"), data.periods[period], strict=True)
    }
    basin_files = {f"{period}_basin_file": str(data.basin_file) for period in PERIODS}
    statics = list(settings.static_attributes if static_attributes is None else static_attributes)
    return {
        "experiment_name": experiment_name,
        "run_dir": str(run_root),
        "data_dir": str(data.data_dir),
        "dataset": "generic",
        **basin_files,
        **dates,
        "model": settings.model,
        "head": "regression",
        "output_activation": "linear",
        "loss": settings.loss,
        "optimizer": "Adam",
        "hidden_size": settings.hidden_size,
        "initial_forget_bias": settings.initial_forget_bias,
        "output_dropout": settings.output_dropout,
        "seq_length": settings.seq_length,
        "predict_last_n": 1,
        "epochs": settings.epochs,
        "learning_rate": settings.learning_rates(),
        "batch_size": settings.batch_size,
        "clip_gradient_norm": settings.clip_gradient_norm,
        "seed": settings.seed,
        "device": device,
        "num_workers": 0,
        "dynamic_inputs": list(settings.dynamic_inputs),
        "static_attributes": statics,
        "target_variables": [settings.target],
        "clip_targets_to_zero": [settings.target],
        "metrics": ["NSE"],
        "validate_every": settings.epochs,
        "validate_n_random_basins": len(data.basins),
        "save_weights_every": settings.epochs,
        "save_validation_results": False,
        "log_interval": 5,
        "log_tensorboard": False,
        "log_n_figures": 0,
        "save_git_diff": False,
        "verbose": 0,
    }
