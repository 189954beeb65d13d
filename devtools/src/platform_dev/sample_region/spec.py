"""The sample region's extent, resolution and time span: one place every generator module reads.

Three sizes: ``small`` (6 x 6 km, the demo and the tests) and ``bench`` (40 x 40 km, the benchmarks) on 2 m
cells, and ``rough`` (12 x 12 km on 30 m cells, see :mod:`rough`). Rough is a size, not a ``--rough`` flag
on the others: coarse cells are one of the things it plants, so it fixes its own extent, cell size and
name (a second region beside ``pilica``), and a flag on ``small`` or ``bench`` would contradict their 2 m
cells; as a separate size it leaves their code path, and so their files, untouched.
Coordinates are EPSG:2180 (Poland CS92) easting/northing in metres, as national elevation data is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Size = Literal["small", "bench", "rough"]

CRS = "EPSG:2180"
NODATA = -9999.0


@dataclass(frozen=True)
class RegionSpec:
    """Extent and resolution of a sample region; all lengths in metres."""

    name: str
    size: Size
    seed: int
    west: float
    south: float
    extent_m: float
    cell_size: float = 2.0
    tile_size_m: float = 1000.0
    sheet_tiles: int = 2
    start: dt.date = dt.date(2018, 1, 1)
    days: int = 6 * 365 + 1

    @classmethod
    def for_size(cls, size: Size, seed: int) -> RegionSpec:
        """The named size; the region sits in central Poland (the Pilica basin's latitude). The rough one
        has its own name and place, so both can be regions of one regions file, and its origin on
        multiples of its cell: the analysis grid snaps to multiples of the analysis cell, so at 30 m
        delineation runs on the very lattice its rivers were derived on."""
        if size == "rough":
            return cls(
                name="rough",
                size=size,
                seed=seed,
                west=570_000.0,
                south=390_000.0,
                extent_m=12_000.0,
                cell_size=30.0,
            )
        extent = {"small": 6_000.0, "bench": 40_000.0}[size]
        return cls(name="pilica", size=size, seed=seed, west=560_000.0, south=360_000.0, extent_m=extent)

    @property
    def east(self) -> float:
        return self.west + self.extent_m

    @property
    def north(self) -> float:
        return self.south + self.extent_m

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (self.west, self.south, self.east, self.north)

    @property
    def cells(self) -> int:
        """Cells along one side."""
        return round(self.extent_m / self.cell_size)

    @property
    def tiles(self) -> int:
        """1 km tiles along one side."""
        return round(self.extent_m / self.tile_size_m)

    @property
    def tile_cells(self) -> int:
        return round(self.tile_size_m / self.cell_size)

    @property
    def end(self) -> dt.date:
        """The last day of the observation record."""
        return self.start + dt.timedelta(days=self.days - 1)
