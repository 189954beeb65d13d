"""The composed Delaware River Basin gauges (:mod:`platform_dev.drb`) as the training-data contract's zip
(:data:`shared.assets.discharge_model.TRAINING_DATA`): what ``discharge_model/lstm`` reads, built here
without the landing zone, for the benchmarks that train on real data.

Two years of record constrain the experiment, so its choices are explicit:

- Periods (:data:`DRB_PERIODS`), in the platform's order (train, validation, test): train 1979 (every
  season once), validation 1980-01..02, test 1980-03..06 (snowmelt and the spring storms). The rest of 1980
  is left out: it is the 1980 drought, a regime the training year never shows. As the test period (train
  1979-01..1980-03, validation 1980-04..06, test 1980-07..12) it left both trainers, ours and plain
  NeuralHydrology alike, at a median test NSE of -3.4 while they reached 0.6 in validation: the models
  overpredict the drought's low flows, and a score that says the data cannot support the test compares no
  trainers. Training first also keeps every warm-up inside the record.
- Sequence length (:func:`fitting_seq_length`): the LSTM needs ``seq_length - 1`` days of inputs before
  its first prediction, and NeuralHydrology takes them from inside the training period for the first
  training samples, so a long sequence eats the training targets. At most :data:`MAX_WARMUP_SHARE` of the
  training days go to warm-up (a quarter: 91 days for 365), never more than the settings ask for, and
  never less than :data:`MIN_SEQ_LENGTH_DAYS`, below which the model could not carry a season's
  groundwater recession; a record too short for that is refused rather than trained badly.
- Gauges (:func:`select_gauges`): the training-data asset's own blocking rules, with its defaults: the
  composed area within 1/1.2..1.2 of the gauge's reported drainage area (otherwise the forcings are not
  the gauge's catchment's), and a valid target on at least half of each period's days.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import xarray as xr

from platform_dev.drb import (
    CHANNEL,
    DISCHARGE,
    FORCING_COLUMNS,
    FORCING_FILES,
    OBSERVATIONS,
    PARAMETER_FILE,
    PARAMETERS,
    UNITS,
    GaugeCatchments,
)

PERIOD_NAMES = ("train", "validation", "test")

MAX_AREA_RATIO = 1.2
"""Composed over reported area at most this, at least its inverse (gauge matching's default)."""
MIN_TARGET_COVERAGE = 0.5
"""Share of each period's days with an observed target (the training-data asset's default)."""
MAX_WARMUP_SHARE = 0.25
"""Largest share of the training period's days that may serve as the first samples' warm-up."""
MIN_SEQ_LENGTH_DAYS = 60
"""Shortest input sequence worth training: about 1.5 times a 40-day groundwater recession constant."""


@dataclass(frozen=True)
class Periods:
    """Train, validation and test periods: inclusive first and last days, in time order, not overlapping."""

    train: tuple[dt.date, dt.date]
    validation: tuple[dt.date, dt.date]
    test: tuple[dt.date, dt.date]

    def __post_init__(self) -> None:
        for name in PERIOD_NAMES:
            start, end = getattr(self, name)
            if end < start:
                raise ValueError(f"period {name!r} ends ({end}) before it starts ({start})")
        for name, following in itertools.pairwise(PERIOD_NAMES):
            end, start = getattr(self, name)[1], getattr(self, following)[0]
            if start <= end:
                raise ValueError(f"period {following!r} starts ({start}) before {name!r} ends ({end})")

    def days(self, name: str) -> int:
        start, end = getattr(self, name)
        return int((end - start).days) + 1

    def as_json(self) -> dict[str, list[str]]:
        """The contract's ``periods`` entry."""
        return {name: [day.isoformat() for day in getattr(self, name)] for name in PERIOD_NAMES}


DRB_PERIODS = Periods(
    train=(dt.date(1979, 1, 1), dt.date(1979, 12, 31)),
    validation=(dt.date(1980, 1, 1), dt.date(1980, 2, 29)),
    test=(dt.date(1980, 3, 1), dt.date(1980, 6, 30)),
)


def fitting_seq_length(periods: Periods, record: pd.DatetimeIndex, preferred: int) -> int:
    """The longest sequence (in days, the record's time step) at most ``preferred`` that the record allows;
    a :class:`ValueError` saying why when even :data:`MIN_SEQ_LENGTH_DAYS` does not fit."""
    first, last = record[0].date(), record[-1].date()
    if periods.train[0] < first or periods.test[1] > last:
        raise ValueError(f"the periods {periods.as_json()} reach outside the record {first}..{last}")
    longest = int(periods.days("train") * MAX_WARMUP_SHARE)
    for name in ("validation", "test"):
        longest = min(longest, (getattr(periods, name)[0] - first).days + 1)
    length = min(preferred, longest)
    if length < MIN_SEQ_LENGTH_DAYS:
        raise ValueError(
            f"a training period of {periods.days('train')} days starting on the record's first day "
            f"({first}) allows input sequences of at most {longest} days (a {MAX_WARMUP_SHARE:.0%} warm-up "
            f"share), shorter than the {MIN_SEQ_LENGTH_DAYS} days the LSTM needs: lengthen the record"
        )
    return length


def select_gauges(catchments: GaugeCatchments, periods: Periods) -> tuple[list[str], dict[str, str]]:
    """The gauges fit to train on, and for every other one the reason it was left out."""
    selected, rejected = [], {}
    for row, gauge in enumerate(catchments.gauges):
        ratio = float(catchments.area_ratio[row])
        if not 1 / MAX_AREA_RATIO <= ratio <= MAX_AREA_RATIO:
            rejected[gauge] = (
                f"composed area / reported area {ratio:.2f} outside 1/{MAX_AREA_RATIO}..{MAX_AREA_RATIO}"
            )
            continue
        coverage = target_coverage(catchments, row, periods)
        short = {name: share for name, share in coverage.items() if share < MIN_TARGET_COVERAGE}
        if short:
            rejected[gauge] = f"target coverage {short} below {MIN_TARGET_COVERAGE}"
            continue
        selected.append(gauge)
    return selected, rejected


def target_coverage(catchments: GaugeCatchments, row: int, periods: Periods) -> dict[str, float]:
    """Per period, the share of its days with an observed target."""
    series = pd.Series(catchments.discharge_mm[row], index=catchments.dates)
    coverage = {}
    for name in PERIOD_NAMES:
        start, end = getattr(periods, name)
        days = series.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        coverage[name] = float(days.notna().sum()) / periods.days(name)
    return coverage


def source_versions(folder: Path) -> dict[str, str]:
    """``{file: sha256}`` of every DRB file the composition reads: the dataset's input versions."""
    names = [*FORCING_FILES.values(), PARAMETERS, CHANNEL, OBSERVATIONS, PARAMETER_FILE]
    return {
        f"pywatershed/drb_2yr/{name}": f"sha256:{hashlib.sha256((folder / name).read_bytes()).hexdigest()}"
        for name in names
    }


def write_training_dataset(
    catchments: GaugeCatchments,
    gauges: Sequence[str],
    periods: Periods,
    path: Path,
    region: str,
    input_versions: Mapping[str, str],
) -> Path:
    """Write the contract's zip for ``gauges`` at ``path``: one netCDF per gauge over the whole record,
    the static attributes over the training period, the basin list and the description."""
    if not gauges:
        raise ValueError("no gauge to write: the training data needs at least one basin")
    attributes = catchments.static_attributes(*periods.train).filter(pl.col("gauge_id").is_in(list(gauges)))
    static_names = [name for name in attributes.columns if name != "gauge_id"]
    incomplete = [
        name for name in static_names if attributes[name].is_null().any() or attributes[name].is_nan().any()
    ]
    if incomplete:
        raise ValueError(f"static attribute(s) {incomplete} are missing for some of the gauges")
    ordered = sorted(gauges)
    description = {
        "periods": periods.as_json(),
        "dynamic_inputs": list(FORCING_COLUMNS),
        "static_attributes": static_names,
        "target": DISCHARGE,
        "input_versions": dict(input_versions),
        "gauge_catchments": {gauge: catchment_id(catchments, gauge) for gauge in ordered},
        "region": region,
        "units": {
            name: unit for name, unit in UNITS.items() if name in (*FORCING_COLUMNS, DISCHARGE, *static_names)
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for gauge in ordered:
            frame = catchments.frame(gauge).astype(np.float32)
            bundle.writestr(f"time_series/{gauge}.nc", xr.Dataset.from_dataframe(frame).to_netcdf())
        bundle.writestr("attributes/attributes.csv", attributes.sort("gauge_id").write_csv())
        bundle.writestr("basins.txt", "\n".join(ordered) + "\n")
        bundle.writestr("dataset.json", json.dumps(description, indent=2))
    return path


def catchment_id(catchments: GaugeCatchments, gauge: str) -> str:
    """The gauge's progressive catchment, named by its segment's 1-based PRMS index."""
    return f"drb-segment-{int(catchments.segment[catchments.index(gauge)]) + 1}"
