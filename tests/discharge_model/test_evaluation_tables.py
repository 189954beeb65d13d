"""The evaluation's tables and plots from simulated series made here: which days are scored, what each
column holds, and a hydrograph of bounded size that the Dagster UI can show inline."""

import base64
import datetime as dt
import struct

import numpy as np
import pandas as pd
import polars as pl
import pytest

from discharge_model.defs.lstm.evaluation import (
    PREDICTION_SCHEMA,
    PeriodBounds,
    metrics_table,
    predictions_table,
    with_climatology,
)
from discharge_model.defs.lstm.hydrographs import HEIGHT_PX, WIDTH_PX, hydrograph_png, markdown_image
from discharge_model.defs.lstm.metrics import nse

VALIDATION = pd.date_range("2022-01-01", "2022-12-31", freq="D")
TEST = pd.date_range("2023-01-01", "2023-12-31", freq="D")
TEST_BOUNDS = PeriodBounds(pd.Timestamp("2023-01-01"), pd.Timestamp("2023-12-31"))


def simulated_frame(seed: int, noise: float) -> tuple[pd.DataFrame, pd.Series]:
    """Validation and test days of a seasonal basin, the LSTM off by ``noise``, and its training record."""
    rng = np.random.default_rng(seed)
    dates = VALIDATION.append(TEST)
    observed = 1.0 + np.sin(2 * np.pi * dates.day_of_year / 365.25) + 0.3 * rng.random(dates.size)
    frame = pd.DataFrame(
        {
            "observed": observed,
            "lstm": observed + noise * rng.standard_normal(dates.size),
            "period": np.where(dates.year == 2023, "test", "validation"),
        },
        index=pd.DatetimeIndex(dates, name="date"),
    )
    train_dates = pd.date_range("2018-01-01", "2021-12-31", freq="D")
    train = pd.Series(1.0 + np.sin(2 * np.pi * train_dates.day_of_year / 365.25), index=train_dates)
    return frame, train


def test_only_test_days_are_scored_and_the_baseline_beside_the_lstm() -> None:
    good, train = simulated_frame(1, 0.05)
    poor, _ = simulated_frame(2, 2.0)
    series = {"b2": with_climatology(poor, train), "b1": with_climatology(good, train)}
    series["b2"].loc["2023-03-01":"2023-03-05", "observed"] = np.nan
    table = metrics_table(series, TEST_BOUNDS, {"b1": "reach-1"}, "run-x")
    assert table["basin"].to_list() == ["b1", "b2"]
    assert table["catchment_id"].to_list() == ["reach-1", None]
    assert table["model_run"].unique().to_list() == ["run-x"]
    assert table["valid_days"].to_list() == [365, 360]
    test_days = series["b1"].loc["2023"]
    assert table["lstm_nse"][0] == pytest.approx(nse(test_days["observed"], test_days["lstm"]))
    assert table["climatology_nse"][0] == pytest.approx(nse(test_days["observed"], test_days["climatology"]))
    # the validation year is left out: scoring it too would give another number
    both = series["b1"]
    assert table["lstm_nse"][0] != pytest.approx(nse(both["observed"], both["lstm"]), abs=1e-9)
    assert table["nse_gain"].to_list() == pytest.approx(
        (table["lstm_nse"] - table["climatology_nse"]).to_list()
    )
    assert table["lstm_nse"][0] > table["climatology_nse"][0] > table["lstm_nse"][1]


def test_the_climatology_is_the_training_record_read_by_calendar_day() -> None:
    frame, train = simulated_frame(3, 0.1)
    baseline = with_climatology(frame, train)["climatology"]
    # the training record is a pure seasonal cycle: its smoothed climatology stays within a few percent
    expected = 1.0 + np.sin(2 * np.pi * frame.index.day_of_year / 365.25)
    assert np.abs(baseline.to_numpy() - expected).max() < 0.05


def test_predictions_hold_every_simulated_day_of_every_basin() -> None:
    frame, train = simulated_frame(4, 0.1)
    table = predictions_table({"b1": with_climatology(frame, train), "b0": with_climatology(frame, train)})
    assert table.schema == PREDICTION_SCHEMA
    assert table.height == 2 * (365 + 365)
    assert table["basin"].unique(maintain_order=True).to_list() == ["b0", "b1"]
    assert table.filter(pl.col("period") == "test")["date"].min() == dt.date(2023, 1, 1)
    assert predictions_table({}).schema == PREDICTION_SCHEMA


def test_a_hydrograph_is_a_bounded_png_shown_inline() -> None:
    frame, train = simulated_frame(5, 0.1)
    frame = with_climatology(frame, train)
    frame.loc["2022-05-01":"2022-05-20", "observed"] = np.nan  # a gap stays a gap
    png = hydrograph_png(
        "b1 (pilica)",
        pd.DatetimeIndex(frame.index),
        frame["observed"].to_numpy(),
        frame["lstm"].to_numpy(),
        frame["climatology"].to_numpy(),
        TEST_BOUNDS.start,
        TEST_BOUNDS.end,
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (WIDTH_PX, HEIGHT_PX)
    assert len(png) < 150_000
    markdown = markdown_image(png, "b1")
    prefix = "![b1](data:image/png;base64,"
    assert markdown.startswith(prefix) and markdown.endswith(")")
    assert base64.b64decode(markdown[len(prefix) : -1]) == png
