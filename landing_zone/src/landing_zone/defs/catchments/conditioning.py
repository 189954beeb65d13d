"""Condition a DEM for delineation: burn the (aligned) rivers in, then fill depressions by priority flood.

Burning first makes the fill respect the mapped channels: a channel blocked by a bridge deck or a DEM
artefact is cut through instead of being filled up into a lake. The priority flood yields the D8 flow
directions as it fills, so they come with the conditioned DEM instead of from a second fill. Strategies
are named so that several can be materialised and compared side by side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from landing_zone.defs.catchments.alignment import densify
from landing_zone.defs.catchments.grid import Grid
from landing_zone.defs.catchments.rasters import cell_index

STRATEGIES = ("burn_fill", "fill")


@dataclass(frozen=True)
class ConditioningResult:
    """The conditioned DEM, its D8 flow directions (pyflwdir codes) and what was changed."""

    dem: np.ndarray
    d8: np.ndarray
    burned_cells: int
    filled_cells: int
    max_fill_m: float


def river_cells(lines: list[np.ndarray], grid: Grid, shape: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the cells the lines pass through (sampled every half cell)."""
    indices = cell_index(grid, shape, densify(lines, grid.cell / 2))
    mask = np.zeros(shape, dtype=bool)
    mask.ravel()[indices[indices >= 0]] = True
    return mask


def network_levels(receiving: Mapping[str, str | None]) -> dict[str, int]:
    """Hops from each river to its basin's main river (0 for the main river; a cycle stops counting)."""
    levels = {}
    for river in receiving:
        level, current = 0, receiving[river]
        while current is not None and current in receiving and level < len(receiving):
            level, current = level + 1, receiving[current]
        levels[river] = level
    return levels


def condition_dem(
    dem: np.ndarray,
    nodata: float,
    grid: Grid,
    rivers: list[np.ndarray],
    strategy: str,
    burn_depth_m: float = 5.0,
    levels: list[int] | None = None,
) -> ConditioningResult:
    """``fill``: priority-flood only. ``burn_fill``: lower river cells, then fill.

    A river ``levels`` hops from the main river is burned ``burn_depth_m / 2**level`` deep (the main
    river the full depth; a cell on two rivers takes the deeper): where a tributary's line runs a cell or
    two beside the receiving river before their confluence, a trench as deep as the main one would
    capture the main river's flow.
    """
    import pyflwdir

    if strategy not in STRATEGIES:
        raise ValueError(f"unknown conditioning strategy {strategy!r}; expected one of {STRATEGIES}")
    valid = dem != nodata
    working = dem.astype(np.float64, copy=True)
    burned = np.zeros(dem.shape, dtype=bool)
    if strategy == "burn_fill":
        depth = np.zeros(dem.size, dtype=np.float64)
        for line, level in zip(rivers, levels or [0] * len(rivers), strict=True):
            cells = cell_index(grid, dem.shape, densify([line], grid.cell / 2))
            np.maximum.at(depth, cells[cells >= 0], burn_depth_m / 2**level)  # indices, not a grid per river
        depth = np.where(valid, depth.reshape(dem.shape), 0.0)
        burned = depth > 0
        working -= depth
    filled, d8 = pyflwdir.dem.fill_depressions(working, outlets="edge", nodata=nodata)
    raised = (filled - working)[valid]
    return ConditioningResult(
        dem=filled.astype(np.float32),
        d8=d8,
        burned_cells=int(burned.sum()),
        filled_cells=int((raised > 1e-6).sum()),
        max_fill_m=float(raised.max(initial=0.0)),
    )


def condition_with_rivers(
    dem: np.ndarray, nodata: float, grid: Grid, rivers: Any, strategy: str, burn_depth_m: float = 5.0
) -> ConditioningResult:
    """:func:`condition_dem` with the lines and levels of a river layer (a ``GeoFrame`` with
    ``river_id`` and ``receiving``)."""
    import shapely

    lines = [shapely.get_coordinates(line) for line in rivers.geometries()]
    hops = network_levels(dict(zip(rivers.frame["river_id"], rivers.frame["receiving"], strict=True)))
    levels = [hops[river] for river in rivers.frame["river_id"]]
    return condition_dem(dem, nodata, grid, lines, strategy, burn_depth_m, levels)
