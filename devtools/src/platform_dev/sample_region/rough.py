"""The rough sample region: what real terrain has and the small region hides (issue 13).

The small region's rivers are smooth lines on 2 m cells and its outlet channel slopes into the grid edge;
delineation that passes there broke on a real 90 m DEM. This region keeps the generator's terrain (valleys
shaped around rivers, hills, rim, planted sinks) but plants what broke:

- coarse cells: the true DTM on 30 m cells over 12 x 12 km (``RegionSpec.for_size("rough", seed)``);
- an outlet lake: every cell within ``LAKE_RADIUS_M`` of the main river's mouth is set to one water level,
  so the largest basin drains through a flat that touches the east edge along many cells, as a lake or a
  filled flat on a real DEM does;
- rivers on the lattice: the published lines are the DEM's own D8 network (:mod:`lattice_rivers`), every
  vertex on a cell centre, with no offset, as rivers digitised from that DEM would be;
- short tributaries: one of one cell and one of two cells, drawn along the D8 flow into the main river,
  as stubs a digitiser keeps where a side stream joins just below its source.

Only what the catchment chain reads is written (the true DTM, published and true rivers) and what was
planted goes into the truth manifest. Tiles, stations, forecasts and imagery stay with the small region.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.transform import from_origin

from platform_dev.sample_region.lattice_rivers import (
    D8Network,
    LatticeRiver,
    d8_network,
    feature_collection,
    lattice_rivers,
)
from platform_dev.sample_region.spec import CRS, NODATA, RegionSpec
from platform_dev.sample_region.terrain import region_model, surface_block
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

RIVER_AREA_KM2 = 2.0
"""Cells draining at least this much are river cells (about 2200 cells at 30 m): rivers of a few km."""
LAKE_RADIUS_M = 450.0
"""The outlet lake: a half disc on the east edge, 15 cells deep and 30 cells along the edge."""
SHORT_TRIBUTARY_CELLS = (2, 1)
"""Lengths in cells of the planted short tributaries (without their confluence cell)."""
MIN_CONFLUENCE_SPACING = 10
"""Planted confluences keep this many cells (along the main river) from every other confluence, its
source and the lake, so each stub is the only thing happening where it joins."""


def write_rough_sources(spec: RegionSpec, out: Path) -> dict[str, Any]:
    """Write ``truth/dtm.tif`` and the lattice rivers; return the manifest entries of what was planted."""
    dtm, lake = outlet_lake(spec, surface_block(spec, 0, 0, spec.cells, spec.cells).dtm)
    dtm_path = _write_dtm(spec, dtm, out / "truth" / "dtm.tif")
    network = d8_network(dtm_path)
    rivers = lattice_rivers(network, RIVER_AREA_KM2, basins=1)
    stubs = short_tributaries(network, rivers, lake)
    collection = json.dumps(feature_collection(network, rivers + stubs))
    for path in (out / "hydrography" / "rivers.geojson", out / "truth" / "rivers.geojson"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(collection, encoding="utf-8")
    return {
        "elevation": {"dtm": {"true_raster": "truth/dtm.tif"}},
        "rivers": {
            "offset_m": [0.0, 0.0],
            "true_rivers": "truth/rivers.geojson",
            "min_area_km2": RIVER_AREA_KM2,
        },
        "outlet_flat": _lake_entry(dtm, lake),
        "short_tributaries": [_stub_entry(network, stub) for stub in stubs],
        "planted_sinks": [vars(sink) for sink in region_model(spec).sinks],
    }


def outlet_lake(spec: RegionSpec, dtm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The DTM with a flat lake around the main river's mouth, and the lake's mask. Its level is the
    river bed where the river enters it, so the river falls into the lake and the lake spills only at
    the edge: every lake cell on the edge is an equally good outlet of the largest basin."""
    main = region_model(spec).rivers[0]
    x = spec.west + (np.arange(spec.cells) + 0.5) * spec.cell_size
    y = spec.north - (np.arange(spec.cells) + 0.5) * spec.cell_size
    xx, yy = np.meshgrid(x, y)
    lake = np.hypot(xx - main.mouth[0], yy - main.mouth[1]) <= LAKE_RADIUS_M
    entry = int(np.argmax(np.hypot(*(main.points - main.mouth).T) <= LAKE_RADIUS_M))
    flat = dtm.copy()
    flat[lake] = np.float32(main.bed_m[entry])
    return flat, lake


