"""Landing-zone inputs of the training data, stored where the landing zone publishes them.

Shared by the discharge model's tests and the forecast benchmark (which trains its model on them).

Built around the small sample region's five gauges so the series are realistic without running the
landing zone's whole chain: the station list is the provider's own ``stations.csv`` parsed by the landing
zone's parser, the polished discharge is the landing zone's polishing of the provider's files, and the
forcings are the generator's true catchment-mean weather at each gauge (``truth/gauge_forcings``). The
catchment layers are a small network made for the test: per gauge, the reach it sits on (the gauge 60 %
of the way down a 100 m line, the pour point at its east end) and the reach upstream of it; progressive
areas are the generator's gauge areas rounded to whole 4 m cells.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import shapely

from landing_zone.defs.stations.polishing import polish
from landing_zone.defs.stations.provider_formats import (
    HYDRO_FORMAT,
    METEO_FORMAT,
    STATION_LIST_FORMAT,
    parse_provider_csv,
)
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CATCHMENT_PARTITIONS,
    CLIMATIC_INDICES,
    HYDRO_POLISHED,
    HYDRO_STATIONS,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.resources.storage import StorageResource
from shared.storage.layout import PARQUET, AssetLocation
from shared.vectors.formats import write_geoparquet
from shared.vectors.geoframe import GeoFrame

REGION = "pilica"
STRATEGY = "burn_fill"
CRS = "EPSG:2180"
CELL_M = 4.0
REACH_M = 100.0
GAUGE_AT = 0.6
"""Where the gauge sits along its reach, from the upstream end."""
OWN_CELLS = 2500
"""Each reach's own catchment: 2500 cells of 4 m (0.04 km2), a 100 m x 400 m box around the reach."""
VARIABLES = (
    "precipitation_mm",
    "air_temperature_c",
    "air_temperature_max_c",
    "air_temperature_min_c",
    "relative_humidity_pct",
    "air_pressure_hpa",
)


@dataclass(frozen=True)
class Network:
    """The test's catchment layers and which reach each gauge sits on."""

    reaches: GeoFrame
    reach_catchments: GeoFrame
    progressive: GeoFrame
    gauge_reach: dict[str, str]
    area_km2: dict[str, float]
    """Progressive area of every reach."""


def cells_km2(cells: int) -> float:
    return cells * CELL_M**2 / 1e6


def network(manifest: dict) -> Network:
    """Two reaches per gauge in a west-east row: ``u-{code}`` upstream, ``r-{code}`` with the gauge."""
    rows, lines, boxes = [], [], []
    gauge_reach, areas = {}, {}
    own = cells_km2(OWN_CELLS)
    for gauge in manifest["stations"]["gauges"]:
        code, x, y = gauge["code"], gauge["x"], gauge["y"]
        total = cells_km2(round(gauge["area_km2"] * 1e6 / CELL_M**2))
        west = x - GAUGE_AT * REACH_M
        for reach_id, x0, area, downstream in (
            (f"u-{code}", west - REACH_M, total - own, f"r-{code}"),
            (f"r-{code}", west, total, None),
        ):
            rows.append(
                {
                    "reach_id": reach_id,
                    "river_id": code,
                    "downstream_id": downstream,
                    "pour_x": x0 + REACH_M,
                    "pour_y": y,
                    "upstream_area_km2": area,
                    "cells": OWN_CELLS,
                    "area_km2": own,
                    "reach_area_km2": own,
                    "progressive_area_km2": area,
                }
            )
            lines.append(shapely.LineString([(x0, y), (x0 + REACH_M, y)]))
            boxes.append(shapely.box(x0, y - 200.0, x0 + REACH_M, y + 200.0))
            areas[reach_id] = area
        gauge_reach[code] = f"r-{code}"
    frame = pl.DataFrame(rows)
    return Network(
        GeoFrame.from_geometries(
            frame.select("reach_id", "river_id", "downstream_id", "pour_x", "pour_y", "upstream_area_km2"),
            lines,
            CRS,
        ),
        GeoFrame.from_geometries(frame.select("reach_id", "cells", "area_km2"), boxes, CRS),
        GeoFrame.from_geometries(
            frame.select("reach_id", "downstream_id", "reach_area_km2", "progressive_area_km2"), boxes, CRS
        ),
        gauge_reach,
        areas,
    )


