"""Reach catchments (delineated once) and progressive catchments (composed along the topology).

Each reach pours at the cell with the largest upstream area along its own line, or within a snapping
distance of it (a filled DEM's channel may run metres beside the mapped line), leaving out its last one
and a half cells, which may already belong to the next reach: on a conditioned DEM that is the most
downstream channel cell within the reach. Both distances are in analysis cells (the snapping distance
with a floor in metres), so they hold from 2 m to 90 m cells. A tributary's last reach may pour as close
to its mouth as it likes but never on the receiving river's D8 channel, where its water has already
joined the other river's: that works for a short tributary of one or two cells as for a long one. A
reach that still finds no pour cell of its own is merged into its neighbour on the same river, with the
reason recorded. Delineating all pour points at once assigns every cell to the first pour point
downstream of it, so reach catchments never overlap and together tile the basin. A progressive
catchment is a reach's own area plus the progressive areas of the reaches draining into it: delineate
once, compose later.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.rasters import cell_index
from landing_zone.defs.catchments.reaches import Ending, Reach, ending, topological_order

POUR_MARGIN_CELLS = 1.5
SNAP_DISTANCE_M = 12.0
"""Least distance from the mapped line a pour cell may be: a filled DEM's channel can run metres beside it."""

SNAP_DISTANCE_CELLS = 1.0
"""The snapping distance in cells where cells are larger than :data:`SNAP_DISTANCE_M`."""

TIE_CELLS = 0.01
"""Distances to two lines closer than this (in cells) are equal: a cell centre on a confluence vertex lies
on both lines up to the rounding of their coordinates (centimetres in a GeoJSON file)."""

CHANNEL_TRACE_REACHES = 3.0
"""How far (in reach lengths) the receiving river's channel is traced below each of its pour cells: far
enough to pass every confluence of the reach below it."""


def snap_distance_m(cell: float) -> float:
    """How far from its line a reach's pour cell may lie on cells of ``cell`` metres."""
    return max(SNAP_DISTANCE_M, SNAP_DISTANCE_CELLS * cell)


def pour_cell(
    points: np.ndarray,
    river_id: str,
    ends: Ending,
    grid: Grid,
    upstream_area: np.ndarray,
    rivers: RiverShapes,
    excluded: np.ndarray | None = None,
) -> int:
    """Flat index of the reach's pour cell, -1 if none of its candidates lies on the grid.

    Candidates: drained cells whose centres lie within :func:`snap_distance_m` of the reach, project onto
    it before its end margin and lie no nearer to another river than to the reach's own (a tie, such as
    a confluence cell, stays a candidate). ``ends``: how
    the reach ends: ``outlet`` (the basin's) and ``mouth`` (a confluence) keep their very end, ``reach``
    (the next reach of its river) leaves :data:`POUR_MARGIN_CELLS` to it. ``excluded``: flat indices
    no candidate may take (for a mouth, the receiving river's D8 channel).
    """
    import shapely

    line = shapely.LineString(points)
    distance = snap_distance_m(grid.cell)
    end = max(line.length - (POUR_MARGIN_CELLS * grid.cell if ends == "reach" else 0.0), 0.0)
    indices, centres = _cells_around(line, distance, grid, upstream_area.shape)
    keep = shapely.dwithin(centres, line, distance) & (shapely.line_locate_point(line, centres) <= end)
    keep &= upstream_area.ravel()[indices] > 0  # nodata is negative
    if excluded is not None:
        keep &= ~np.isin(indices, excluded)
    indices, centres = indices[keep], centres[keep]
    # Rivers clipped to a window around the candidates: decisions only involve distances up to twice the
    # snapping distance, and a long river's full line would make every distance cost its every vertex.
    west, south, east, north = line.bounds
    window = (west - 3 * distance, south - 3 * distance, east + 3 * distance, north + 3 * distance)
    own_river = _distance_within(centres, rivers.lines[river_id], window)
    tie = TIE_CELLS * grid.cell  # a confluence cell lies on both lines: float noise must not decide
    for other in rivers.others_near(river_id, shapely.box(*window)):
        closer = _distance_within(centres, other, window) >= own_river - tie
        indices, centres, own_river = indices[closer], centres[closer], own_river[closer]
    if not indices.size:
        return -1
    return int(indices[np.argmax(upstream_area.ravel()[indices])])


def _distance_within(points: Any, line: Any, window: tuple[float, float, float, float]) -> np.ndarray:
    """Distances to the part of ``line`` inside ``window``; infinite where none is (a line that only
    touches the window clips to an empty geometry, and shapely's distance to it is NaN)."""
    import shapely

    distances = np.asarray(shapely.distance(points, shapely.clip_by_rect(line, *window)), dtype=float)
    return np.where(np.isnan(distances), np.inf, distances)


