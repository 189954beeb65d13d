"""The north-up raster grid every catchment computation shares.

Its own module because the readers and writers (:mod:`rasters`), the alignment, conditioning and
delineation all place points on it: none of them should depend on another just to name a grid.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: origin of the north-west corner and cell size."""

    west: float
    north: float
    cell: float
