"""Reach catchments (delineated once) and progressive catchments (composed along the topology).

Each reach pours at its last cell on the burned channel, one cell upstream of where the next reach
begins. Delineating all pour points at once assigns every cell to the first pour point downstream of it,
so reach catchments never overlap and together tile the basin. A progressive catchment is a reach's own
area plus the progressive areas of the reaches draining into it: delineate once, compose later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from landing_zone.defs.catchments.alignment import Grid
from landing_zone.defs.catchments.reaches import Reach


@dataclass(frozen=True)
class PartialCatchments:
    """Catchment labels (0 = outside every reach catchment) and areas in km² per reach."""

    labels: np.ndarray
    reach_ids: list[str]
    reach_area_km2: dict[str, float]
    progressive_area_km2: dict[str, float]


def pour_point(reach: Reach, cell: float) -> np.ndarray:
    """One cell before the reach's end, so it snaps into the reach's own last cell; the basin outlet
    reach pours at its very end, so the whole basin is covered."""
    steps = np.hypot(*np.diff(reach.points, axis=0).T)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    at = arc[-1] if reach.downstream is None else max(arc[-1] - cell, 0.0)
    return np.array([np.interp(at, arc, reach.points[:, 0]), np.interp(at, arc, reach.points[:, 1])])


def delineate(flw: Any, grid: Grid, shape: tuple[int, int], reaches: list[Reach]) -> PartialCatchments:
    """Reach catchments from a pyflwdir flow-direction raster, and progressive areas from the topology."""
    points = np.array([pour_point(reach, grid.cell) for reach in reaches])
    cols = np.clip(np.floor((points[:, 0] - grid.west) / grid.cell).astype(np.int64), 0, shape[1] - 1)
    rows = np.clip(np.floor((grid.north - points[:, 1]) / grid.cell).astype(np.int64), 0, shape[0] - 1)
    indices = np.ravel_multi_index((rows, cols), shape)
    labels = flw.basins(idxs=indices, ids=np.arange(1, len(reaches) + 1, dtype=np.int32))
    counts = np.bincount(labels.ravel(), minlength=len(reaches) + 1)
    cell_km2 = grid.cell**2 / 1e6
    own = {reach.reach_id: float(counts[i + 1] * cell_km2) for i, reach in enumerate(reaches)}
    return PartialCatchments(labels, [r.reach_id for r in reaches], own, progressive_areas(reaches, own))


def progressive_areas(reaches: list[Reach], own: dict[str, float]) -> dict[str, float]:
    """Cumulative upstream area of every reach, summed in topological order (headwaters first)."""
    upstream_count = {reach.reach_id: 0 for reach in reaches}
    for reach in reaches:
        if reach.downstream is not None:
            upstream_count[reach.downstream] += 1
    by_id = {reach.reach_id: reach for reach in reaches}
    total = dict(own)
    ready = [reach_id for reach_id, count in upstream_count.items() if count == 0]
    while ready:
        reach_id = ready.pop()
        target = by_id[reach_id].downstream
        if target is not None:
            total[target] += total[reach_id]
            upstream_count[target] -= 1
            if upstream_count[target] == 0:
                ready.append(target)
    return total
