"""What one weather-model run's forecast chain reads on the bench region, synthesised into a storage root
where and how the platform's contracts publish it (:mod:`shared.assets.landing_zone`,
:mod:`shared.assets.discharge_model`).

- A promoted model: the small sample region's landing-zone inputs (:mod:`platform_dev.training_inputs`,
  as the discharge model's tests use them: five real gauges, the generator's weather) through the real
  gauge catchments, training data, LSTM (``lstm.yml`` as it is) and evaluation assets.
- Then the bench region's own landing zone, replacing the sample's: a 50 m consolidated DTM over the
  40 km square (the fields' analysis grid is taken from it), and a river tree on a regular lattice of
  ``side`` x ``side`` square reach catchments (:func:`lattice`) with its progressive catchments,
  reaches, observed forcings over the model's warm-up, catchment attributes and climatic indices.

The lattice is a comb: every row of cells is a river flowing east into a trunk along the eastern column,
which flows south to the outlet in the south-east corner. Every progressive catchment is then a
rectangle, the reach catchments tile the square exactly (the forecast forcings' mass balance holds), and
the tree is as deep as it is wide (the trunk's last reach has ``side**2`` upstream reaches). Observed
forcings are the sample gauges' true weather, one gauge's series per catchment in turn, so every
catchment's warm-up is a real series.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import shapely

from discharge_model.defs.lstm.promotion import promoted_key
from platform_dev.forecast_cycles import materialise
from platform_dev.sample_region.spec import RegionSpec
from platform_dev.training_inputs import (
    CRS,
    REGION,
    Network,
    attributes,
    climatic_indices,
    completed_forcings,
    put_layer,
    put_table,
    store_inputs,
)
from shared.assets.discharge_model import GAUGE_CATCHMENTS, LSTM_MODEL, MODEL_EVALUATION, TRAINING_DATA
from shared.assets.landing_zone import (
    CATCHMENT_ATTRIBUTES,
    CATCHMENT_FORCINGS,
    CLIMATIC_INDICES,
    DTM_CONSOLIDATED,
    PROGRESSIVE_CATCHMENTS,
    REACH_CATCHMENTS,
    REACHES,
    REGIONS,
)
from shared.resources.storage import StorageResource
from shared.storage.layout import COG, AssetLocation, partition_dimensions
from shared.vectors.geoframe import GeoFrame

DTM_CELL_M = 50.0
"""The synthetic DTM's cell: coarse, since the fields only take their 250 m analysis grid from it."""
FLOW_CELL_M = 4.0
"""The analysis cell the reach layers' ``cells`` count in (the regions file's ``analysis_resolution_m``)."""
OBSERVED_DAYS = 200
"""Observed days before the run: the LSTM's 180-day warm-up, the forecast's 3 days of observation
margin, and slack."""


def train_model(storage: StorageResource, sample: Path, defs: dg.Definitions) -> None:
    """The sample region's inputs published, then gauge catchments, training data, LSTM and evaluation
    materialised with the platform's definitions; the evaluation must promote the model."""
    manifest = json.loads((sample / "truth" / "manifest.json").read_text())
    store_inputs(storage, sample, manifest)
    instance = dg.DagsterInstance.ephemeral()
    materialise(defs, instance, [GAUGE_CATCHMENTS, TRAINING_DATA], REGION, {})
    materialise(defs, instance, [LSTM_MODEL, MODEL_EVALUATION], REGION, {})
    promoted = promoted_key(AssetLocation.for_partition(MODEL_EVALUATION, REGIONS, REGION))
    if not storage.get_storage().exists(promoted):
        raise RuntimeError(f"the benchmark's model was trained but not promoted: no {promoted}")


