"""Reach catchments (delineated once) and progressive catchments (composed along the topology).

Each reach pours at its last cell on the burned channel, one cell upstream of where the next reach
begins. Delineating all pour points at once assigns every cell to the first pour point downstream of it,
so reach catchments never overlap and together tile the basin. A progressive catchment is a reach's own
area plus the progressive areas of the reaches draining into it: delineate once, compose later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from landing_zone.defs.catchments.alignment import Grid
from landing_zone.defs.catchments.rasters import cell_index
from landing_zone.defs.catchments.reaches import topological_order


def pour_point(points: np.ndarray, is_outlet: bool, cell: float) -> np.ndarray:
    """One cell before the reach's end, so it lands in the reach's own last cell; the basin outlet
    reach pours at its very end, so the whole basin is covered."""
    steps = np.hypot(*np.diff(points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    at = arc[-1] if is_outlet else max(arc[-1] - cell, 0.0)
    return np.array([np.interp(at, arc, points[:, 0]), np.interp(at, arc, points[:, 1])])


def delineate(flw: Any, grid: Grid, shape: tuple[int, int], pour_points: np.ndarray) -> np.ndarray:
    """Label raster: cell value i (1-based) drains first to pour point i; 0 drains to none of them."""
    indices = cell_index(grid, shape, pour_points)
    labels: np.ndarray = flw.basins(idxs=indices, ids=np.arange(1, len(pour_points) + 1, dtype=np.int32))
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
