"""The training-data contract as the model reads it: the ``discharge_model/training_data`` zip, unpacked.

The zip (see :data:`shared.assets.discharge_model.TRAINING_DATA`) is NeuralHydrology's generic dataset
plus a description::

    time_series/{basin}.nc      one netCDF per basin: coordinate ``date``, one variable per column
    attributes/attributes.csv   ``gauge_id`` then one column per static attribute
    basins.txt                  one basin id per line
    dataset.json                periods, column names, input versions, gauge -> catchment

Unpacking checks the layout and names what is wrong, so a broken dataset fails here with its cause rather
than deep inside NeuralHydrology. Nothing here imports torch, NeuralHydrology or xarray.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

PERIODS = ("train", "validation", "test")
"""NeuralHydrology's three periods, in time order."""

DESCRIPTION_FILE = "dataset.json"
BASIN_FILE = "basins.txt"
ATTRIBUTES_FILE = "attributes/attributes.csv"
TIME_SERIES_DIR = "time_series"


class TrainingDataError(ValueError):
    """The training-data zip does not follow the contract; the message says which part and how."""


@dataclass(frozen=True)
class TrainingData:
    """An unpacked training dataset: where it lies and what its description says."""

    data_dir: Path
    basins: tuple[str, ...]
    periods: Mapping[str, tuple[dt.date, dt.date]]
    dynamic_inputs: tuple[str, ...]
    static_attributes: tuple[str, ...]
    target: str
    input_versions: Mapping[str, Any] = field(default_factory=dict)
    gauge_catchments: Mapping[str, str] = field(default_factory=dict)

    @property
    def basin_file(self) -> Path:
        """The basin list NeuralHydrology reads for all three periods (one model for every gauge)."""
        return self.data_dir / BASIN_FILE

    def time_series(self, basin: str) -> Path:
        """The basin's netCDF."""
        return self.data_dir / TIME_SERIES_DIR / f"{basin}.nc"

    def attributes(self) -> dict[str, dict[str, float]]:
        """``{attribute: {basin: value}}`` of the listed basins, read from the attributes table."""
        with (self.data_dir / ATTRIBUTES_FILE).open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            return {}
        id_column = next(iter(rows[0]))
        columns: dict[str, dict[str, float]] = {name: {} for name in rows[0] if name != id_column}
        for row in rows:
            if row[id_column] in self.basins:
                for name in columns:
                    columns[name][row[id_column]] = (
                        float(row[name]) if row[name] not in ("", None) else float("nan")
                    )
        return columns


def unpack(archive: Path, destination: Path) -> TrainingData:
    """Extract the zip into ``destination`` (refusing members that would land outside it) and read it."""
    try:
        with zipfile.ZipFile(archive) as bundle:
            root = destination.resolve()
            for member in bundle.namelist():
                target = (root / member).resolve()
                if PurePosixPath(member).is_absolute() or not target.is_relative_to(root):
                    raise TrainingDataError(f"zip member {member!r} would be written outside {root}")
            bundle.extractall(root)
    except zipfile.BadZipFile as error:
        raise TrainingDataError(f"{archive} is not a zip archive: {error}") from error
    return read(destination)


def read(data_dir: Path) -> TrainingData:
    """Read and check the description of an unpacked dataset against its files."""
    description_path = data_dir / DESCRIPTION_FILE
    if not description_path.is_file():
        raise TrainingDataError(f"the training data has no {DESCRIPTION_FILE}")
    try:
        description = json.loads(description_path.read_text())
    except json.JSONDecodeError as error:
        raise TrainingDataError(f"{DESCRIPTION_FILE} is not JSON: {error}") from error
    missing = [
        key for key in ("periods", "dynamic_inputs", "static_attributes", "target") if key not in description
    ]
    if missing:
        raise TrainingDataError(f"{DESCRIPTION_FILE} lacks {missing}")
    basin_path = data_dir / BASIN_FILE
    if not basin_path.is_file():
        raise TrainingDataError(f"the training data has no {BASIN_FILE}")
    basins = tuple(line.strip() for line in basin_path.read_text().splitlines() if line.strip())
    if not basins:
        raise TrainingDataError(f"{BASIN_FILE} lists no basin")
    data = TrainingData(
        data_dir=data_dir,
        basins=basins,
        periods=_periods(description["periods"]),
        dynamic_inputs=tuple(description["dynamic_inputs"]),
        static_attributes=tuple(description["static_attributes"]),
        target=str(description["target"]),
        input_versions=dict(description.get("input_versions") or {}),
        gauge_catchments={str(k): str(v) for k, v in (description.get("gauge_catchments") or {}).items()},
    )
    absent = [basin for basin in basins if not data.time_series(basin).is_file()]
    if absent:
        raise TrainingDataError(f"no {TIME_SERIES_DIR}/<basin>.nc for basin(s) {absent}")
    if data.static_attributes and not (data_dir / ATTRIBUTES_FILE).is_file():
        raise TrainingDataError(f"static attributes are described but there is no {ATTRIBUTES_FILE}")
    return data


def _periods(raw: Any) -> dict[str, tuple[dt.date, dt.date]]:
    """The three periods as dates, each non-empty, no two overlapping: a test day that was also trained on
    would flatter the model."""
    if not isinstance(raw, Mapping) or set(raw) != set(PERIODS):
        raise TrainingDataError(f"periods must name exactly {list(PERIODS)}, got {raw!r}")
    periods: dict[str, tuple[dt.date, dt.date]] = {}
    for name in PERIODS:
        try:
            start, end = (dt.date.fromisoformat(str(value)[:10]) for value in raw[name])
        except (TypeError, ValueError) as error:
            raise TrainingDataError(
                f"period {name!r}: expected [start, end] ISO dates, got {raw[name]!r}"
            ) from error
        if end < start:
            raise TrainingDataError(f"period {name!r} ends ({end}) before it starts ({start})")
        periods[name] = (start, end)
    for index, first in enumerate(PERIODS):
        for second in PERIODS[index + 1 :]:
            (start_a, end_a), (start_b, end_b) = periods[first], periods[second]
            if start_a <= end_b and start_b <= end_a:
                raise TrainingDataError(f"periods {first!r} and {second!r} overlap")
    return periods