def lattice(spec: RegionSpec, side: int) -> Network:
    """The comb-shaped river tree of ``side`` x ``side`` reach catchments over the region (module
    docstring)."""
    cell = spec.extent_m / side
    rows, lines, boxes, wholes = [], [], [], []
    areas: dict[str, float] = {}
    for row in range(side):
        south = spec.south + row * cell
        for col in range(side):
            west = spec.west + col * cell
            trunk = col == side - 1
            downstream = reach_id(row, col + 1) if not trunk else (reach_id(row - 1, col) if row else None)
            whole = (
                shapely.box(spec.west, south, spec.east, spec.north)
                if trunk
                else shapely.box(spec.west, south, west + cell, south + cell)
            )
            own_km2, whole_km2 = cell * cell / 1e6, whole.area / 1e6
            centre_x, centre_y = west + cell / 2, south + cell / 2
            line = (
                shapely.LineString([(centre_x, south + cell), (centre_x, south)])
                if trunk
                else shapely.LineString([(west, centre_y), (west + cell, centre_y)])
            )
            rows.append(
                {
                    "reach_id": reach_id(row, col),
                    "river_id": "trunk" if trunk else f"row{row:03d}",
                    "downstream_id": downstream,
                    "pour_x": line.coords[-1][0],
                    "pour_y": line.coords[-1][1],
                    "upstream_area_km2": whole_km2,
                    "cells": round(own_km2 * 1e6 / FLOW_CELL_M**2),
                    "area_km2": own_km2,
                    "reach_area_km2": own_km2,
                    "progressive_area_km2": whole_km2,
                }
            )
            lines.append(line)
            boxes.append(shapely.box(west, south, west + cell, south + cell))
            wholes.append(whole)
            areas[reach_id(row, col)] = whole_km2
    frame = pl.DataFrame(rows, schema_overrides={"downstream_id": pl.String})
    return Network(
        GeoFrame.from_geometries(
            frame.select("reach_id", "river_id", "downstream_id", "pour_x", "pour_y", "upstream_area_km2"),
            lines,
            CRS,
        ),
        GeoFrame.from_geometries(frame.select("reach_id", "downstream_id", "cells", "area_km2"), boxes, CRS),
        GeoFrame.from_geometries(
            frame.select("reach_id", "downstream_id", "reach_area_km2", "progressive_area_km2"), wholes, CRS
        ),
        {},
        areas,
    )


def reach_id(row: int, col: int) -> str:
    return f"r{row:03d}-{col:03d}"


def observed_forcings(net: Network, truth: pl.DataFrame, run: dt.datetime) -> pl.DataFrame:
    """The contract's observed forcings of every reach and progressive catchment over the
    :data:`OBSERVED_DAYS` before the run's day: the sample gauges' true weather in turn (module docstring)."""
    last = run.date() - dt.timedelta(days=1)
    days = truth.filter(pl.col("date").is_between(last - dt.timedelta(days=OBSERVED_DAYS - 1), last))
    stations = sorted(days["station"].unique())
    if days["date"].n_unique() != OBSERVED_DAYS:
        raise ValueError(
            f"the sample's gauge forcings lack days of {last - dt.timedelta(OBSERVED_DAYS)}..{last}"
        )
    outlet = net.reaches.frame.filter(pl.col("downstream_id").is_null())["reach_id"].item()
    reach_km2 = dict(net.reach_catchments.frame.select("reach_id", "area_km2").iter_rows())
    ids = sorted(net.area_km2)
    catchments = pl.concat(
        [
            pl.DataFrame(
                {
                    "catchment_id": ids,
                    "catchment_kind": kind,
                    "area_km2": [(net.area_km2 if kind == "progressive" else reach_km2)[i] for i in ids],
                    "outlet_id": outlet,
                    "station": [stations[n % len(stations)] for n in range(len(ids))],
                }
            )
            for kind in ("progressive", "reach")
        ]
    )
    return completed_forcings(catchments.join(days, on="station")).sort(
        "catchment_id", "catchment_kind", "date"
    )


def put_dtm(storage: StorageResource, spec: RegionSpec, workdir: Path) -> None:
    """A gently tilted :data:`DTM_CELL_M` DTM COG of the region as its consolidated DTM."""
    import rasterio
    from rasterio.transform import from_origin

    side = round(spec.extent_m / DTM_CELL_M)
    rows, cols = np.mgrid[0:side, 0:side]
    heights = (150.0 + 0.5 * rows + 0.25 * cols).astype(np.float32)
    path = workdir / "dtm.tif"
    profile = {
        "driver": "COG",
        "width": side,
        "height": side,
        "count": 1,
        "dtype": "float32",
        "crs": CRS,
        "transform": from_origin(spec.west, spec.north, DTM_CELL_M, DTM_CELL_M),
        "nodata": -9999.0,
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(heights, 1)
    key = AssetLocation(DTM_CONSOLIDATED.path, partition_dimensions(REGIONS, REGION)).key(COG)
    storage.get_storage().put_file(path, key)


def put_bench_region(
    storage: StorageResource, sample: Path, spec: RegionSpec, side: int, run: dt.datetime, workdir: Path
) -> Network:
    """The bench region's landing zone (module docstring), replacing the sample's catchment layers and
    tables; returns the lattice."""
    manifest = json.loads((sample / "truth" / "manifest.json").read_text())
    net = lattice(spec, side)
    put_dtm(storage, spec, workdir)
    put_layer(storage, REACHES, net.reaches)
    put_layer(storage, REACH_CATCHMENTS, net.reach_catchments)
    put_layer(storage, PROGRESSIVE_CATCHMENTS, net.progressive)
    forcing = observed_forcings(net, pl.read_parquet(sample / manifest["stations"]["gauge_forcings"]), run)
    put_table(storage, CATCHMENT_FORCINGS, forcing, REGION)
    put_table(storage, CATCHMENT_ATTRIBUTES, attributes(net), REGION)
    put_table(storage, CLIMATIC_INDICES, climatic_indices(forcing), REGION)
    return net
