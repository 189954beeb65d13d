"""Assemble NeuralHydrology's generic dataset from the stored inputs, and write it as one zip.

NeuralHydrology's ``GenericDataset`` reads ``time_series/{basin}.nc`` (a netCDF per basin with a
``date`` coordinate) and ``attributes/*.csv`` (basin id in the first column); which basins and periods
it uses comes from its run configuration, which the trainer writes from ``basins.txt`` and
``dataset.json``. The layout is the contract in the registry (``TRAINING_DATA`` in
``shared/assets/discharge_model.py``).

The assembly never fails on bad data: a column the config expects and the input lacks becomes an
all-missing column and is listed in :attr:`Candidate.missing_columns`, a day the forcings lack is a
missing value, a basin without attributes has missing attributes. Judging them is the blocking checks'
work (:mod:`.audit`), so a rejected candidate is complete enough to look at and every fault is reported
with its basin and column, not just the first one met.

Every basin's series covers the whole span (train start to test end) on one contiguous daily ``date``
index: NeuralHydrology's validation and test sequences warm up on the days before their start, which are
the previous period's. The first sequence of the train period has no days before it in the file;
NeuralHydrology skips those samples (it needs a full sequence of inputs), so the first ``seq_length - 1``
days of training only serve as warm-up.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from discharge_model.defs.training_data.periods import Periods
from discharge_model.defs.training_data.target import TARGET, specific_discharge
from discharge_model.defs.training_data.units import unit_of

BASIN = "basin"
"""The basin id column of the assembled tables: the gauge code."""

ATTRIBUTES_ID = "gauge_id"
"""First column of ``attributes/attributes.csv``, as NeuralHydrology's generic dataset documents it."""

ZIP_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
"""Every zip entry's date, so the archive's bytes depend on its content only."""


@dataclass(frozen=True)
class Candidate:
    """A dataset not yet checked: the tables it will be written from and what they lack."""

    basins: pl.DataFrame
    """``basin``, ``catchment_id``, ``area_km2``, ``match_distance_m``, ``cell_size_m``,
    ``forcings_area_km2``, ``attributes_area_km2``."""
    series: pl.DataFrame
    """``basin``, ``date`` (every day of the span), one column per dynamic input, ``discharge_mm``."""
    attributes: pl.DataFrame
    """``basin`` and one column per static attribute (missing values null)."""
    dynamic_inputs: list[str]
    static_attributes: list[str]
    periods: Periods
    missing_columns: dict[str, str] = field(default_factory=dict)
    """``{column: asset key}`` of expected columns that the input did not have."""


def assemble(
    gauges: pl.DataFrame,
    forcings: pl.DataFrame,
    attribute_tables: dict[str, pl.DataFrame],
    polished: pl.DataFrame,
    periods: Periods,
    dynamic_inputs: Sequence[str],
    static_attributes: Sequence[str],
    forcings_asset: str,
) -> Candidate:
    """The candidate dataset for the matched ``gauges`` (``gauge``, ``catchment_id``,
    ``catchment_area_km2``, ``match_distance_m``, ``cell_size_m``).

    ``forcings`` are the progressive catchments' rows of the catchment forcings (``catchment_id``,
    ``date``, ``area_km2`` and the dynamic inputs it has); ``attribute_tables`` maps each static input's
    asset key to its table (``catchment_id`` and attribute columns); ``polished`` the polished hydro
    series.
    """
    basins = gauges.select(
        pl.col("gauge").alias(BASIN),
        "catchment_id",
        pl.col("catchment_area_km2").alias("area_km2"),
        "match_distance_m",
        "cell_size_m",
    ).sort(BASIN)
    missing = {column: forcings_asset for column in dynamic_inputs if column not in forcings.columns}
    series = _series(basins, forcings, polished, periods, dynamic_inputs)
    attributes, missing_static = _attributes(basins, attribute_tables, static_attributes)
    areas = forcings.group_by("catchment_id").agg(pl.col("area_km2").first().alias("forcings_area_km2"))
    basins = basins.join(areas, on="catchment_id", how="left").join(
        _attribute_areas(attribute_tables), on="catchment_id", how="left"
    )
    return Candidate(
        basins,
        series,
        attributes,
        list(dynamic_inputs),
        list(static_attributes),
        periods,
        missing | missing_static,
    )


