"""Per-tile statistics of a stored raster, computed one window at a time."""

from __future__ import annotations

import math

import numpy as np
from rasterio.windows import from_bounds

from landing_zone.defs.elevation.demo_assets import TileStatistics
from shared.rasters.handles import StoredRaster


def statistics_per_tile(raster: StoredRaster, tile_size_m: float) -> list[TileStatistics]:
    """Split the raster's extent into square tiles and summarise the valid cells of each."""
    rows = []
    with raster.open() as dataset:
        west, south, east, north = dataset.bounds
        for row in range(math.ceil((north - south) / tile_size_m)):
            for col in range(math.ceil((east - west) / tile_size_m)):
                tile_west, tile_north = west + col * tile_size_m, north - row * tile_size_m
                tile_east = min(tile_west + tile_size_m, east)
                tile_south = max(tile_north - tile_size_m, south)
                window = from_bounds(tile_west, tile_south, tile_east, tile_north, dataset.transform)
                values = dataset.read(1, window=window.round_offsets().round_lengths(), masked=True)
                valid = values.compressed()
                if valid.size == 0:
                    continue
                rows.append(
                    TileStatistics(
                        tile_id=f"r{row:03d}c{col:03d}",
                        west=tile_west,
                        south=tile_south,
                        valid_cells=int(valid.size),
                        min_m=float(np.min(valid)),
                        max_m=float(np.max(valid)),
                        mean_m=float(np.mean(valid)),
                    )
                )
    return rows
