"""Flow direction (D8, pyflwdir) and flow accumulation (D8 with pyflwdir, D-infinity of our own).

D8 sends each cell's flow to one neighbour: that is what catchment boundaries need (every cell belongs
to exactly one catchment). D-infinity (Tarboton 1997) splits flow between two neighbours by slope angle,
a more faithful contributing area on hillslopes for features such as wetness indices.

Both run on the same conditioned DEM, the one pyflwdir's priority flood filled with the grid edge and
nodata as outlets. Re-filling it for D-infinity (as WhiteboxTools does) would not treat nodata or the
edge as outlets: on real terrain that raised thousands of cells by up to 163 m and sent a basin's flow
out 11 km from its D8 outlet. So D-infinity is computed here, on that DEM as it is:

- a cell with a downslope facet splits its flow by Tarboton's facet angle (both receivers strictly
  lower, so these steps cannot form a cycle);
- a cell on a filled flat (no lower neighbour) sends all its flow along its D8 direction, which the
  priority flood pointed towards the flat's spill point: flats drain exactly as D8 drains them;
- D8 outlets (the edge and nodata cells the flood started from) keep their flow: it leaves the grid.

Every step therefore goes strictly downhill or along the acyclic D8 network, and accumulation is one
sweep in topological order (Kahn's algorithm). The kernels are compiled by numba on first use.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

from landing_zone.defs.catchments.rasters import GridArray

D8_NODATA = 247
"""pyflwdir's D8 nodata code; 0 marks a pit or outlet, 1..128 the directions E, SE, S, SW, W, NW, N, NE."""

AREA_NODATA = -9999.0

_ROW_STEP = (0, -1, -1, -1, 0, 1, 1, 1)
_COL_STEP = (1, 1, 0, -1, -1, -1, 0, 1)
"""Neighbours counter-clockwise from east: E, NE, N, NW, W, SW, S, SE."""

_FACETS = ((0, 1), (2, 1), (2, 3), (4, 3), (4, 5), (6, 5), (6, 7), (0, 7))
"""Tarboton's eight triangular facets as (cardinal, diagonal) neighbour indices."""

_D8_CODES = (1, 128, 64, 32, 16, 8, 4, 2)
"""pyflwdir's D8 code of each neighbour in the order above."""


def flow_from_d8(d8: GridArray) -> Any:
    """A stored D8 raster back as a pyflwdir flow-direction object."""
    import pyflwdir

    return pyflwdir.from_array(d8.values, ftype="d8", transform=d8.transform, latlon=False, check_ftype=False)


def d8_upstream_area_km2(flw: Any) -> np.ndarray:
    """Upstream area of every cell in km² (the cell itself included); nodata outside the DEM."""
    area = flw.upstream_area(unit="km2")
    return np.where(flw.mask.reshape(flw.shape), area, AREA_NODATA).astype(np.float32)


def dinf_upstream_area_km2(conditioned: GridArray, d8: np.ndarray) -> np.ndarray:
    """D-infinity contributing area in km² of every cell (the cell included) of the conditioned DEM whose
    priority flood gave the D8 directions ``d8``; nodata outside the DEM."""
    if conditioned.values.shape != d8.shape:
        raise ValueError(f"conditioned DEM {conditioned.values.shape} and D8 {d8.shape} differ in shape")
    routes, accumulate = _kernels()
    dem = conditioned.values.astype(np.float64)
    receivers, shares = routes(dem, d8.astype(np.uint8), conditioned.grid.cell)
    valid = (d8 != D8_NODATA).ravel()
    area, visited = accumulate(receivers, shares, valid, conditioned.grid.cell**2 / 1e6)
    if visited != int(valid.sum()):  # cannot happen by construction; a silent cycle would drop flow
        raise RuntimeError(f"D-infinity routing has a cycle: {int(valid.sum()) - visited} cells unvisited")
    return np.where(valid, area, AREA_NODATA).reshape(d8.shape).astype(np.float32)


@cache
def _kernels() -> tuple[Any, Any]:
    """The numba-compiled routing and accumulation kernels (compiled once, cached on disk)."""
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return jit(_dinf_routes), jit(_accumulate)


