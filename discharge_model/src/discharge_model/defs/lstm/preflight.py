"""What the model checks in a training dataset before it trains: every column its settings name is there
and usable in every basin, so a broken dataset stops the run before the first epoch, naming basin and
column, instead of failing deep inside NeuralHydrology (a variable missing from a netCDF) or, worse,
training anyway (a basin without any observed target is quietly left out; an attribute that is NaN for
one basin turns its whole standardised column into NaN).

The training-data asset's blocking checks refuse each of these before a dataset is published, and the
registry's contract promises what they check; this is the model's own guard for a zip that reached
storage another way (an earlier version of the contract, a dataset built by a script), and it reads only
the columns the model will use. xarray loads inside :func:`dataset_problems`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from discharge_model.defs.lstm.training_data import TrainingData

SHOWN_PROBLEMS = 10
"""Problems spelled out in the error message (a dataset broken upstream can have one per basin)."""


@dataclass(frozen=True)
class Problem:
    """One unusable column of one basin."""

    basin: str
    column: str
    reason: str

    def __str__(self) -> str:
        return f"basin={self.basin} column={self.column}: {self.reason}"


class DatasetRefusedError(ValueError):
    """The training data cannot train the configured model; the message names each basin and column."""


def dataset_problems(
    data: TrainingData, dynamic_inputs: Sequence[str], static_attributes: Sequence[str], target: str
) -> list[Problem]:
    """Every problem found: a static attribute missing or not finite; a dynamic input or the target
    missing from a basin's netCDF; a dynamic input missing (NaN) on a day between the train start and the
    test end (NeuralHydrology drops every sequence that reads one); no observed target in the train
    period."""
    import xarray

    problems = attribute_problems(data, static_attributes)
    for basin in data.basins:
        with xarray.open_dataset(data.time_series(basin)) as series:
            problems.extend(series_problems(data, basin, series, dynamic_inputs, target))
    return problems


def attribute_problems(data: TrainingData, static_attributes: Sequence[str]) -> list[Problem]:
    """Static attributes absent from attributes.csv or not finite, per basin."""
    problems = []
    attributes = data.attributes()
    for basin in data.basins:
        for column in static_attributes:
            value = attributes.get(column, {}).get(basin)
            if value is None:
                problems.append(Problem(basin, column, "not in attributes.csv"))
            elif not math.isfinite(value):
                problems.append(Problem(basin, column, f"static attribute is {value}"))
    return problems


def series_problems(
    data: TrainingData, basin: str, series: Any, dynamic_inputs: Sequence[str], target: str
) -> list[Problem]:
    """The problems of one basin's netCDF (an open xarray Dataset)."""
    import numpy as np

    problems = [
        Problem(basin, column, f"not a variable of {data.time_series(basin).name}")
        for column in (*dynamic_inputs, target)
        if column not in series.data_vars
    ]
    first_day, last_day = data.periods["train"][0], data.periods["test"][1]
    for column in (name for name in dynamic_inputs if name in series.data_vars):
        span = series[column].sel(date=slice(str(first_day), str(last_day)))
        missing = ~np.isfinite(span.to_numpy())
        if missing.any():
            first = str(span["date"].to_numpy()[missing][0])[:10]
            problems.append(
                Problem(
                    basin,
                    column,
                    f"{int(missing.sum())} day(s) missing between {first_day} and {last_day}, the first "
                    f"on {first}",
                )
            )
    train_start, train_end = data.periods["train"]
    if target in series.data_vars:
        observed = series[target].sel(date=slice(str(train_start), str(train_end))).to_numpy()
        if not np.isfinite(observed).any():
            problems.append(
                Problem(basin, target, f"no observed value in the train period {train_start}..{train_end}")
            )
    return problems


def refuse_unusable(
    data: TrainingData, dynamic_inputs: Sequence[str], static_attributes: Sequence[str], target: str
) -> None:
    """Raise :class:`DatasetRefusedError` listing the :func:`dataset_problems`, if there are any."""
    problems = dataset_problems(data, dynamic_inputs, static_attributes, target)
    if not problems:
        return
    shown = "; ".join(str(problem) for problem in problems[:SHOWN_PROBLEMS])
    more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
    raise DatasetRefusedError(
        f"the training data cannot train this model, {len(problems)} problem(s): {shown}{more}"
    )
