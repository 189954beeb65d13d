"""One run's inputs, read from storage where their producers publish them (by registry key, with the
SHA-256 of each object read: :mod:`discharge_model.defs.training_data.inputs`), each filtered to what the
forecast uses: the run's progressive catchments, the warm-up and observed days, the region's gauges."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from dagster import AssetKey

from discharge_model.defs.forecast.model_inputs import Window
from discharge_model.defs.forecast.simulation import ModelReads
from discharge_model.defs.training_data.assets import conditioning_of, layer
from discharge_model.defs.training_data.inputs import (
    StoredInput,
    read_gauge_discharge,
    read_input,
    scan_reader,
)
from shared.assets.discharge_model import GAUGE_CATCHMENTS
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CATCHMENT_FORECAST_FORCINGS,
    CLIMATIC_INDICES,
    FORECAST_RUNS,
    HYDRO_POLISHED,
    REACHES,
    REGIONS,
)
from shared.storage import Storage
from shared.storage.layout import AssetLocation
from shared.vectors.formats import read_geoparquet
from shared.vectors.geoframe import GeoFrame


@dataclass(frozen=True)
class Network:
    """Where the forecast goes: the region's gauges, its reaches and the gauges' polished discharge."""

    gauges: pl.DataFrame
    """``gauge``, ``catchment_id`` of the matched gauges."""
    reaches: GeoFrame
    polished: pl.DataFrame


def regional(key: AssetKey, region: str) -> AssetLocation:
    """The region's partition of a region-partitioned asset."""
    return AssetLocation.for_partition(key, REGIONS, region)


def forecast_forcings(store: Storage, run_key: str, reads: ModelReads) -> tuple[pl.DataFrame, StoredInput]:
    """The run's forecast forcings of the progressive catchments (the model's columns)."""
    return read_input(
        store,
        AssetLocation.for_partition(CATCHMENT_FORECAST_FORCINGS, FORECAST_RUNS, run_key),
        scan_reader(
            required=["catchment_id", "catchment_kind", "date", "lead_day", "area_km2"],
            columns=reads.dynamic_inputs,
            where=pl.col("catchment_kind") == "progressive",
        ),
    )


def observed_inputs(
    store: Storage, region: str, ids: pl.Series, window: Window, reads: ModelReads
) -> tuple[pl.DataFrame, dict[str, pl.DataFrame], list[StoredInput]]:
    """The catchments' observed forcings over the warm-up and their static attribute tables, keyed by
    asset (in the training data's order, which decides the table an attribute is taken from)."""
    wanted = pl.col("catchment_id").is_in(ids.implode())
    observed, observed_read = read_input(
        store,
        regional(CATCHMENT_FORCINGS, region),
        scan_reader(
            required=["catchment_id", "catchment_kind", "date", "area_km2"],
            columns=reads.dynamic_inputs,
            where=(pl.col("catchment_kind") == "progressive")
            & wanted
            & pl.col("date").is_between(window.warmup_start, window.observed_end),
        ),
    )
    statics, read = {}, [observed_read]
    for key in (CATCHMENT_ATTRIBUTES, CLIMATIC_INDICES):
        statics[key.to_user_string()], stored = read_input(
            store, regional(key, region), scan_reader(["catchment_id"], reads.static_attributes, wanted)
        )
        read.append(stored)
    return observed, statics, read


def network(store: Storage, region: str, conditioning: str | None) -> tuple[Network, list[StoredInput]]:
    """The region's matched gauges, its reaches of ``conditioning`` (default: the strategy the gauges
    were matched on) and the gauges' polished discharge."""
    gauges, gauges_read = read_input(
        store, regional(GAUGE_CATCHMENTS, region), lambda path, _: pl.read_parquet(path)
    )
    strategy = conditioning or conditioning_of(gauges)
    if strategy is None:
        raise ValueError(f"{gauges_read.uri} names no single conditioning strategy: set `conditioning`")
    reaches, reaches_read = read_input(store, layer(REACHES, strategy, region), read_geoparquet)
    matched = gauges.filter(pl.col("catchment_id").is_not_null()).select("gauge", "catchment_id")
    polished, polished_read = read_gauge_discharge(
        store, AssetLocation.for_partition(HYDRO_POLISHED), matched["gauge"].to_list()
    )
    return Network(matched, reaches, polished), [gauges_read, reaches_read, polished_read]
