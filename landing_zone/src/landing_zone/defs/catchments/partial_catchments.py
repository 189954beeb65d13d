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

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.rasters import cell_index
from landing_zone.defs.catchments.reaches import topological_order

POUR_MARGIN_CELLS = 1.5
SNAP_DISTANCE_M = 12.0
"""How far from the mapped line a pour cell may be: a filled DEM's channel can run metres beside it."""


def pour_cell(
    points: np.ndarray,
    river_id: str,
    ends: Literal["outlet", "reach", "mouth"],
    grid: Grid,
    upstream_area: np.ndarray,
    rivers: RiverShapes,
) -> int:
    """Flat index of the reach's pour cell, -1 if none of its candidates lies on the grid.

    Candidates: cell centres within :data:`SNAP_DISTANCE_M` (at least one cell) of the reach that
    project onto it before its last :data:`POUR_MARGIN_CELLS` and lie no nearer to another river than
    to the reach's own. ``ends``: how the reach ends: ``outlet`` (the basin's: it keeps its very end,
    so the whole basin is covered), ``reach`` (the next reach of its river) or ``mouth`` (a confluence:
    the margin grows by the snapping distance and candidates keep that distance from the receiving
    river, whose channel may run beside the tributary's last metres).
    """
    import shapely

    line = shapely.LineString(points)
    distance = max(SNAP_DISTANCE_M, grid.cell)
    margin = {
        "outlet": 0.0,
        "reach": POUR_MARGIN_CELLS * grid.cell,
        "mouth": POUR_MARGIN_CELLS * grid.cell + distance,
    }
    end = max(line.length - margin[ends], 0.0)
    indices, centres = _cells_around(line, distance, grid, upstream_area.shape)
    keep = shapely.dwithin(centres, line, distance) & (shapely.line_locate_point(line, centres) <= end)
    indices, centres = indices[keep], centres[keep]
    # Rivers clipped to a window around the candidates: decisions only involve distances up to twice the
    # snapping distance, and a long river's full line would make every distance cost its every vertex.
    west, south, east, north = line.bounds
    window = (west - 3 * distance, south - 3 * distance, east + 3 * distance, north + 3 * distance)
    own_river = shapely.distance(centres, shapely.clip_by_rect(rivers.lines[river_id], *window))
    for other in rivers.others_near(river_id, shapely.box(*window)):
        to_other = shapely.distance(centres, shapely.clip_by_rect(other, *window))
        closer = (to_other >= own_river) & ((to_other > distance) if ends == "mouth" else True)
        indices, centres, own_river = indices[closer], centres[closer], own_river[closer]
    if not indices.size:
        return -1
    return int(indices[np.argmax(upstream_area.ravel()[indices])])


def _cells_around(line: Any, distance: float, grid: Grid, shape: tuple[int, int]) -> tuple[np.ndarray, Any]:
    """Flat indices and centre points of the grid cells in the line's bounding box grown by ``distance``."""
    import shapely

    west, south, east, north = line.bounds
    col0, col1 = (_clipped((v - grid.west) / grid.cell, shape[1]) for v in (west - distance, east + distance))
    row0, row1 = (
        _clipped((grid.north - v) / grid.cell, shape[0]) for v in (north + distance, south - distance)
    )
    rows, cols = np.mgrid[row0 : row1 + 1, col0 : col1 + 1]
    rows, cols = rows.ravel(), cols.ravel()
    centres = shapely.points(grid.west + (cols + 0.5) * grid.cell, grid.north - (rows + 0.5) * grid.cell)
    return np.ravel_multi_index((rows, cols), shape), centres


def _clipped(position: float, size: int) -> int:
    return int(np.clip(np.floor(position), 0, size - 1))


class RiverShapes:
    """Each river's whole line, to tell a reach's own channel from a neighbouring river's."""

    def __init__(self, lines: Mapping[str, np.ndarray]) -> None:
        import shapely

        self.lines = {river: shapely.LineString(points) for river, points in lines.items()}

    def others_near(self, river_id: str, area: Any) -> list[Any]:
        """The other rivers' lines that reach into ``area``."""
        return [line for river, line in self.lines.items() if river != river_id and line.intersects(area)]


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