def parsed(region: Path, network: str) -> pl.DataFrame:
    """Every station file the provider publishes for ``network`` (meteo | hydro), parsed as the landing zone
    parses it."""
    fmt = METEO_FORMAT if network == "meteo" else HYDRO_FORMAT
    tables = []
    for path in sorted((region / "stations" / network / "v2").rglob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            tables.append(parse_provider_csv(archive.read(archive.namelist()[0]), fmt, path.stem))
    return pl.concat(tables, how="vertical_relaxed")


def station_list(region: Path) -> pl.DataFrame:
    path = region / "stations" / "hydro" / "v2" / "stations.csv"
    return parse_provider_csv(path, STATION_LIST_FORMAT, path.name)


def forcings(region: Path, manifest: dict, net: Network) -> pl.DataFrame:
    """The generator's catchment-mean weather of each gauge, for both of its reaches and both kinds."""
    truth = pl.read_parquet(region / manifest["stations"]["gauge_forcings"])
    frames = []
    for code, reach_id in net.gauge_reach.items():
        days = truth.filter(pl.col("station") == code).drop("station")
        for catchment_id in (reach_id, f"u-{code}"):
            for kind in ("progressive", "reach"):
                frames.append(
                    days.with_columns(
                        catchment_id=pl.lit(catchment_id),
                        catchment_kind=pl.lit(kind),
                        area_km2=pl.lit(net.area_km2[catchment_id] if kind == "progressive" else 0.04),
                        outlet_id=pl.lit(reach_id),
                    )
                )
    return completed_forcings(pl.concat(frames))


def completed_forcings(table: pl.DataFrame) -> pl.DataFrame:
    """Catchment rows with the weather ``VARIABLES`` as the forcings contract lays them out: PET (Oudin's
    shape, mm/day) and valid fractions of 1 added, columns in the contract's order."""
    pet = (pl.col("air_temperature_c") + 5.0).clip(lower_bound=0.0) * 0.12
    return table.with_columns(pet_mm=pet, **{f"{v}_valid_fraction": pl.lit(1.0) for v in VARIABLES}).select(
        "catchment_id",
        "catchment_kind",
        "date",
        "area_km2",
        "outlet_id",
        *VARIABLES,
        "pet_mm",
        *(f"{v}_valid_fraction" for v in VARIABLES),
    )


def attributes(net: Network) -> pl.DataFrame:
    """Plausible, distinct attributes per progressive catchment."""
    ids = sorted(net.area_km2)
    n = np.arange(len(ids), dtype=float)
    return pl.DataFrame(
        {
            "catchment_id": ids,
            "area_km2": [net.area_km2[i] for i in ids],
            "elevation_mean_m": 180.0 + 7.0 * n,
            "elevation_std_m": 10.0 + n,
            "slope_mean_deg": 1.5 + 0.1 * n,
            "canopy_height_mean_m": 5.0 + 0.3 * n,
            "drainage_density_km_per_km2": 0.5 + 0.05 * n,
            "strahler_order": 1.0 + (n % 3),
            "compactness": 1.2 + 0.02 * n,
        }
    )


def climatic_indices(forcing: pl.DataFrame) -> pl.DataFrame:
    """Indices from the forcings (means exact, the rest plausible)."""
    progressive = forcing.filter(pl.col("catchment_kind") == "progressive")
    table = progressive.group_by("catchment_id").agg(
        pl.col("precipitation_mm").mean().alias("p_mean"),
        pl.col("pet_mm").mean().alias("pet_mean"),
        pl.col("air_temperature_c").mean().alias("t_mean"),
        (
            pl.col("precipitation_mm").filter(pl.col("air_temperature_c") < 0).sum()
            / pl.col("precipitation_mm").sum()
        ).alias("frac_snow"),
        (pl.col("precipitation_mm") < 1).mean().mul(365.25).alias("low_prec_freq"),
    )
    rank = pl.col("catchment_id").rank("dense").cast(pl.Float64)
    return table.sort("catchment_id").with_columns(
        aridity=pl.col("pet_mean") / pl.col("p_mean"),
        p_seasonality=0.05 * rank - 0.2,
        high_prec_freq=10.0 + rank,
        high_prec_dur=1.0 + 0.05 * rank,
        low_prec_dur=3.0 + 0.1 * rank,
    )


def put_table(storage: StorageResource, key: dg.AssetKey, table: pl.DataFrame, partition: str | None) -> None:
    location = AssetLocation.for_partition(key, REGIONS if partition else None, partition)
    with storage.get_storage().writer(location.key(PARQUET)) as path:
        table.write_parquet(path)


def put_layer(storage: StorageResource, key: dg.AssetKey, layer: GeoFrame) -> None:
    partition = str(dg.MultiPartitionKey({"conditioning": STRATEGY, "region": REGION}))
    location = AssetLocation.for_partition(key, CATCHMENT_PARTITIONS, partition)
    with storage.get_storage().writer(location.key(PARQUET)) as path:
        write_geoparquet(layer, path)


def store_inputs(storage: StorageResource, region: Path, manifest: dict) -> Network:
    """Every landing-zone input of the training data, published in ``storage``."""
    net = network(manifest)
    put_layer(storage, REACHES, net.reaches)
    put_layer(storage, REACH_CATCHMENTS, net.reach_catchments)
    put_layer(storage, PROGRESSIVE_CATCHMENTS, net.progressive)
    put_table(storage, HYDRO_STATIONS, station_list(region), None)
    put_table(storage, HYDRO_POLISHED, polish(parsed(region, "hydro")), None)
    forcing = forcings(region, manifest, net)
    put_table(storage, CATCHMENT_FORCINGS, forcing, REGION)
    put_table(storage, CATCHMENT_ATTRIBUTES, attributes(net), REGION)
    put_table(storage, CLIMATIC_INDICES, climatic_indices(forcing), REGION)
    return net


def read_stored(storage: StorageResource, key: dg.AssetKey, partition: str | None = REGION) -> pl.DataFrame:
    location = AssetLocation.for_partition(key, REGIONS if partition else None, partition)
    with storage.get_storage().local_copy(location.key(PARQUET)) as path:
        return pl.read_parquet(path)


def gauge_areas(manifest: dict) -> dict[str, float]:
    return {gauge["code"]: gauge["area_km2"] for gauge in manifest["stations"]["gauges"]}