def _dinf_routes(dem: np.ndarray, d8: np.ndarray, cell: float) -> tuple[np.ndarray, np.ndarray]:
    """Up to two receivers per cell (-1: none) and the share of the cell's flow each gets."""
    nrow, ncol = dem.shape
    receivers = np.full((nrow * ncol, 2), -1, dtype=np.int64)
    shares = np.zeros((nrow * ncol, 2), dtype=np.float64)
    quarter = math.pi / 4
    for row in range(nrow):
        for col in range(ncol):
            code = d8[row, col]
            if code == 0 or code == D8_NODATA:  # an outlet keeps its flow; nodata has none
                continue
            here = row * ncol + col
            best, first, second, share = 0.0, -1, -1, 0.0
            for cardinal, diagonal in _FACETS:
                r1, c1 = row + _ROW_STEP[cardinal], col + _COL_STEP[cardinal]
                r2, c2 = row + _ROW_STEP[diagonal], col + _COL_STEP[diagonal]
                if not (0 <= r1 < nrow and 0 <= c1 < ncol and 0 <= r2 < nrow and 0 <= c2 < ncol):
                    continue
                if d8[r1, c1] == D8_NODATA or d8[r2, c2] == D8_NODATA:
                    continue
                e0, e1, e2 = dem[row, col], dem[r1, c1], dem[r2, c2]
                s1, s2 = (e0 - e1) / cell, (e1 - e2) / cell
                angle = math.atan2(s2, s1)
                if angle <= 0.0:
                    slope, to_diagonal = s1, 0.0
                elif angle >= quarter:
                    slope, to_diagonal = (e0 - e2) / (cell * math.sqrt(2.0)), 1.0
                else:
                    slope, to_diagonal = math.sqrt(s1 * s1 + s2 * s2), angle / quarter
                if slope > best:
                    best, share = slope, to_diagonal
                    first, second = r1 * ncol + c1, r2 * ncol + c2
            if best > 0.0:
                if share < 1.0:
                    receivers[here, 0], shares[here, 0] = first, 1.0 - share
                if share > 0.0:
                    receivers[here, 1], shares[here, 1] = second, share
            else:  # a filled flat: follow the priority flood's D8 direction towards the spill point
                for k in range(8):
                    if _D8_CODES[k] == code:
                        receivers[here, 0] = (row + _ROW_STEP[k]) * ncol + col + _COL_STEP[k]
                        shares[here, 0] = 1.0
    return receivers, shares


def _accumulate(
    receivers: np.ndarray, shares: np.ndarray, valid: np.ndarray, cell_km2: float
) -> tuple[np.ndarray, int]:
    """Upstream area of every cell by Kahn's topological sweep; also how many cells were visited
    (fewer than the valid cells only if the routing had a cycle)."""
    count = receivers.shape[0]
    pending = np.zeros(count, dtype=np.int64)
    for cell in range(count):
        for k in range(2):
            if receivers[cell, k] >= 0:
                pending[receivers[cell, k]] += 1
    area = np.zeros(count, dtype=np.float64)
    for cell in range(count):
        if valid[cell]:
            area[cell] = cell_km2
    queue = np.empty(count, dtype=np.int64)
    tail = 0
    for cell in range(count):
        if valid[cell] and pending[cell] == 0:
            queue[tail] = cell
            tail += 1
    head = 0
    while head < tail:
        cell = queue[head]
        head += 1
        for k in range(2):
            target = receivers[cell, k]
            if target < 0:
                continue
            area[target] += area[cell] * shares[cell, k]
            pending[target] -= 1
            if pending[target] == 0:
                queue[tail] = target
                tail += 1
    return area, head


def outlet_areas_km2(d8_area: np.ndarray, dinf_area: np.ndarray, d8: np.ndarray) -> dict[str, np.ndarray]:
    """D8 and D-infinity upstream areas at every D8 outlet (flat cell index ``outlet``), largest first."""
    outlets = np.flatnonzero(d8.ravel() == 0)
    d8_km2, dinf_km2 = d8_area.ravel()[outlets], dinf_area.ravel()[outlets]
    order = np.argsort(-d8_km2, kind="stable")
    return {"outlet": outlets[order], "d8_km2": d8_km2[order], "dinf_km2": dinf_km2[order]}
