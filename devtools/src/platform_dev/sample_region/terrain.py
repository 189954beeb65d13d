"""The true terrain (DTM), surface (DSM) and land cover of the sample region, block by block.

The terrain is shaped around the river network: each river contributes a valley (a nearly flat
floodplain, then walls rising away from it) above its bed, and the terrain is the lowest of those
surfaces, so water runs to the nearest river and down it. On top: gentle hills away from the rivers, a
rim that closes the basin except at the outlet, a few planted closed depressions (spurious sinks), and
a channel burned along every river with banks sloping into it.

Valleys come from a coarse grid (distance transforms there are cheap) interpolated to the 2 m cells;
the channel and banks are computed exactly per block. Any block can be computed independently, so the
bench region (20000 x 20000 cells) is produced without holding it in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from platform_dev.sample_region.rivers import River, river_network
from platform_dev.sample_region.spec import RegionSpec

WATER, CROPLAND, GRASSLAND, FOREST, BUILT = 0, 1, 2, 3, 4
CHANNEL_DEPTH_M = 1.5
BANK_WIDTH_M = 32.0
BANK_DROP_M = 0.5
FLOODPLAIN_SLOPE = 0.002
HILL_AMPLITUDE_M = 4.0
RIM_HEIGHT_M = 12.0
RIM_WIDTH_M = 600.0


@dataclass(frozen=True)
class SurfaceBlock:
    """One block of the region: terrain, surface with buildings and trees, land cover classes."""

    dtm: np.ndarray
    dsm: np.ndarray
    land_cover: np.ndarray


@dataclass(frozen=True)
class Feature:
    """A planted disc: a sink (depth) or a village (radius only)."""

    x: float
    y: float
    radius_m: float
    depth_m: float = 0.0


@dataclass(frozen=True)
class RegionModel:
    """Everything the block functions need, computed once per region."""

    spec: RegionSpec
    rivers: list[River]
    coarse_cell: float
    valley_base: np.ndarray
    beyond_floodplain: np.ndarray
    river_distance: np.ndarray
    sinks: tuple[Feature, ...]
    villages: tuple[Feature, ...]
    phases: np.ndarray


@lru_cache(maxsize=4)
def region_model(spec: RegionSpec) -> RegionModel:
    """Rivers, coarse valley fields and planted features of a region (cached: every block needs them)."""
    rivers = river_network(spec)
    coarse_cell = 10.0 if spec.extent_m <= 10_000 else 20.0
    base, beyond, distance = _coarse_valleys(spec, rivers, coarse_cell)
    rng = np.random.default_rng([spec.seed, 3])
    phases = rng.uniform(0, 2 * np.pi, size=12)
    partial = RegionModel(spec, rivers, coarse_cell, base, beyond, distance, (), (), phases)
    scale = spec.extent_m / 6000
    sinks = _place(
        partial, rng, count=round(4 * scale**2) or 1, min_beyond=250.0, radius=(10.0, 20.0), depth=2.0
    )
    villages = _place(partial, rng, count=round(2 * scale**2) or 1, min_beyond=80.0, radius=(150.0, 250.0))
    return RegionModel(spec, rivers, coarse_cell, base, beyond, distance, sinks, villages, phases)


def surface_block(spec: RegionSpec, row_off: int, col_off: int, rows: int, cols: int) -> SurfaceBlock:
    """DTM, DSM (float32 metres) and land cover of a block of 2 m cells (rows from the north)."""
    model = region_model(spec)
    x, y = _cell_centres(spec, row_off, col_off, rows, cols)
    dtm = _terrain(model, x, y)
    distance, bed = _channel_distance(model, row_off, col_off, rows, cols)
    near = distance < BANK_WIDTH_M
    dtm[near] -= BANK_DROP_M * (1.0 - distance[near] / BANK_WIDTH_M)
    channel = np.isfinite(bed) & (distance == 0)
    dtm[channel] = bed[channel]
    cover = _land_cover(model, x, y)
    cover[channel] = WATER
    dsm = dtm + _objects_height(model, x, y, cover)
    return SurfaceBlock(dtm.astype(np.float32), dsm.astype(np.float32), cover)


def land_cover(spec: RegionSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Land cover classes at any points (rivers from the coarse grid: fine for 10 m imagery)."""
    model = region_model(spec)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    cover = _land_cover(model, x, y)
    cover[_sample(model, model.river_distance, x, y) < 6.0] = WATER
    return cover


