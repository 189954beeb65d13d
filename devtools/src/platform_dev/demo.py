"""Run the landing zone end to end on the embedded default, as ``make demo`` does.

The elevation sensors are evaluated for real (``build_sensor_context``) and what they ask for is carried
out in this process: their dynamic-partition requests are applied to the instance and their run requests
materialised, tick after tick until they request nothing; then each region is consolidated. Runs land
in the ``DAGSTER_HOME`` instance, so ``make dev`` shows them. Catchments follow elevation (both
conditioning strategies), then the station networks, then the catchment features: the meteo month sensor
registers the months of the polished series, every month x region of daily grids is gridded, then each
region's catchment forcings, attributes and climatic indices. Last, satellite imagery: the catalogue
sensor registers the months of each region's STAC catalogue and its runs fetch the scenes and composite
the NDVI of every month x region, then each region's catchment vegetation attributes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from landing_zone.defs.catchments.keys import (
    CATCHMENT_STAGES,
    HYDROGRAPHY_STAGES,
    catchment_key,
    hydrography_key,
)
from landing_zone.defs.elevation.keys import elevation_key
from landing_zone.defs.features.keys import CATCHMENT_VEGETATION, METEO_DAILY_GRIDS
from landing_zone.defs.satellite.sensors import satellite_catalog_sensor
from landing_zone.defs.stations.keys import station_key
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CLIMATIC_INDICES,
    CONDITIONING,
    REGIONS,
)
from shared.partitions import apply_partition_requests

log = logging.getLogger(__name__)


def apply_sensor_tick(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    cursor: str | None,
    resources: Mapping[str, Any],
) -> tuple[str | None, list[dg.ExecuteInProcessResult]]:
    """Evaluate a sensor once and carry out its requests; returns the new cursor and the runs' results."""
    sensor_def = defs.resolve_sensor_def(sensor_name)
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(resources)) as context:
        result = sensor_def(context)
    if not isinstance(result, dg.SensorResult):
        raise TypeError(f"sensor {sensor_name} returned {type(result).__name__}, expected a SensorResult")
    apply_partition_requests(instance, list(result.dynamic_partitions_requests or []))
    runs = [
        materialize_selection(defs, instance, run.asset_selection or [], run.partition_key)
        for run in result.run_requests or []
    ]
    return result.cursor or cursor, runs


def tick_until_quiet(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    sensor_name: str,
    max_ticks: int,
    must_quiet: bool = False,
) -> None:
    """Tick a sensor (:func:`apply_sensor_tick`, its cursor carried over) until a tick requests no run,
    at most ``max_ticks`` times; still requesting after them is an error where ``must_quiet``."""
    resources = defs.resources or {}
    cursor: str | None = None
    for _ in range(max_ticks):
        cursor, runs = apply_sensor_tick(defs, instance, sensor_name, cursor, resources)
        if not runs:
            return
    if must_quiet:
        raise RuntimeError(f"{sensor_name} still requested runs after {max_ticks} ticks")


def materialize_selection(
    defs: dg.Definitions, instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], partition_key: str | None
) -> dg.ExecuteInProcessResult:
    """Materialise the assets (and their checks) like a run launched for them would."""
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        instance=instance, partition_key=partition_key, asset_selection=list(keys), raise_on_error=True
    )
    log.info("materialised %s %s", [k.to_user_string() for k in keys], partition_key or "")
    return result


def elevation_products(defs: dg.Definitions) -> list[str]:
    """The elevation products the definitions hold (one per ``elevation/*/defs.yaml``), sorted."""
    return _instances(defs, lambda path: elevation_key(path[1], "consolidated"), name_at=1, depth=3)


def station_networks(defs: dg.Definitions) -> list[str]:
    """The station networks the definitions hold (one per ``stations/*/defs.yaml``), sorted."""
    return _instances(defs, lambda path: station_key(path[0], "polished_timeseries"), name_at=0, depth=2)


