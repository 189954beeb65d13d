"""Reach catchments (delineated once) and progressive catchments (composed along the topology).

Each reach pours at the cell with the largest upstream area along its own line, or within a snapping
distance of it (a filled DEM's channel may run metres beside the mapped line), leaving out its last one
and a half cells, which may already belong to the next reach, and the cells near a confluence, where
another river's channel runs: on a conditioned DEM that is the most downstream channel cell within the
reach. Delineating all pour points at once assigns every cell to the first pour point downstream of it,
so reach catchments never overlap and together tile the basin. A progressive catchment is a reach's own
area plus the progressive areas of the reaches draining into it: delineate once, compose later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from landing_zone.defs.catchments.alignment import Grid
from landing_zone.defs.catchments.rasters import cell_index
from landing_zone.defs.catchments.reaches import topological_order

POUR_MARGIN_CELLS = 1.5
SNAP_DISTANCE_M = 12.0
"""How far from the mapped line a pour cell may be: a filled DEM's channel can run metres beside it."""


def line_cells(points: np.ndarray, end_m: float, grid: Grid, shape: tuple[int, int]) -> np.ndarray:
    """Flat indices of the cells within :data:`SNAP_DISTANCE_M` (at least one cell) of the line's first
    ``end_m`` metres."""
    radius = max(1, math.ceil(SNAP_DISTANCE_M / grid.cell - 1e-9))
    steps = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    along = np.append(np.arange(0.0, end_m, grid.cell / 4), end_m)
    samples = np.column_stack([np.interp(along, arc, points[:, 0]), np.interp(along, arc, points[:, 1])])
    offsets = np.arange(-radius, radius + 1) * grid.cell
    shifted = [samples + np.array([dx, dy]) for dx in offsets for dy in offsets]
    indices = cell_index(grid, shape, np.concatenate(shifted))
    return np.unique(indices[indices >= 0])


def confluence_cells(lines: list[np.ndarray], grid: Grid, shape: tuple[int, int]) -> np.ndarray:
    """Cells near more than one river: where a tributary's pour cell could land on the receiving channel."""
    per_river = [line_cells(line, _length(line), grid, shape) for line in lines]
    counts = np.bincount(np.concatenate(per_river), minlength=shape[0] * shape[1]) if per_river else None
    return np.flatnonzero(counts >= 2) if counts is not None else np.empty(0, dtype=np.int64)


def pour_cell(
    points: np.ndarray, is_outlet: bool, grid: Grid, upstream_area: np.ndarray, excluded: np.ndarray
) -> int:
    """Flat index of the reach's pour cell, -1 if the reach lies outside the grid; the basin outlet
    reach keeps its very end, so the whole basin is covered. ``excluded``: confluence cells."""
    length = _length(points)
    end = length if is_outlet else max(length - POUR_MARGIN_CELLS * grid.cell, 0.0)
    candidates = line_cells(points, end, grid, upstream_area.shape)
    if not is_outlet:
        away = candidates[~np.isin(candidates, excluded)]
        candidates = away if away.size else candidates
    if not candidates.size:
        return -1
    return int(candidates[np.argmax(upstream_area.ravel()[candidates])])


def _length(points: np.ndarray) -> float:
    return float(np.hypot(*np.diff(points, axis=0).T).sum())


def delineate(flw: Any, grid: Grid, shape: tuple[int, int], pour_points: np.ndarray) -> np.ndarray:
    """Label raster: cell value i (1-based) drains first to pour point i; 0 drains to none of them.

    A pour point outside the grid (NaN) gets no cells.
    """
    indices = cell_index(grid, shape, pour_points)
    valid = indices >= 0
    ids = np.arange(1, len(pour_points) + 1, dtype=np.int32)[valid]
    labels: np.ndarray = flw.basins(idxs=indices[valid], ids=ids)
    return labels


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