def elevation(spec: RegionSpec, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Terrain elevation at points away from channels (stations, forecast orography)."""
    model = region_model(spec)
    return _terrain(model, np.asarray(x, dtype=float), np.asarray(y, dtype=float))


def _cell_centres(
    spec: RegionSpec, row_off: int, col_off: int, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    x = spec.west + (col_off + np.arange(cols) + 0.5) * spec.cell_size
    y = spec.north - (row_off + np.arange(rows) + 0.5) * spec.cell_size
    return np.meshgrid(x, y)


def _terrain(model: RegionModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Valleys + hills + rim + sinks, without the channel (which needs the exact cell grid)."""
    beyond = _sample(model, model.beyond_floodplain, x, y)
    hills = HILL_AMPLITUDE_M * _smoothstep(beyond / 400.0) * _hills(model.phases, x, y)
    z = _sample(model, model.valley_base, x, y) + hills + _rim(model, x, y)
    for sink in model.sinks:
        r2 = ((x - sink.x) ** 2 + (y - sink.y) ** 2) / sink.radius_m**2
        z -= sink.depth_m * np.clip(1.0 - r2, 0.0, None)
    return z


def _valley(distance: np.ndarray, river: River) -> np.ndarray:
    """Height above the river's reference level at a distance from it: floodplain, then walls."""
    beyond = np.clip(distance - river.floodplain_m, 0.0, None)
    return (
        FLOODPLAIN_SLOPE * np.minimum(distance, river.floodplain_m)
        + river.wall_height_m * (1.0 - np.exp(-beyond / 700.0))
        + 0.004 * beyond
    )


def _coarse_valleys(
    spec: RegionSpec, rivers: list[River], cell: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """On a node grid (south-up, spacing ``cell``): lowest valley surface, distance beyond the
    floodplain of the river that gives it, and distance to the nearest river."""
    nodes = round(spec.extent_m / cell) + 1
    base = np.full((nodes, nodes), np.inf)
    beyond = np.zeros((nodes, nodes))
    nearest = np.full((nodes, nodes), np.inf)
    for river in rivers:
        rows = np.clip(np.round((river.points[:, 1] - spec.south) / cell).astype(int), 0, nodes - 1)
        cols = np.clip(np.round((river.points[:, 0] - spec.west) / cell).astype(int), 0, nodes - 1)
        reference = np.full((nodes, nodes), np.inf)
        np.minimum.at(reference, (rows, cols), river.bed_m + CHANNEL_DEPTH_M)
        distance_cells, (near_rows, near_cols) = ndimage.distance_transform_edt(
            ~np.isfinite(reference), return_indices=True
        )
        distance = distance_cells * cell
        cost = reference[near_rows, near_cols] + _valley(distance, river)
        better = cost < base
        base[better] = cost[better]
        beyond[better] = np.clip(distance - river.floodplain_m, 0.0, None)[better]
        nearest = np.minimum(nearest, distance)
    # Smoothing removes the steps where the nearest river vertex jumps (across a bend, between rivers).
    smooth = 30.0 / cell
    return ndimage.gaussian_filter(base, smooth), ndimage.gaussian_filter(beyond, smooth), nearest


def _sample(model: RegionModel, grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear value of a coarse node grid at points."""
    spec = model.spec
    coordinates = np.stack(
        [((y - spec.south) / model.coarse_cell).ravel(), ((x - spec.west) / model.coarse_cell).ravel()]
    )
    values = ndimage.map_coordinates(grid, coordinates, order=1, mode="nearest")
    return values.reshape(np.shape(x))


def _hills(phases: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Smooth rolling relief in -1..1 with wavelengths of 1.5-3 km."""
    return (
        np.sin(2 * np.pi * x / 2300.0 + phases[0]) * np.cos(2 * np.pi * y / 1900.0 + phases[1])
        + 0.6 * np.sin(2 * np.pi * (x + y) / 3100.0 + phases[2])
        + 0.4 * np.cos(2 * np.pi * (x - 0.5 * y) / 1500.0 + phases[3])
    ) / 2.0


def _rim(model: RegionModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Raised ground along the region's edges so the basin closes inside it, open at the outlet."""
    spec = model.spec
    to_edge = np.minimum.reduce([x - spec.west, spec.east - x, y - spec.south, spec.north - y])
    outlet = model.rivers[0].mouth
    to_outlet = np.hypot(x - outlet[0], y - outlet[1])
    return RIM_HEIGHT_M * (1.0 - _smoothstep(to_edge / RIM_WIDTH_M)) * _smoothstep(to_outlet / 1200.0)


def _channel_distance(
    model: RegionModel, row_off: int, col_off: int, rows: int, cols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Exact distance (m) from each cell of the block to the nearest channel cell, and the bed
    elevation where the cell is a channel cell (NaN elsewhere). A halo brings in nearby channels."""
    spec = model.spec
    halo = int(BANK_WIDTH_M / spec.cell_size) + 1
    height, width = rows + 2 * halo, cols + 2 * halo
    bed = np.full((height, width), np.inf)
    for river in model.rivers:
        col = np.floor((river.points[:, 0] - spec.west) / spec.cell_size).astype(int) - col_off + halo
        row = np.floor((spec.north - river.points[:, 1]) / spec.cell_size).astype(int) - row_off + halo
        inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
        np.minimum.at(bed, (row[inside], col[inside]), river.bed_m[inside])
    channel = np.isfinite(bed)
    if not channel.any():
        return np.full((rows, cols), np.inf), np.full((rows, cols), np.nan)
    distance = ndimage.distance_transform_edt(~channel) * spec.cell_size
    core = (slice(halo, halo + rows), slice(halo, halo + cols))
    return distance[core], np.where(channel, bed, np.nan)[core]


def _land_cover(model: RegionModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    beyond = _sample(model, model.beyond_floodplain, x, y)
    woods = np.sin(2 * np.pi * x / 1700.0 + model.phases[4]) * np.cos(
        2 * np.pi * y / 1300.0 + model.phases[5]
    )
    cover = np.full(np.shape(x), CROPLAND, dtype=np.uint8)
    cover[beyond <= 0] = GRASSLAND
    cover[(woods > 0.45) & (beyond > 100)] = FOREST
    for village in model.villages:
        cover[np.hypot(x - village.x, y - village.y) < village.radius_m] = BUILT
    return cover


def _objects_height(model: RegionModel, x: np.ndarray, y: np.ndarray, cover: np.ndarray) -> np.ndarray:
    """Buildings on a 30 m lattice in villages, a canopy with gaps in forests."""
    lot_x, lot_y = np.floor(x / 30.0), np.floor(y / 30.0)
    house = (x - lot_x * 30.0 < 12.0) & (y - lot_y * 30.0 < 10.0)
    house_height = 6.0 + 6.0 * _hash01(lot_x, lot_y, model.spec.seed)
    canopy = 16.0 + 5.0 * np.sin(x / 7.0 + model.phases[6]) * np.cos(y / 9.0 + model.phases[7])
    gaps = np.sin(x / 23.0 + model.phases[8]) * np.sin(y / 19.0 + model.phases[9]) > 0.85
    height = np.zeros(np.shape(x))
    height[(cover == BUILT) & house] = house_height[(cover == BUILT) & house]
    trees = (cover == FOREST) & ~gaps
    height[trees] = canopy[trees]
    return height


def _place(
    model: RegionModel,
    rng: np.random.Generator,
    count: int,
    min_beyond: float,
    radius: tuple[float, float],
    depth: float = 0.0,
) -> tuple[Feature, ...]:
    """Random discs at least ``min_beyond`` outside every floodplain and away from the rim."""
    spec = model.spec
    placed: list[Feature] = []
    margin = RIM_WIDTH_M + radius[1]
    while len(placed) < count:
        x = rng.uniform(spec.west + margin, spec.east - margin, size=64)
        y = rng.uniform(spec.south + margin, spec.north - margin, size=64)
        good = _sample(model, model.beyond_floodplain, x, y) > min_beyond + radius[1]
        placed += [
            Feature(float(a), float(b), float(rng.uniform(*radius)), depth)
            for a, b in zip(x[good], y[good], strict=True)
        ]
    return tuple(placed[:count])


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _hash01(a: np.ndarray, b: np.ndarray, seed: int) -> np.ndarray:
    """A deterministic pseudo-random value in 0..1 per integer lattice point."""
    value = np.sin(a * 12.9898 + b * 78.233 + seed * 0.1) * 43758.5453
    return value - np.floor(value)
