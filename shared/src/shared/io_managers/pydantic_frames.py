"""Convert between ``list[PydanticModel]`` and polars frames with a schema derived from the model.

Deriving the schema from the model (not from the rows) keeps column types stable when a list is empty
or a column is all ``None``, so downstream readers always see the same Parquet schema.
"""

from __future__ import annotations

import datetime as dt
import enum
import types
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Union, get_args, get_origin

import polars as pl
from pydantic import BaseModel, ValidationError

_SCALARS: dict[Any, pl.DataType] = {
    bool: pl.Boolean(),
    int: pl.Int64(),
    float: pl.Float64(),
    str: pl.String(),
    bytes: pl.Binary(),
    Decimal: pl.Float64(),
    dt.date: pl.Date(),
    dt.time: pl.Time(),
    dt.timedelta: pl.Duration("us"),
}


class ModelSchemaError(TypeError):
    """A pydantic model field has a type with no Parquet column equivalent."""


def is_model_list(annotation: Any) -> bool:
    """Whether ``annotation`` is ``list[SomeModel]``."""
    args = get_args(annotation)
    return get_origin(annotation) is list and len(args) == 1 and _is_model(args[0])


def model_of(annotation: Any) -> type[BaseModel]:
    """The model class of ``list[SomeModel]``."""
    return get_args(annotation)[0]


def polars_schema(model: type[BaseModel]) -> pl.Schema:
    """The polars schema of a model: one column per field, in declaration order."""
    return pl.Schema(
        {
            name: _dtype(field.annotation, f"{model.__name__}.{name}")
            for name, field in model.model_fields.items()
        }
    )


def models_to_frame(models: Sequence[BaseModel], model: type[BaseModel]) -> pl.DataFrame:
    """Rows from models, typed by the model's schema."""
    rows = [item.model_dump(mode="python") for item in models]
    return pl.DataFrame(rows, schema=polars_schema(model), orient="row" if not rows else None)


def frame_to_models(frame: pl.DataFrame, model: type[BaseModel], source: str) -> list[BaseModel]:
    """Validate every row into the model; a bad row is named by its index and the stored object."""
    models = []
    for index, row in enumerate(frame.iter_rows(named=True)):
        try:
            models.append(model.model_validate(row))
        except ValidationError as error:
            raise ValueError(
                f"{source}: row {index} does not validate as {model.__name__}: {error}"
            ) from error
    return models


def _is_model(candidate: Any) -> bool:
    return isinstance(candidate, type) and issubclass(candidate, BaseModel)


def _dtype(annotation: Any, where: str) -> pl.DataType:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) != 1:
            raise ModelSchemaError(f"{where}: unions of several types have no column type ({annotation!r})")
        return _dtype(members[0], where)
    if origin in (list, tuple, set, frozenset):
        args = [arg for arg in get_args(annotation) if arg is not Ellipsis]
        if len(set(args)) != 1:
            raise ModelSchemaError(f"{where}: sequences need one element type ({annotation!r})")
        return pl.List(_dtype(args[0], where))
    if annotation is dt.datetime:
        return pl.Datetime("us", time_zone="UTC")
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return pl.String()
    if _is_model(annotation):
        return pl.Struct(polars_schema(annotation))
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    raise ModelSchemaError(f"{where}: no Parquet column type for {annotation!r}")