def short_tributaries(network: D8Network, rivers: list[LatticeRiver], lake: np.ndarray) -> list[LatticeRiver]:
    """Stubs of SHORT_TRIBUTARY_CELLS cells joining the main river, each along the D8 flow: its cells are
    side cells (not river cells) draining into the main river, the largest such first."""
    main, taken = rivers[0], {cell for river in rivers for cell in river.cells}
    joins = _joinable(main, rivers, lake.ravel())
    stubs: list[LatticeRiver] = []
    for number, length in enumerate(SHORT_TRIBUTARY_CELLS, start=1):
        stub = _stub(network, main, joins, taken, length)
        stubs.append(LatticeRiver(f"s{number}", main.river_id, stub))
        joins = [j for j in joins if abs(j - main.cells.index(stub[-1])) >= MIN_CONFLUENCE_SPACING]
    return stubs


def _joinable(main: LatticeRiver, rivers: list[LatticeRiver], lake: np.ndarray) -> list[int]:
    """Positions along the main river far enough from its source, the lake and every confluence."""
    blocked = [0] + [main.cells.index(r.cells[-1]) for r in rivers if r.receiving == main.river_id]
    blocked += [i for i, cell in enumerate(main.cells) if lake[cell]]
    return [i for i in range(len(main.cells)) if min(abs(i - b) for b in blocked) >= MIN_CONFLUENCE_SPACING]


def _stub(
    network: D8Network, main: LatticeRiver, joins: list[int], taken: set[int], length: int
) -> list[int]:
    """The best stub of ``length`` cells (plus the confluence): the one whose source drains most."""
    best: list[int] = []
    for position in joins:
        confluence = main.cells[position]
        for source in _upstream_paths(network, confluence, length, taken):
            if not best or network.area_km2[source[0]] > network.area_km2[best[0]]:
                best = [*source, confluence]
    if not best:
        raise ValueError(f"no side cells to plant a {length}-cell tributary on {main.river_id}")
    return best


def _upstream_paths(network: D8Network, cell: int, length: int, taken: set[int]) -> list[list[int]]:
    """Chains of ``length`` non-river cells, each draining into the next and the last into ``cell``."""
    if length == 0:
        return [[]]
    rows, cols = network.shape
    row, col = divmod(cell, cols)
    paths = []
    for neighbour in _neighbours(row, col, rows, cols):
        if neighbour not in taken and int(network.downstream[neighbour]) == cell:
            paths += [[*above, neighbour] for above in _upstream_paths(network, neighbour, length - 1, taken)]
    return paths


def _neighbours(row: int, col: int, rows: int, cols: int) -> list[int]:
    return [
        r * cols + c
        for r in range(row - 1, row + 2)
        for c in range(col - 1, col + 2)
        if (r, c) != (row, col) and 0 <= r < rows and 0 <= c < cols
    ]


def _lake_entry(dtm: np.ndarray, lake: np.ndarray) -> dict[str, Any]:
    rows, cols = np.nonzero(lake)
    return {
        "level_m": float(dtm[lake][0]),
        "edge": "east",
        "cells": np.column_stack([rows, cols]).tolist(),
        "edge_cells": int(np.count_nonzero(lake[:, -1])),
    }


def _stub_entry(network: D8Network, stub: LatticeRiver) -> dict[str, Any]:
    return {
        "river_id": stub.river_id,
        "receiving": stub.receiving,
        "cells": len(stub.cells) - 1,
        "confluence": network.centres(stub.cells[-1:]).round(2).tolist()[0],
        "area_km2": round(float(network.area_km2[stub.cells[-2]]), 4),
    }


def _write_dtm(spec: RegionSpec, dtm: np.ndarray, path: Path) -> Path:
    """The true DTM as a COG, like the other regions' (staging GTiff, then GDAL's COG driver)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    transform = from_origin(spec.west, spec.north, spec.cell_size, spec.cell_size)
    staging = path.with_suffix(".staging.tif")
    profile = tiled_gtiff_profile(spec.cells, spec.cells, "float32", CRS, transform, NODATA)
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(dtm.astype(np.float32), 1)
    copy_to_cog(staging, path)
    staging.unlink()
    return path
