import datetime as dt
from enum import StrEnum

import polars as pl
import pytest
from pydantic import BaseModel

from shared.io_managers.pydantic_frames import (
    ModelSchemaError,
    frame_to_models,
    is_model_list,
    models_to_frame,
    polars_schema,
)


class Flag(StrEnum):
    OK = "ok"
    REJECTED = "rejected"


class Location(BaseModel):
    x: float
    y: float


class Observation(BaseModel):
    station: str
    day: dt.date
    value: float | None
    flag: Flag
    location: Location
    tags: list[str]


def test_schema_follows_field_types():
    assert polars_schema(Observation) == pl.Schema(
        {
            "station": pl.String,
            "day": pl.Date,
            "value": pl.Float64,
            "flag": pl.String,
            "location": pl.Struct({"x": pl.Float64, "y": pl.Float64}),
            "tags": pl.List(pl.String),
        }
    )


def test_round_trip_preserves_models():
    rows = [
        Observation(
            station="s1",
            day=dt.date(2024, 1, 1),
            value=None,
            flag=Flag.REJECTED,
            location=Location(x=1, y=2),
            tags=["spike"],
        ),
        Observation(
            station="s2",
            day=dt.date(2024, 1, 2),
            value=3.5,
            flag=Flag.OK,
            location=Location(x=3, y=4),
            tags=[],
        ),
    ]
    frame = models_to_frame(rows, Observation)
    assert frame.height == 2
    assert frame_to_models(frame, Observation, "test") == rows


def test_unsupported_field_type_is_named():
    class Bad(BaseModel):
        payload: dict[str, int]

    with pytest.raises(ModelSchemaError, match=r"Bad\.payload"):
        polars_schema(Bad)


def test_invalid_row_is_named_by_index():
    frame = pl.DataFrame({"x": [1.0, None], "y": [2.0, 3.0]})
    with pytest.raises(ValueError, match=r"stored.parquet: row 1 does not validate as Location"):
        frame_to_models(frame, Location, "stored.parquet")


def test_model_list_detection():
    assert is_model_list(list[Location])
    assert not is_model_list(list[int])
    assert not is_model_list(pl.DataFrame)
