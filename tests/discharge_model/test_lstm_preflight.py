"""The model's own look at a dataset before it trains: each unusable column is reported with its basin,
and a sound dataset passes. Real netCDFs, written as the training-data contract has them."""

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from discharge_model.defs.lstm.preflight import (
    DatasetRefusedError,
    Problem,
    dataset_problems,
    refuse_unusable,
)
from discharge_model.defs.lstm.training_data import TrainingData

BASINS = ("b1", "b2", "b3")
DYNAMIC = ("precipitation_mm", "air_temperature_c")
STATIC = ("area_km2", "p_mean")
PERIODS = {
    "train": (dt.date(2020, 1, 1), dt.date(2020, 12, 31)),
    "validation": (dt.date(2021, 1, 1), dt.date(2021, 6, 30)),
    "test": (dt.date(2021, 7, 1), dt.date(2021, 12, 31)),
}
WARM_UP = pd.date_range("2019-12-01", "2019-12-31")
"""Days before the train start, which the model never reads as a target day."""


Edit = Callable[[pd.DataFrame], pd.DataFrame]


def dataset(
    folder: Path, edits: dict[str, Edit] | None = None, attributes: str | None = None
) -> TrainingData:
    """Three basins of random series over the periods and a month before, each edited by ``edits``."""
    days = pd.date_range(WARM_UP[0], PERIODS["test"][1], name="date")
    rng = np.random.default_rng(1)
    (folder / "time_series").mkdir(parents=True)
    (folder / "attributes").mkdir()
    for basin in BASINS:
        frame = pd.DataFrame({name: rng.random(len(days)) for name in (*DYNAMIC, "discharge_mm")}, index=days)
        if edits and basin in edits:
            frame = edits[basin](frame)
        xr.Dataset.from_dataframe(frame.astype(np.float32)).to_netcdf(folder / "time_series" / f"{basin}.nc")
    (folder / "attributes" / "attributes.csv").write_text(
        attributes or "gauge_id,area_km2,p_mean\nb1,10.0,2.0\nb2,20.0,2.1\nb3,5.0,1.9\n"
    )
    return TrainingData(folder, BASINS, PERIODS, DYNAMIC, STATIC, "discharge_mm")


def problems(data: TrainingData) -> list[Problem]:
    return dataset_problems(data, DYNAMIC, STATIC, "discharge_mm")


def test_a_sound_dataset_passes(tmp_path: Path) -> None:
    assert problems(dataset(tmp_path)) == []
    refuse_unusable(dataset(tmp_path / "again"), DYNAMIC, STATIC, "discharge_mm")


def test_each_defect_names_its_basin_and_column(tmp_path: Path) -> None:
    def no_target(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc["2020-01-01":"2020-12-31", "discharge_mm"] = np.nan  # observed only outside training
        return frame

    def renamed(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.rename(columns={"precipitation_mm": "precip_mm"})

    def gap(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc["2021-03-02":"2021-03-04", "air_temperature_c"] = np.nan
        frame.loc[WARM_UP[0], "precipitation_mm"] = np.nan  # before the train start: never read as a day
        return frame

    data = dataset(
        tmp_path,
        edits={"b1": no_target, "b2": renamed, "b3": gap},
        attributes="gauge_id,area_km2,p_mean\nb1,10.0,\nb2,20.0,2.1\nb3,5.0,1.9\n",
    )
    found = {(p.basin, p.column): p.reason for p in problems(data)}
    assert set(found) == {
        ("b1", "p_mean"),
        ("b1", "discharge_mm"),
        ("b2", "precipitation_mm"),
        ("b3", "air_temperature_c"),
    }
    assert "nan" in found["b1", "p_mean"]
    assert "no observed value in the train period 2020-01-01..2020-12-31" in found["b1", "discharge_mm"]
    assert "not a variable of b2.nc" in found["b2", "precipitation_mm"]
    gap_reason = found["b3", "air_temperature_c"]
    assert "3 day(s) missing" in gap_reason and "the first on 2021-03-02" in gap_reason
    with pytest.raises(DatasetRefusedError, match=r"4 problem\(s\): basin=b1 column=p_mean"):
        refuse_unusable(data, DYNAMIC, STATIC, "discharge_mm")


def test_an_attribute_column_missing_from_the_table_is_named_per_basin(tmp_path: Path) -> None:
    data = dataset(tmp_path, attributes="gauge_id,area_km2\nb1,10.0\nb2,20.0\nb3,5.0\n")
    assert [(p.basin, p.column, p.reason) for p in problems(data)] == [
        (basin, "p_mean", "not in attributes.csv") for basin in BASINS
    ]