def _series(
    basins: pl.DataFrame,
    forcings: pl.DataFrame,
    polished: pl.DataFrame,
    periods: Periods,
    dynamic_inputs: Sequence[str],
) -> pl.DataFrame:
    """Every basin on every day of the span, with its catchment's forcings and its gauge's target."""
    start, end = periods.span()
    grid = basins.select(BASIN, "catchment_id").join(periods.days().to_frame(), how="cross")
    inputs = forcings.select(
        "catchment_id",
        "date",
        *(
            pl.col(column).cast(pl.Float64)
            if column in forcings.columns
            else pl.lit(None, pl.Float64).alias(column)
            for column in dynamic_inputs
        ),
    )
    repeated = inputs.group_by("catchment_id", "date").len().filter(pl.col("len") > 1)
    if repeated.height:
        first = repeated.sort("catchment_id", "date").row(0, named=True)
        raise ValueError(
            f"the catchment forcings list progressive catchment {first['catchment_id']} {first['len']} "
            f"times on {first['date']} ({repeated.height} catchment-days repeated)"
        )
    areas = dict(zip(basins[BASIN], basins["area_km2"], strict=True))
    target = specific_discharge(polished, areas, start, end)
    return (
        grid.join(inputs, on=["catchment_id", "date"], how="left")
        .join(target, on=[BASIN, "date"], how="left")
        .select(BASIN, "date", *dynamic_inputs, pl.col(TARGET).cast(pl.Float64))
        .with_columns(pl.col(pl.Float64).fill_nan(None))
        .sort(BASIN, "date")
    )


def _attributes(
    basins: pl.DataFrame, tables: dict[str, pl.DataFrame], static_attributes: Sequence[str]
) -> tuple[pl.DataFrame, dict[str, str]]:
    """``basin`` and the static attributes from whichever table has each; the ones none has."""
    frame = basins.select(BASIN, "catchment_id")
    missing: dict[str, str] = {}
    found: set[str] = set()
    for table in tables.values():
        columns = [c for c in static_attributes if c in table.columns and c not in found]
        found.update(columns)
        frame = frame.join(table.select("catchment_id", *columns), on="catchment_id", how="left")
    for column in static_attributes:
        if column not in found:
            missing[column] = " or ".join(tables)
    frame = frame.with_columns(pl.lit(None, pl.Float64).alias(c) for c in static_attributes if c not in found)
    attributes = frame.select(
        BASIN, *(pl.col(column).cast(pl.Float64).fill_nan(None) for column in static_attributes)
    )
    return attributes.sort(BASIN), missing


def _attribute_areas(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """``catchment_id``, ``attributes_area_km2``: the first attribute table's own ``area_km2``."""
    for table in tables.values():
        if "area_km2" in table.columns:
            return table.select("catchment_id", pl.col("area_km2").alias("attributes_area_km2"))
    return pl.DataFrame(schema={"catchment_id": pl.String, "attributes_area_km2": pl.Float64})


def write_dataset(candidate: Candidate, facts: dict[str, Any], directory: Path) -> Path:
    """Write the candidate in the contract's layout under ``directory`` and zip it; returns the zip.

    ``facts`` are the entries of ``dataset.json`` beside periods, columns and target (input versions,
    gauge catchments, region...).
    """
    import numpy as np
    import xarray as xr

    root = directory / "dataset"
    (root / "time_series").mkdir(parents=True)
    (root / "attributes").mkdir()
    variables = [*candidate.dynamic_inputs, TARGET]
    for (basin,), rows in candidate.series.partition_by(BASIN, as_dict=True, maintain_order=True).items():
        dates = rows["date"].cast(pl.Datetime("ns")).to_numpy()
        data = {
            column: (
                "date",
                rows[column].to_numpy().astype(np.float32),
                {"units": _unit_name(column)},
            )
            for column in variables
        }
        xr.Dataset(data, coords={"date": dates}).to_netcdf(root / "time_series" / f"{basin}.nc")
    candidate.attributes.rename({BASIN: ATTRIBUTES_ID}).write_csv(root / "attributes" / "attributes.csv")
    basins = candidate.basins[BASIN].to_list()
    (root / "basins.txt").write_text("".join(f"{basin}\n" for basin in basins), encoding="utf-8")
    manifest = {
        "periods": candidate.periods.as_json(),
        "dynamic_inputs": candidate.dynamic_inputs,
        "static_attributes": candidate.static_attributes,
        "target": TARGET,
        "units": {column: _unit_name(column) for column in [*variables, *candidate.static_attributes]},
        **facts,
    }
    (root / "dataset.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    return zip_folder(root, directory / "dataset.zip")


def _unit_name(column: str) -> str:
    unit = unit_of(column)
    return unit.name if unit else "unknown"


def zip_folder(root: Path, destination: Path) -> Path:
    """Every file under ``root`` (paths relative to it, sorted) in one deflated zip."""
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            entry = zipfile.ZipInfo(path.relative_to(root).as_posix(), date_time=ZIP_TIMESTAMP)
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return destination