def _instances(
    defs: dg.Definitions, final_key: Callable[[Sequence[str]], dg.AssetKey], name_at: int, depth: int
) -> list[str]:
    """Names of a component's instances: each one's final asset is present under its name."""
    keys = defs.resolve_all_asset_keys()
    return sorted(
        {key.path[name_at] for key in keys if len(key.path) == depth and key == final_key(key.path)}
    )


ELEVATION_TICKS = 5
"""Index sensor ticks allowed per elevation product; the demo goes on to consolidate after them even if
the sensor still requests runs (a quiet tick stops sooner)."""
STATION_TICKS = 3
"""Sync sensor ticks allowed per station network, likewise."""


def run_elevation(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """Both elevation products: sensor ticks until quiet, then every region consolidated."""
    for product in elevation_products(defs):
        tick_until_quiet(defs, instance, f"elevation_{product}_index_sensor", ELEVATION_TICKS)
        for region in REGIONS.get_partition_keys():
            materialize_selection(defs, instance, [elevation_key(product, "consolidated")], region)


def run_stations(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """Both station networks: sync sensors until quiet, then the polished series (with their checks)."""
    for network in station_networks(defs):
        tick_until_quiet(defs, instance, f"{network}_sync_sensor", STATION_TICKS)
        keys = [station_key(network, "sync_plan"), station_key(network, "polished_timeseries")]
        materialize_selection(defs, instance, keys, None)


def run_catchments(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """Per region: the river network and analysis DEM, then every conditioning strategy through to
    progressive catchments (with their blocking checks)."""
    per_region = [hydrography_key(stage) for stage in HYDROGRAPHY_STAGES] + [catchment_key("analysis_dem")]
    per_strategy = [catchment_key(stage) for stage in CATCHMENT_STAGES if stage != "analysis_dem"]
    for region in REGIONS.get_partition_keys():
        materialize_selection(defs, instance, per_region, region)
        for strategy in CONDITIONING.get_partition_keys():
            key = dg.MultiPartitionKey({"conditioning": strategy, "region": region})
            materialize_selection(defs, instance, per_strategy, key)


def run_features(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """The months sensor once (it only adds), every month x region of daily grids, then per region the
    catchment forcings, attributes and climatic indices (each with its blocking checks)."""
    _, runs = apply_sensor_tick(defs, instance, "meteo_months_sensor", None, defs.resources or {})
    if runs:
        raise RuntimeError("meteo_months_sensor requested runs; it should only register months")
    grids = defs.resolve_assets_def(METEO_DAILY_GRIDS).partitions_def
    if grids is None:
        raise TypeError(f"{METEO_DAILY_GRIDS.to_user_string()} is not partitioned")
    for partition in grids.get_partition_keys(dynamic_partitions_store=instance):
        materialize_selection(defs, instance, [METEO_DAILY_GRIDS], partition)
    for region in REGIONS.get_partition_keys():
        materialize_selection(defs, instance, [CATCHMENT_FORCINGS, CATCHMENT_ATTRIBUTES], region)
        materialize_selection(defs, instance, [CLIMATIC_INDICES], region)


SATELLITE_TICKS = 5
"""Catalogue sensor ticks allowed before it must be quiet: the first registers every month and requests
each month x region once, the second finds nothing new."""


def run_satellite(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    """The catalogue sensor ticked until it requests nothing (its runs materialise satellite/scenes and
    satellite/ndvi per month x region, with their checks), then per region the catchment vegetation
    attributes of the composites."""
    tick_until_quiet(defs, instance, satellite_catalog_sensor.name, SATELLITE_TICKS, must_quiet=True)
    for region in REGIONS.get_partition_keys():
        materialize_selection(defs, instance, [CATCHMENT_VEGETATION], region)


def main() -> None:
    from landing_zone.definitions import defs

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    log.setLevel(logging.INFO)
    instance = dg.DagsterInstance.get()
    run_elevation(defs, instance)
    run_catchments(defs, instance)
    run_stations(defs, instance)
    run_features(defs, instance)
    run_satellite(defs, instance)


if __name__ == "__main__":
    main()
