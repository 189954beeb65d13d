"""The promoted model run on a forecast's dataset, through the evaluation's code path.

The stored run directory is fetched and verified against the SHA-256 ``promoted.json`` records
(:func:`~discharge_model.defs.lstm.run_archive.fetch`), its configuration re-pointed at the forecast's
dataset (:func:`~discharge_model.defs.lstm.reload.run_config`) with the test period set to the simulated
days, and simulated by :func:`~discharge_model.defs.lstm.evaluation.simulate`: NeuralHydrology's own
tester with the run's scalers, negative discharge clipped to 0. What the model reads (inputs, attributes,
sequence length) comes from the stored run's configuration, never from the current ``lstm.yml``: a model
reads what it was trained on.

torch and NeuralHydrology load inside these functions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from discharge_model.defs.lstm.nh_config import NH_DATE_FORMAT
from discharge_model.defs.lstm.reload import RUN_CONFIG


@dataclass(frozen=True)
class ModelReads:
    """The inputs a stored run was trained on, from its own configuration."""

    dynamic_inputs: list[str]
    static_attributes: list[str]
    seq_length: int
    target: str


def model_reads(run_dir: Path) -> ModelReads:
    """What the stored run in ``run_dir`` reads (a daily single-frequency model, as the lstm asset trains)."""
    from neuralhydrology.utils.config import Config

    config = Config(run_dir / RUN_CONFIG)
    dynamic, seq_length = config.dynamic_inputs, config.seq_length
    if isinstance(dynamic, dict) or isinstance(seq_length, dict):
        raise ValueError(f"{run_dir / RUN_CONFIG}: a multi-frequency model; forecasts run daily models only")
    return ModelReads(
        dynamic_inputs=list(dynamic),
        static_attributes=list(config.static_attributes or []),
        seq_length=int(seq_length),
        target=str(config.target_variables[0]),
    )


def simulate_days(run_dir: Path, data_dir: Path, first: dt.date, last: dt.date) -> pl.DataFrame:
    """``basin``, ``date``, ``discharge_mm`` (clipped at 0) of every basin of ``data_dir`` on
    ``first``..``last``, as the evaluation simulates its test period."""
    from discharge_model.defs.lstm.evaluation import LSTM, simulate
    from discharge_model.defs.lstm.reload import run_config
    from discharge_model.defs.lstm.training import pick_device

    config: Any = run_config(run_dir, data_dir, pick_device("auto"))
    config.update_config(
        {"test_start_date": first.strftime(NH_DATE_FORMAT), "test_end_date": last.strftime(NH_DATE_FORMAT)}
    )
    with without_target_warnings():
        simulated = simulate(config, run_dir, periods=("test",))
    frames = [
        pl.DataFrame(
            {"basin": basin, "date": frame.index.to_numpy(), "discharge_mm": frame[LSTM].to_numpy()}
        ).with_columns(pl.col("date").cast(pl.Date))
        for basin, frame in simulated.items()
    ]
    if not frames:
        raise ValueError(f"the model simulated no basin of {data_dir} on {first}..{last}")
    return pl.concat(frames)


NO_TARGET_WARNING = "not enough valid target values to calculate a standard deviation"
"""What NeuralHydrology's dataset warns, once per basin, when a basin has no target: every catchment of a
forecast's dataset, whose days are not observed yet (the target only matters to the NSE loss in
training)."""


@contextmanager
def without_target_warnings() -> Iterator[None]:
    """Leave NeuralHydrology's per-basin no-target warning out of the step's log while simulating."""
    logger = logging.getLogger("neuralhydrology.datasetzoo.basedataset")

    def keep(record: logging.LogRecord) -> bool:
        return NO_TARGET_WARNING not in record.getMessage()

    logger.addFilter(keep)
    try:
        yield
    finally:
        logger.removeFilter(keep)
