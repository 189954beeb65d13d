"""Read the landing zone's published objects from storage by registry key, with the version of each.

The discharge model never imports the landing zone: it reads what the landing zone published where the
storage layout (:class:`shared.storage.layout.AssetLocation`) puts it. Each object is read from one
local copy, and that copy's SHA-256 is its version: the dataset records exactly the bytes it was built
from, whichever storage flavour, instance or run wrote them, and two datasets built from the same bytes
say so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import polars as pl

from discharge_model.defs.training_data.target import DISCHARGE_VARIABLE
from shared.storage import ObjectNotFoundError, Storage
from shared.storage.checksums import file_sha256
from shared.storage.layout import PARQUET, AssetLocation

T = TypeVar("T")


class MissingColumnError(ValueError):
    """A stored input lacks a key column; the message names the object and the column."""


@dataclass(frozen=True)
class StoredInput:
    """Where an input was read from and the version of what was read."""

    asset: str
    """The asset key as a path string (``features/catchment_forcings``)."""
    uri: str
    version: str
    """``sha256:<hex>`` of the object's bytes."""


def file_version(path: Path) -> str:
    """``sha256:<hex>`` of a file."""
    return f"sha256:{file_sha256(path)}"


def read_input(
    store: Storage, location: AssetLocation, reader: Callable[[Path, str], T]
) -> tuple[T, StoredInput]:
    """``reader(local path, uri)`` on the published Parquet of one asset partition, and its version.

    A missing object names the asset and where it was looked for: its producer has not published it
    (or published it elsewhere), which no retry will fix.
    """
    key = location.key(PARQUET)
    uri = store.uri(key)
    asset = "/".join(location.asset_path)
    if not store.exists(key):
        partition = ", ".join(f"{k}={v}" for k, v in location.partition.items())
        raise ObjectNotFoundError(
            f"{asset}{f' ({partition})' if partition else ''}: nothing published at {uri}; "
            "materialise it first"
        )
    with store.local_copy(key) as path:
        return reader(path, uri), StoredInput(asset, uri, file_version(path))


def scan_reader(
    required: Sequence[str],
    columns: Sequence[str] | None = None,
    where: pl.Expr | None = None,
) -> Callable[[Path, str], pl.DataFrame]:
    """A reader that scans the Parquet with the filter and projection pushed down, so only the basins'
    rows of a region-wide table are held in memory.

    ``required`` columns (the keys the filter and joins use) missing is an error naming the object and
    the column; other ``columns`` the file lacks are left out: what the config expected but the input
    lacks is for the checks to report, by basin and column.
    """

    def read(path: Path, uri: str) -> pl.DataFrame:
        scan = pl.scan_parquet(path)
        present = scan.collect_schema().names()
        lacking = [column for column in required if column not in present]
        if lacking:
            raise MissingColumnError(f"{uri}: no column(s) {lacking} (has {present})")
        if where is not None:
            scan = scan.filter(where)
        if columns is not None:
            scan = scan.select(
                [column for column in dict.fromkeys([*required, *columns]) if column in present]
            )
        return scan.collect()

    return read


def versions(inputs: Sequence[StoredInput]) -> dict[str, str]:
    """``{asset key: version}`` for ``dataset.json``."""
    return {item.asset: item.version for item in inputs}


def uris(inputs: Sequence[StoredInput]) -> dict[str, str]:
    """``{asset key: URI read}`` for ``dataset.json``."""
    return {item.asset: item.uri for item in inputs}


def read_gauge_discharge(
    store: Storage, polished: AssetLocation, gauges: Sequence[str]
) -> tuple[pl.DataFrame, StoredInput]:
    """The discharge rows (``station``, ``time``, ``variable``, ``value``, ``flag``) of ``gauges`` in the
    polished series at ``polished`` (the caller names the asset: this module imports no Dagster), whatever
    their flags (training marks invalid days NaN, forecasts keep the valid ones)."""
    return read_input(
        store,
        polished,
        scan_reader(
            required=["station", "time", "variable", "value", "flag"],
            columns=[],
            where=(pl.col("variable") == DISCHARGE_VARIABLE) & pl.col("station").is_in(list(gauges)),
        ),
    )
