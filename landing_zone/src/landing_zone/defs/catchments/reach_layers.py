"""Build the network's vector layers from the numeric steps: reaches, reach and progressive catchments.

This is the seam between the arrays of :mod:`partial_catchments` and the :class:`GeoFrame` layers the
assets store; the assets stay thin and the steps stay testable without Dagster.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.catchments.flow import flow_from_d8
from landing_zone.defs.catchments.partial_catchments import (
    RiverShapes,
    cell_counts,
    delineate,
    drained_into,
    pour_cells,
    progressive_areas,
)
from landing_zone.defs.catchments.polygons import label_polygons, union
from landing_zone.defs.catchments.rasters import GridArray, cell_centres, read_grid
from landing_zone.defs.catchments.reaches import (
    Reach,
    reach_length_m,
    split_rivers,
    strahler_orders,
    topological_order,
)
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
    "merged_reaches": pl.String,
}


def reach_layer(
    rivers: GeoFrame, accumulation: StoredRaster, directions: StoredRaster, target_m: float | None
) -> tuple[GeoFrame, dict[str, Any]]:
    """:func:`reaches_on_grid` on the stored D8 accumulation and directions."""
    return reaches_on_grid(rivers, read_grid(accumulation), read_grid(directions), target_m)


def reaches_on_grid(
    rivers: GeoFrame, area: GridArray, flow: GridArray, target_m: float | None
) -> tuple[GeoFrame, dict[str, Any]]:
    """Reaches with their pour cells (centres), the D8 upstream area there, and links checked against
    the terrain; returns the layer and a summary for the metadata (reach length used, links the terrain
    moved, reaches merged into a neighbour).

    ``target_m`` is checked against the cell size (None: derived from it, :func:`reach_length_m`). A
    river's reaches stay linked in their order. The rivers' ``receiving`` says which river a tributary
    joins; which *reach* of it is read from the D8 directions (the reach whose pour cell the tributary's
    water reaches first), because the mapped mouth can sit a cell or two from where the DEM's channels
    meet. A reach without a pour cell of its own is merged into a neighbour: ``merged_reaches`` names
    the reaches a row absorbed and why.
    """
    import shapely

    reach_m = reach_length_m(area.grid.cell, target_m)
    lines = river_lines(rivers)
    shapes = RiverShapes({line.river_id: line.points for line in lines})
    flw = flow_from_d8(flow)
    placed = pour_cells(split_rivers(lines, reach_m), area.grid, area.values, shapes, flw, reach_m)
    reaches, cells = placed.reaches, placed.cells
    pours = cell_centres(area.grid, area.values.shape, cells)
    into = drained_into(flw, delineate(flw, flow.grid, flow.values.shape, pours), cells)
    downstream, moved = _links_on_terrain(reaches, into)
    joins = {reach.reach_id: reach.joins_at_m for reach in reaches if reach.joins_at_m is not None}
    orders = strahler_orders(downstream, {reach.reach_id: reach.river_id for reach in reaches}, joins)
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
            "merged_reaches": _merge_note(placed.merged.get(reach.reach_id)),
        }
        for reach, pour, up in zip(reaches, pours, upstream, strict=True)
    ]
    geometries = [shapely.LineString(reach.points) for reach in reaches]
    layer = GeoFrame.from_geometries(pl.DataFrame(rows, schema=REACH_SCHEMA), geometries, rivers.crs)
    merged = sum(len(found) for found in placed.merged.values())
    return layer, {"reach_length_m": reach_m, "links_moved_by_terrain": moved, "reaches_merged": merged}


def _merge_note(merged: list[tuple[str, str]] | None) -> str | None:
    """``id (reason); ...`` of the reaches merged into one, None where none was."""
    return "; ".join(f"{reach} ({reason})" for reach, reason in merged) if merged else None


def _links_on_terrain(reaches: list[Reach], into: np.ndarray) -> tuple[dict[str, str | None], int]:
    """Downstream links, a tributary's last one moved to the reach the D8 flow reaches first when that
    lies on its receiving river or a river further down (the water may meet the receiving river only
    below its confluence). Links within a river never move (its reaches follow each other whatever the
    cells say), nor to a river off that path: the network's shape stays the provider's, and a DAG."""
    by_id = {reach.reach_id: reach for reach in reaches}
    downstream = {reach.reach_id: reach.downstream for reach in reaches}
    moved = 0
    for reach, target_label in zip(reaches, into, strict=True):
        linked = by_id.get(reach.downstream or "")
        if linked is None or linked.river_id == reach.river_id or not target_label:
            continue
        target = reaches[int(target_label) - 1]
        if target.reach_id != linked.reach_id and target.river_id in _rivers_below(linked, by_id):
            downstream[reach.reach_id] = target.reach_id
            moved += 1
    return downstream, moved


def _rivers_below(reach: Reach, by_id: dict[str, Reach]) -> set[str]:
    """The river of ``reach`` and every river its water flows on into, by the provider's links."""
    rivers: set[str] = set()
    current: Reach | None = reach
    while current is not None and current.river_id not in rivers:
        rivers.add(current.river_id)
        while current.downstream in by_id and by_id[current.downstream].river_id == current.river_id:
            current = by_id[current.downstream]
        current = by_id.get(current.downstream or "")
    return rivers


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
