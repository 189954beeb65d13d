"""Simulate a stored run over the validation and test periods and score it, with the climatology
baseline, per basin on the test period.

Simulation goes through NeuralHydrology's own tester (the code path its ``nh-run evaluate`` uses): it
reads each basin's inputs with the warm-up before the period, applies the run's stored scalers and
rescales the predictions, so evaluation cannot drift from how the model was trained. Negative simulated
discharge is set to 0 before scoring and plotting (NeuralHydrology's ``clip_targets_to_zero``). The
validation year is simulated too, only to give the hydrographs context before the shaded test period.

This module imports torch and NeuralHydrology: import it inside asset functions only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import xarray

from discharge_model.defs.lstm.climatology import climatology_series, daily_climatology
from discharge_model.defs.lstm.metrics import score
from discharge_model.defs.lstm.training_data import TrainingData

SIMULATED_PERIODS = ("validation", "test")
"""Periods simulated for the hydrographs; only ``test`` is scored."""

LSTM = "lstm"
CLIMATOLOGY = "climatology"

PREDICTION_SCHEMA = pl.Schema(
    {
        "basin": pl.String,
        "date": pl.Date,
        "period": pl.String,
        "observed": pl.Float64,
        LSTM: pl.Float64,
        CLIMATOLOGY: pl.Float64,
    }
)
"""One row per basin and simulated day: the series behind the metrics and the plots (mm/day)."""


@dataclass(frozen=True)
class PeriodBounds:
    """A period's first and last day."""

    start: pd.Timestamp
    end: pd.Timestamp


def period_bounds(config: Any, period: str) -> PeriodBounds:
    """The run's own ``period`` (one contiguous slice: the training data contract has no split periods)."""
    start, end = getattr(config, f"{period}_start_date"), getattr(config, f"{period}_end_date")
    if isinstance(start, list) or isinstance(end, list):
        if len(start) != 1 or len(end) != 1:
            raise ValueError(f"the run's {period} period is split into several slices; expected one")
        start, end = start[0], end[0]
    return PeriodBounds(pd.Timestamp(start), pd.Timestamp(end))


def simulate(
    config: Any, run_dir: Path, periods: Sequence[str] = SIMULATED_PERIODS
) -> dict[str, pd.DataFrame]:
    """``{basin: frame}`` indexed by date, columns ``observed``, ``lstm`` (clipped at 0) and ``period``.

    A basin without data in a period (NeuralHydrology skips it) is simply absent from that period.
    """
    from neuralhydrology.evaluation import get_tester

    target = config.target_variables[0]
    pieces: dict[str, list[pd.DataFrame]] = {}
    for period in periods:
        tester = get_tester(cfg=config, run_dir=run_dir, period=period, init_model=True)
        results = tester.evaluate(save_results=False, metrics=[])
        for basin, by_frequency in results.items():
            frame = next(iter(by_frequency.values()))["xr"].isel(time_step=-1)
            simulated = frame[f"{target}_sim"].to_numpy().astype(np.float64)
            pieces.setdefault(basin, []).append(
                pd.DataFrame(
                    {
                        "observed": frame[f"{target}_obs"].to_numpy().astype(np.float64),
                        LSTM: np.where(simulated < 0, 0.0, simulated),
                        "period": period,
                    },
                    index=pd.DatetimeIndex(frame["date"].to_numpy(), name="date"),
                )
            )
    return {basin: pd.concat(frames).sort_index() for basin, frames in pieces.items()}


def training_observations(data: TrainingData, basin: str, target: str, train: PeriodBounds) -> pd.Series:
    """The basin's observed target over the training period, read from its netCDF."""
    with xarray.open_dataset(data.time_series(basin)) as dataset:
        series = dataset[target].sel(date=slice(train.start, train.end)).to_series()
    return series.astype(np.float64)


def with_climatology(frame: pd.DataFrame, train_observed: pd.Series) -> pd.DataFrame:
    """``frame`` plus the climatology of the training observations read for its dates."""
    climatology = daily_climatology(pd.DatetimeIndex(train_observed.index), train_observed.to_numpy())
    return frame.assign(**{CLIMATOLOGY: climatology_series(pd.DatetimeIndex(frame.index), climatology)})


def predictions_table(series: Mapping[str, pd.DataFrame]) -> pl.DataFrame:
    """Every basin's simulated days in one table (:data:`PREDICTION_SCHEMA`)."""
    frames = [
        pl.DataFrame(
            {
                "basin": basin,
                "date": frame.index.to_numpy(),
                "period": frame["period"].to_numpy(),
                "observed": frame["observed"].to_numpy(),
                LSTM: frame[LSTM].to_numpy(),
                CLIMATOLOGY: frame[CLIMATOLOGY].to_numpy(),
            }
        )
        .with_columns(pl.col("date").cast(pl.Date))
        .cast(PREDICTION_SCHEMA)
        for basin, frame in sorted(series.items())
    ]
    return pl.concat(frames) if frames else PREDICTION_SCHEMA.to_frame()


def metrics_table(
    series: Mapping[str, pd.DataFrame], test: PeriodBounds, catchments: Mapping[str, str], model_run: str
) -> pl.DataFrame:
    """One row per basin: the test period's scores of the LSTM (``lstm_*``) and of the climatology
    (``climatology_*``), and the NSE the LSTM gains over the baseline."""
    rows = []
    for basin, frame in sorted(series.items()):
        test_days = frame[frame["period"] == "test"]
        lstm_scores = score(test_days["observed"].to_numpy(), test_days[LSTM].to_numpy())
        baseline = score(test_days["observed"].to_numpy(), test_days[CLIMATOLOGY].to_numpy())
        rows.append(
            {
                "basin": basin,
                "catchment_id": catchments.get(basin),
                "model_run": model_run,
                "test_start": test.start.date(),
                "test_end": test.end.date(),
                **lstm_scores.as_dict(f"{LSTM}_"),
                **{
                    k: v
                    for k, v in baseline.as_dict(f"{CLIMATOLOGY}_").items()
                    if k != "climatology_valid_days"
                },
                "nse_gain": lstm_scores.nse - baseline.nse,
            }
        )
    return pl.DataFrame(rows, schema_overrides={"catchment_id": pl.String}).rename(
        {f"{LSTM}_valid_days": "valid_days"}
    )