@dataclass
class PourCells:
    """The reaches (some merged into a neighbour), each one's pour cell, and what was merged into which
    reach with the reason: ``merged[survivor] = [(merged reach id, reason), ...]``."""

    reaches: list[Reach]
    cells: np.ndarray
    merged: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def pour_cells(
    reaches: list[Reach], grid: Grid, upstream_area: np.ndarray, rivers: RiverShapes, flw: Any, reach_m: float
) -> PourCells:
    """Every reach's pour cell: first those ending on their own river or at the outlet, then each
    tributary's last reach, kept off the receiving river's D8 channel (traced below its pour cells); a
    reach left without a pour cell of its own is merged into a neighbour (:func:`settle`)."""
    river_of = {reach.reach_id: reach.river_id for reach in reaches}
    cells = np.full(len(reaches), -1, dtype=np.int64)
    for i, reach in enumerate(reaches):
        if (ends := ending(reach, river_of)) != "mouth":
            cells[i] = pour_cell(reach.points, reach.river_id, ends, grid, upstream_area, rivers)
    channels = _channels(flw, reaches, cells, CHANNEL_TRACE_REACHES * reach_m)

    def find(reach: Reach) -> int:
        ends = ending(reach, river_of)
        excluded = channels.get(river_of.get(reach.downstream or "", "")) if ends == "mouth" else None
        return pour_cell(reach.points, reach.river_id, ends, grid, upstream_area, rivers, excluded)

    for i, reach in enumerate(reaches):
        if ending(reach, river_of) == "mouth":
            cells[i] = find(reach)
    placed = settle(PourCells(list(reaches), cells), find)
    for _ in range(len(reaches)):
        off = _off_channel(flw, placed)
        if not off.size:
            break
        placed.cells[off] = OFF_CHANNEL
        placed = settle(placed, find)
    return placed


NO_CELL, OFF_CHANNEL = -1, -2
"""Pour cells of reaches without one: none found near the reach, or one its river's water bypasses."""

REASONS = {NO_CELL: "no drained cell near the reach", OFF_CHANNEL: "its pour cell is off the river's D8 path"}


def _off_channel(flw: Any, placed: PourCells) -> np.ndarray:
    """Indices of reaches whose pour cell the water of the reach above it on its river does not reach
    first (a side channel or hillslope cell): their link would disagree with the terrain."""
    cells = placed.cells
    ids = np.arange(1, len(cells) + 1, dtype=np.int32)
    labels = flw.basins(idxs=cells, ids=ids).ravel()
    following = flw.idxs_ds[cells]
    into = np.where(following != cells, labels[following], 0)
    index = {reach.reach_id: i for i, reach in enumerate(placed.reaches)}
    off = {
        index[reach.downstream]
        for i, reach in enumerate(placed.reaches)
        if reach.downstream in index
        and placed.reaches[index[reach.downstream]].river_id == reach.river_id
        and into[i] != index[reach.downstream] + 1
    }
    return np.array(sorted(off), dtype=np.int64)


def _channels(flw: Any, reaches: list[Reach], cells: np.ndarray, length_m: float) -> dict[str, np.ndarray]:
    """Per river, the flat indices of the D8 paths below its pour cells, ``length_m`` long."""
    found = cells >= 0
    paths, _ = flw.path(idxs=cells[found], max_length=length_m, unit="m")
    by_river: dict[str, list[np.ndarray]] = {}
    for reach, path in zip((r for r, ok in zip(reaches, found, strict=True) if ok), paths, strict=True):
        by_river.setdefault(reach.river_id, []).append(np.asarray(path))
    return {river: np.unique(np.concatenate(parts)) for river, parts in by_river.items()}


def settle(placed: PourCells, find: Callable[[Reach], int]) -> PourCells:
    """Merge every reach without a pour cell of its own (none found, or another reach's) into a
    neighbour on its river, its downstream one first, and find the merged reach's pour cell again; a
    river of one such reach is dropped, its inflows relinked to where it drained. Stops when every reach
    has its own pour cell or nothing is left to merge (the catchment checks report what remains)."""
    reaches, cells, merged = list(placed.reaches), placed.cells.copy(), dict(placed.merged)
    while (index := _unsettled(reaches, cells)) is not None:
        reach = reaches[index]
        reason = REASONS.get(int(cells[index]), "shares its pour cell")
        survivor = _merge(reaches, index)
        if survivor is None:
            if reach.downstream is None:
                break
            survivor_id = reach.downstream
        else:
            survivor_id = survivor.reach_id
        position = {r.reach_id: i for i, r in enumerate(reaches)}
        cells = np.delete(cells, index)
        reaches = [_relinked(r, reach.reach_id, survivor_id) for r in reaches if r is not reach]
        at = position[survivor_id] - (position[survivor_id] > index)
        if survivor is not None:
            reaches[at] = survivor
            cells[at] = find(survivor)
        merged.setdefault(survivor_id, []).extend([(reach.reach_id, reason), *merged.pop(reach.reach_id, [])])
    return PourCells(reaches, cells, merged)


def _unsettled(reaches: list[Reach], cells: np.ndarray) -> int | None:
    """Index of a reach without a pour cell of its own, upstream ones first; None when all have one."""
    order = {
        reach: i for i, reach in enumerate(topological_order({r.reach_id: r.downstream for r in reaches}))
    }
    values, counts = np.unique(cells, return_counts=True)
    shared = set(values[counts > 1].tolist()) | set(REASONS)
    bad = [i for i, cell in enumerate(cells.tolist()) if cell in shared]
    return min(bad, key=lambda i: order.get(reaches[i].reach_id, -1)) if bad else None


