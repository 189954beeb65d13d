"""Build the network's vector layers from the numeric steps: reaches, reach and progressive catchments.

This is the seam between the arrays of :mod:`partial_catchments` and the :class:`GeoFrame` layers the
assets store; the assets stay thin and the steps stay testable without Dagster.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

import numpy as np
import polars as pl

from landing_zone.defs.catchments.flow import flow_from_d8
from landing_zone.defs.catchments.partial_catchments import (
    RiverShapes,
    cell_counts,
    delineate,
    drained_into,
    pour_cell,
    progressive_areas,
)
from landing_zone.defs.catchments.polygons import label_polygons, union
from landing_zone.defs.catchments.rasters import GridArray, cell_centres, read_grid
from landing_zone.defs.catchments.reaches import Reach, split_rivers, strahler_orders, topological_order
from landing_zone.defs.catchments.river_source import river_lines
from shared.rasters.handles import StoredRaster
from shared.vectors.geoframe import GeoFrame

REACH_SCHEMA = {
    "reach_id": pl.String,
    "river_id": pl.String,
    "downstream_id": pl.String,
    "strahler_order": pl.Int32,
    "length_m": pl.Float64,
    "pour_x": pl.Float64,
    "pour_y": pl.Float64,
    "upstream_area_km2": pl.Float64,
}


def reach_layer(
    rivers: GeoFrame, accumulation: StoredRaster, directions: StoredRaster, target_m: float
) -> tuple[GeoFrame, int]:
    """:func:`reaches_on_grid` on the stored D8 accumulation and directions."""
    return reaches_on_grid(rivers, read_grid(accumulation), read_grid(directions), target_m)


def reaches_on_grid(
    rivers: GeoFrame, area: GridArray, flow: GridArray, target_m: float
) -> tuple[GeoFrame, int]:
    """Reaches with their pour cells (centres), the D8 upstream area there, and links checked against
    the terrain; returns the layer and how many links the terrain moved.

    The rivers' ``receiving`` says which river a tributary joins; which *reach* of it is read from the
    D8 directions (the reach whose pour cell the tributary's water reaches first), because the mapped
    mouth can sit a cell or two from where the DEM's channels meet.
    """
    import shapely

    lines = river_lines(rivers)
    reaches = split_rivers(lines, target_m)
    shapes = RiverShapes({line.river_id: line.points for line in lines})
    river_of = {reach.reach_id: reach.river_id for reach in reaches}
    cells = np.array(
        [
            pour_cell(r.points, r.river_id, ending(r, river_of), area.grid, area.values, shapes)
            for r in reaches
        ]
    )
    pours = cell_centres(area.grid, area.values.shape, cells)
    flw = flow_from_d8(flow)
    into = drained_into(flw, delineate(flw, flow.grid, flow.values.shape, pours), cells)
    downstream, moved = _links_on_terrain(reaches, into)
    orders = strahler_orders(downstream)
    upstream = np.where(cells >= 0, area.values.ravel()[np.maximum(cells, 0)], np.nan)
    upstream = np.where(upstream == area.nodata, np.nan, upstream)
    rows = [
        {
            "reach_id": reach.reach_id,
            "river_id": reach.river_id,
            "downstream_id": downstream[reach.reach_id],
            "strahler_order": orders.get(reach.reach_id),
            "length_m": reach.length_m,
            "pour_x": float(pour[0]),
            "pour_y": float(pour[1]),
            "upstream_area_km2": None if np.isnan(up) else float(up),
        }
        for reach, pour, up in zip(reaches, pours, upstream, strict=True)
    ]
    geometries = [shapely.LineString(reach.points) for reach in reaches]
    return GeoFrame.from_geometries(pl.DataFrame(rows, schema=REACH_SCHEMA), geometries, rivers.crs), moved


def ending(reach: Reach, river_of: dict[str, str]) -> Literal["outlet", "reach", "mouth"]:
    """How a reach ends: the basin outlet, the next reach of its river, or a confluence."""
    if reach.downstream is None:
        return "outlet"
    return "reach" if river_of.get(reach.downstream) == reach.river_id else "mouth"


def _links_on_terrain(reaches: list[Reach], into: np.ndarray) -> tuple[dict[str, str | None], int]:
    """Downstream links, each moved to the reach the D8 flow reaches first when that is another reach of
    the same receiving river (never to another river: the network's shape stays the provider's)."""
    by_id = {reach.reach_id: reach for reach in reaches}
    downstream = {reach.reach_id: reach.downstream for reach in reaches}
    moved = 0
    for reach, target_label in zip(reaches, into, strict=True):
        linked = reach.downstream
        if linked is None or not target_label:
            continue
        target = reaches[int(target_label) - 1]
        if target.reach_id != linked and target.river_id == by_id[linked].river_id:
            downstream[reach.reach_id] = target.reach_id
            moved += 1
    return downstream, moved


def reach_catchments_on_grid(reaches: GeoFrame, grid: GridArray) -> GeoFrame:
    """One (multi)polygon per reach: the cells that drain first to its pour point."""
    pours = reaches.frame.select("pour_x", "pour_y").to_numpy()
    labels = delineate(flow_from_d8(grid), grid.grid, grid.values.shape, pours)
    counts = cell_counts(labels, len(pours))
    geometries = label_polygons(labels, grid.transform, len(pours))
    attributes = reaches.frame.select(
        "reach_id", "river_id", "downstream_id", "upstream_area_km2"
    ).with_columns(
        cells=pl.Series(counts, dtype=pl.Int64),
        area_km2=pl.Series(counts * grid.grid.cell**2 / 1e6, dtype=pl.Float64),
    )
    return GeoFrame.from_geometries(attributes, geometries, reaches.crs)


def progressive_layer(catchments: GeoFrame) -> GeoFrame:
    """Each reach's catchment united with those of every reach upstream, composed headwaters first."""
    frame = catchments.frame
    downstream = dict(zip(frame["reach_id"], frame["downstream_id"], strict=True))
    own_area = dict(zip(frame["reach_id"], frame["area_km2"], strict=True))
    own_shape = dict(zip(frame["reach_id"], catchments.geometries(), strict=True))
    inflows: dict[str, list[str]] = defaultdict(list)
    for reach, target in downstream.items():
        if target is not None:
            inflows[target].append(reach)
    area = progressive_areas(downstream, own_area)
    shape: dict[str, Any] = {}
    count: dict[str, int] = {}
    for reach in topological_order(downstream):
        count[reach] = 1 + sum(count[u] for u in inflows[reach])
        shape[reach] = union([own_shape[reach], *(shape[u] for u in inflows[reach])])
    ids = frame["reach_id"].to_list()
    attributes = frame.select("reach_id", "river_id", "downstream_id", "upstream_area_km2").with_columns(
        reach_area_km2=frame["area_km2"],
        progressive_area_km2=pl.Series([area[r] for r in ids], dtype=pl.Float64),
        upstream_reaches=pl.Series([count[r] for r in ids], dtype=pl.Int64),
    )
    return GeoFrame.from_geometries(attributes, [shape[r] for r in ids], catchments.crs)


def outlet_basin_km2(reaches: GeoFrame, grid: GridArray) -> float:
    """Area in km² that drains to the network's outlets by the D8 directions ``grid``: what the reach
    catchments must tile, delineated independently of them so the check can catch their mistakes."""
    outlets = reaches.frame.filter(pl.col("downstream_id").is_null()).select("pour_x", "pour_y").to_numpy()
    basins = delineate(flow_from_d8(grid), grid.grid, grid.values.shape, outlets)
    return int((basins > 0).sum()) * grid.grid.cell**2 / 1e6
