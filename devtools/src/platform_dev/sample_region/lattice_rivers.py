"""River lines on a DEM's own cell lattice, from its D8 network, as a hydrologist derives them.

Rivers digitised from a DEM sit on its cell centres and turn only in 45-degree steps; the smooth lines of
the sample region hide what that breaks. The rough sample region publishes such lines, and the real-DEM
tests derive theirs the same way, so both share this module (pyflwdir: priority-flood, edges as outlets).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from affine import Affine


@dataclass(frozen=True)
class D8Network:
    """A DEM's D8 drainage: per cell (flat row-major index) its downstream cell and upstream area."""

    shape: tuple[int, int]
    downstream: np.ndarray
    area_km2: np.ndarray
    transform: Affine
    crs: str

    def centres(self, cells: list[int]) -> np.ndarray:
        """(x, y) of the cells' centres, one row per cell."""
        rows, cols = np.unravel_index(np.array(cells), self.shape)
        xs, ys = self.transform * (cols + 0.5, rows + 0.5)
        return np.column_stack([xs, ys])


@dataclass(frozen=True)
class LatticeRiver:
    """One river as cells from its source down to its mouth (a tributary ends on its confluence cell)."""

    river_id: str
    receiving: str | None
    cells: list[int]


def d8_network(dem: Path) -> D8Network:
    """pyflwdir's D8 network of the DEM file (priority-flood, every edge cell an outlet)."""
    import pyflwdir
    import rasterio

    with rasterio.open(dem) as dataset:
        flw = pyflwdir.from_dem(
            dataset.read(1), nodata=dataset.nodata, transform=dataset.transform, latlon=False, outlets="edge"
        )
        crs, transform = dataset.crs.to_string(), dataset.transform
    area = flw.upstream_area(unit="km2").ravel()
    return D8Network(flw.shape, np.asarray(flw.idxs_ds), area, transform, crs)


def lattice_rivers(network: D8Network, min_area_km2: float, basins: int = 1) -> list[LatticeRiver]:
    """Every cell draining at least ``min_area_km2`` is a river cell; a river follows the larger upstream
    branch from its mouth to its source, and every other branch starts a tributary that flows into it (its
    line ends on the confluence cell). Only the ``basins`` largest basins are kept."""
    area, downstream = network.area_km2, network.downstream
    river = np.flatnonzero(area >= min_area_km2)
    upstream: dict[int, list[int]] = {}
    for cell in river.tolist():
        target = int(downstream[cell])
        if target != cell:
            upstream.setdefault(target, []).append(cell)
    mouths = [cell for cell in river.tolist() if int(downstream[cell]) == cell]
    mouths = sorted(mouths, key=lambda cell: -area[cell])[:basins]
    rivers: list[LatticeRiver] = []
    pending: list[tuple[int, int | None, str | None]] = [(mouth, None, None) for mouth in mouths]
    while pending:
        mouth, confluence, receiving = pending.pop()
        river_id = f"r{len(rivers) + 1}"
        path, cell = [mouth], mouth
        while upstream.get(cell):
            branches = sorted(upstream[cell], key=lambda c: -area[c])
            pending.extend((branch, cell, river_id) for branch in branches[1:])
            cell = branches[0]
            path.append(cell)
        cells = path[::-1] + ([confluence] if confluence is not None else [])
        if len(cells) >= 2:
            rivers.append(LatticeRiver(river_id, receiving, cells))
    return rivers


def feature_collection(network: D8Network, rivers: list[LatticeRiver]) -> dict[str, Any]:
    """The rivers as the platform reads them: a GeoJSON FeatureCollection of LineStrings with its ``crs``."""
    features = [
        {
            "type": "Feature",
            "properties": {"river_id": river.river_id, "receiving": river.receiving},
            "geometry": {"type": "LineString", "coordinates": network.centres(river.cells).round(2).tolist()},
        }
        for river in rivers
    ]
    return {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": network.crs}},
        "features": features,
    }


def derive_rivers(dem: Path, min_area_km2: float, basins: int = 1) -> dict[str, Any]:
    """:func:`lattice_rivers` of the DEM file as a GeoJSON FeatureCollection."""
    network = d8_network(dem)
    return feature_collection(network, lattice_rivers(network, min_area_km2, basins))
