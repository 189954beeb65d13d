"""Repairs of polylines given as vertex arrays: repeated vertices and loops where a line crosses itself.

A line that follows a flow path (a river from source to mouth) must be simple: water does not pass the
same point twice, so a self-crossing is a digitising error. Cutting the loop out at the first crossing
keeps the source, the mouth and the path between them; the vertices of the loop are dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def drop_repeated_vertices(points: np.ndarray) -> np.ndarray:
    """``points`` without consecutive duplicates (they make zero-length segments with no direction)."""
    if len(points) < 2:
        return points
    keep = np.concatenate([[True], np.any(np.diff(points, axis=0) != 0.0, axis=1)])
    return points[keep]


def remove_loops(points: np.ndarray) -> np.ndarray:
    """``points`` with every self-crossing loop cut out; a simple line comes back unchanged.

    Each pass cuts from the earliest segment that meets a later one to the last segment it meets, so a
    pass removes at least one vertex and nested loops go in one cut. The caller should check the result
    with ``shapely.is_simple``: a line that is still not simple (floating-point ties) cannot be repaired.
    """
    for _ in range(len(points)):
        crossing = _first_crossing(points)
        if crossing is None:
            break
        first, last, cut = crossing
        points = drop_repeated_vertices(np.vstack([points[: first + 1], cut, points[last + 1 :]]))
    return points


def _first_crossing(points: np.ndarray) -> tuple[int, int, np.ndarray] | None:
    """``(i, j, point)``: the earliest segment ``i`` that meets a later segment ``j`` (the last such),
    and where along ``i`` they first meet; None when the line is simple."""
    import shapely

    if len(points) < 3 or shapely.is_simple(shapely.LineString(points)):
        return None
    segments = shapely.linestrings(np.stack([points[:-1], points[1:]], axis=1))
    left, right = shapely.STRtree(segments).query(segments, predicate="intersects")
    later = right > left
    left, right = left[later], right[later]
    meeting = shapely.intersection(segments[left], segments[right])
    # Neighbouring segments always share a vertex; they cross only where they run back over each other.
    crossing = (right > left + 1) | (shapely.get_dimensions(meeting) > 0)
    if not crossing.any():
        return None
    first = int(left[crossing].min())
    chosen = np.flatnonzero(crossing & (left == first))
    pick = chosen[np.argmax(right[chosen])]
    return first, int(right[pick]), _nearest(meeting[pick], points[first])


def _nearest(where: Any, origin: np.ndarray) -> np.ndarray:
    """The vertex of ``where`` (a point or an overlapping stretch) nearest to ``origin``."""
    import shapely

    candidates = shapely.get_coordinates(where)
    return candidates[np.argmin(np.hypot(*(candidates - origin).T))]
