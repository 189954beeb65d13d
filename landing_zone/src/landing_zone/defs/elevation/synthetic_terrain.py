"""A deterministic synthetic terrain, computed block by block from coordinates alone.

It stands in for the consolidated DTM until the elevation pipeline exists: hills, a valley sloping to
the east with a meandering river channel, so downstream code sees realistic relief. Any block can be
computed independently, so the raster is written without ever holding it whole in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NODATA = -9999.0


@dataclass(frozen=True)
class TerrainGrid:
    """The grid of the synthetic terrain: origin at the north-west corner, square cells."""

    west: float
    north: float
    cell_size: float
    width: int
    height: int
    seed: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return (
            self.west,
            self.north - self.height * self.cell_size,
            self.west + self.width * self.cell_size,
            self.north,
        )


def terrain_block(grid: TerrainGrid, row_off: int, col_off: int, rows: int, cols: int) -> np.ndarray:
    """Elevations (metres, float32) of a block of cells, identical whichever blocks are asked for."""
    rng = np.random.default_rng(grid.seed)
    phases = rng.uniform(0, 2 * np.pi, size=6)
    wavelengths = rng.uniform(900.0, 2600.0, size=6)
    x = grid.west + (col_off + np.arange(cols) + 0.5) * grid.cell_size
    y = grid.north - (row_off + np.arange(rows) + 0.5) * grid.cell_size
    xx, yy = np.meshgrid(x - grid.west, y - (grid.north - grid.height * grid.cell_size))
    hills = sum(
        12.0
        * np.sin(2 * np.pi * xx / wavelengths[i] + phases[i])
        * np.cos(2 * np.pi * yy / wavelengths[-i - 1])
        for i in range(3)
    )
    valley_centre = grid.height * grid.cell_size / 2 + 250.0 * np.sin(2 * np.pi * xx / 3000.0 + phases[3])
    distance = np.abs(yy - valley_centre)
    valley = 25.0 * (1.0 - np.exp(-((distance / 900.0) ** 2)))
    channel = -2.0 * np.exp(-((distance / 6.0) ** 2))
    regional_slope = 180.0 - 0.004 * xx
    return (regional_slope + hills + valley + channel).astype(np.float32)