def _merge(reaches: list[Reach], index: int) -> Reach | None:
    """The reach at ``index`` joined to its downstream neighbour on the same river (keeping that one's
    id and link), else to its upstream one (keeping its id, taking the link); None for a lone reach."""
    reach = reaches[index]
    by_id = {r.reach_id: r for r in reaches}
    below = by_id.get(reach.downstream or "")
    if below is not None and below.river_id == reach.river_id:
        return _joined(reach, below, below.reach_id, below.downstream)
    above = [r for r in reaches if r.downstream == reach.reach_id and r.river_id == reach.river_id]
    if above:
        return _joined(above[0], reach, above[0].reach_id, reach.downstream)
    return None


def _joined(upper: Reach, lower: Reach, reach_id: str, downstream: str | None) -> Reach:
    points = np.concatenate([upper.points, lower.points[1:]])
    length = upper.length_m + lower.length_m
    return dataclasses.replace(
        upper, reach_id=reach_id, points=points, downstream=downstream, length_m=length
    )


def _relinked(reach: Reach, removed: str, target: str | None) -> Reach:
    """``reach`` with a link to the removed reach moved to where that one drained."""
    return dataclasses.replace(reach, downstream=target) if reach.downstream == removed else reach


def _cells_around(line: Any, distance: float, grid: Grid, shape: tuple[int, int]) -> tuple[np.ndarray, Any]:
    """Flat indices and centre points of the grid cells in the line's bounding box grown by ``distance``."""
    import shapely

    west, south, east, north = line.bounds
    col0, col1 = (_clipped((v - grid.west) / grid.cell, shape[1]) for v in (west - distance, east + distance))
    row0, row1 = (
        _clipped((grid.north - v) / grid.cell, shape[0]) for v in (north + distance, south - distance)
    )
    width = col1 - col0 + 1
    rows = np.repeat(np.arange(row0, row1 + 1), width)
    cols = np.tile(np.arange(col0, col1 + 1), row1 - row0 + 1)
    centres = shapely.points(grid.west + (cols + 0.5) * grid.cell, grid.north - (rows + 0.5) * grid.cell)
    return np.ravel_multi_index((rows, cols), shape), centres


def _clipped(position: float, size: int) -> int:
    """The row or column of ``position`` kept on the grid (plain floats: called per reach, numpy's
    scalar machinery cost more than the work)."""
    return min(max(math.floor(position), 0), size - 1)


class RiverShapes:
    """Each river's whole line, to tell a reach's own channel from a neighbouring river's.

    The lines sit in a spatial index: every reach asks which rivers come near it, and testing each of a
    network's hundreds of rivers for each of its thousands of reaches cost most of the reach step.
    """

    def __init__(self, lines: Mapping[str, np.ndarray]) -> None:
        import shapely

        self.lines = {river: shapely.LineString(points) for river, points in lines.items()}
        self._ids = list(self.lines)
        self._index = shapely.STRtree(list(self.lines.values()))

    def others_near(self, river_id: str, area: Any) -> list[Any]:
        """The other rivers' lines that reach into ``area``, in the order the rivers were given."""
        hits = sorted(int(i) for i in self._index.query(area, predicate="intersects"))
        return [self.lines[self._ids[i]] for i in hits if self._ids[i] != river_id]


def delineate(flw: Any, grid: Grid, shape: tuple[int, int], pour_points: np.ndarray) -> np.ndarray:
    """Label raster: cell value i (1-based) drains first to pour point i; 0 drains to none of them.

    A pour point outside the grid (NaN) gets no cells.
    """
    indices = cell_index(grid, shape, pour_points)
    valid = indices >= 0
    ids = np.arange(1, len(pour_points) + 1, dtype=np.int32)[valid]
    labels: np.ndarray = flw.basins(idxs=indices[valid], ids=ids)
    return labels


def drained_into(flw: Any, labels: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """For each pour cell, the label (1-based) of the next pour cell downstream of it along D8; 0 where
    the flow leaves the grid first (or the pour cell is missing)."""
    valid = cells >= 0
    start = np.where(valid, cells, 0)
    following = flw.idxs_ds[start]
    into = labels.ravel()[following]
    return np.where(valid & (following != start), into, 0)


def cell_counts(labels: np.ndarray, count: int) -> np.ndarray:
    """Cells per label 1..``count``."""
    counts: np.ndarray = np.bincount(labels.ravel(), minlength=count + 1)[1 : count + 1]
    return counts


def progressive_areas(downstream: Mapping[str, str | None], own: Mapping[str, float]) -> dict[str, float]:
    """Cumulative upstream area of every reach, summed in topological order (headwaters first)."""
    total = dict(own)
    for reach in topological_order(downstream):
        target = downstream[reach]
        if target is not None:
            total[target] += total[reach]
    return total
