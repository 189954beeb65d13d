"""Flow direction (D8, pyflwdir) and flow accumulation (D8 with pyflwdir, D-infinity with WhiteboxTools).

D8 sends each cell's flow to one neighbour: that is what catchment boundaries need (every cell belongs
to exactly one catchment). D-infinity splits flow between two neighbours by slope angle, a more
faithful contributing area on hillslopes for features such as wetness indices; pyflwdir has no
D-infinity, so it comes from whitebox-workflows.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from landing_zone.defs.catchments.rasters import GridArray, grid_array
from shared.rasters.handles import StoredRaster

D8_NODATA = 247
"""pyflwdir's D8 nodata code; 0 marks a pit or outlet, 1..128 the directions E, SE, S, SW, W, NW, N, NE."""

AREA_NODATA = -9999.0


def flow_from_d8(d8: GridArray) -> Any:
    """A stored D8 raster back as a pyflwdir flow-direction object."""
    import pyflwdir

    return pyflwdir.from_array(d8.values, ftype="d8", transform=d8.transform, latlon=False, check_ftype=False)


def d8_upstream_area_km2(flw: Any) -> np.ndarray:
    """Upstream area of every cell in km² (the cell itself included); nodata outside the DEM."""
    area = flw.upstream_area(unit="km2")
    return np.where(flw.mask.reshape(flw.shape), area, AREA_NODATA).astype(np.float32)


def dinf_upstream_area_km2(conditioned: StoredRaster) -> GridArray:
    """D-infinity contributing area in km² of a conditioned DEM, computed by WhiteboxTools.

    WhiteboxTools reads plain GeoTIFF only (it misreads compressed COGs), so it gets an uncompressed
    local copy. The filled DEM still has flat lakes where D-infinity stops: WhiteboxTools' own filling
    of the already-filled DEM only imposes the tiny gradients (Garbrecht and Martz) that drain them.
    """
    import rasterio
    import rasterio.shutil

    # imported by name: whitebox-workflows 2.0.6 ships a stub file with syntax errors that stops mypy
    whitebox_workflows = importlib.import_module("whitebox_workflows")
    with tempfile.TemporaryDirectory(prefix="dinf-") as scratch:
        dem, drained, area = (Path(scratch) / name for name in ("dem.tif", "drained.tif", "area.tif"))
        with rasterio.Env(**conditioned.gdal_options):
            rasterio.shutil.copy(conditioned.gdal_path, str(dem), driver="GTiff")
        flats = {"dem": str(dem), "output": str(drained), "fix_flats": True}
        whitebox_workflows.run_tool_json("fill_depressions", json.dumps(flats))
        accumulate = {"input": str(drained), "output": str(area), "out_type": "ca"}
        whitebox_workflows.run_tool_json("dinf_flow_accum", json.dumps(accumulate))
        with rasterio.open(area) as dataset:
            values = (dataset.read(1, masked=True) / 1e6).filled(AREA_NODATA).astype(np.float32)
            return grid_array(dataset, values, AREA_NODATA, conditioned.uri)
