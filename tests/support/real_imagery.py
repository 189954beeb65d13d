"""A real multispectral scene with its quality band, from a package on the registry.

The scene is Landsat 5 TM over Canberra (Lake Burley Griffin, Australia), acquired 1992-03-23 23:14 UTC
(WRS-2 path 90, row 84), as Geoscience Australia processed it: surface reflectance corrected for
terrain and BRDF (NBAR, the Australian Reflectance Grid ARG25) and its Pixel Quality band (PQ25). A
456 x 404 window of 25 m cells (11.4 x 10.1 km) in GDA94 / MGA zone 55 (EPSG:28355) ships as test data in
the source distribution of ``datacube`` 1.9.20 (Open Data Cube, Apache-2.0; GA's Landsat products are
published under CC BY 4.0). Its wheel has no data, so the sdist (2.4 MB) is fetched with pip, checked
against its SHA-256, and the three rasters the NDVI needs are extracted once into
``.data/real-data/datacube-1.9.20/``, each checked against its own SHA-256:

- ``red``: NBAR band 3 (0.63-0.69 um), int16 reflectance x 10000, nodata -999.
- ``nir``: NBAR band 4 (0.76-0.90 um), int16 reflectance x 10000, nodata -999.
- ``quality``: PQ25, uint16 bitmask on the same grid where a SET bit means the test PASSED (the opposite
  of Landsat QA_PIXEL): bits 0-7 band 1-7 not saturated, 8 band contiguity, 9 land (not sea), 10 no
  cloud (ACCA), 11 no cloud (Fmask), 12 no cloud shadow (ACCA), 13 no cloud shadow (Fmask), 14-15 not run.

What it holds, real data with its flaws: a no-data wedge along the southern edge (6 % of the window),
whose contiguity bit is cleared, as it is over a strip of about 1 km beside it where red and NIR hold
values but another band has none (8 % more); about 0.4 % flagged cloudy (mostly ACCA false alarms on
bright roofs, a few Fmask clouds); a lake (NDVI near -0.1), suburbs, grassland and the wooded nature
reserves (NDVI 0.5-0.7). Only one acquisition ships, so a composite of it is that scene, masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.sdist_data import Sdist

DATACUBE = Sdist("datacube", "1.9.20", "d8412863922c12912c25cb70449fcabc21d836e92ba048e0c6fa8704b902ab99")
_SCENE = "LS5_TM_NBAR_P54_GANBAR01-002_090_084_19920323"
_QUALITY = "LS5_TM_PQ_P55_GAPQ01-002_090_084_19920323"
_FOLDER = "datacube-1.9.20/tests/data/lbg"
MEMBERS = {
    "red": (
        f"{_FOLDER}/{_SCENE}/scene01/{_SCENE}_B30.tif",
        "998f9cfb5556714c8f2ce7708c4f7449f6a927f17c1d71740885f2d6489dc262",
    ),
    "nir": (
        f"{_FOLDER}/{_SCENE}/scene01/{_SCENE}_B40.tif",
        "7484e28416717f91d28d4946684afcb7fb71597dadb6e5d6ac20948745fb9c53",
    ),
    "quality": (
        f"{_FOLDER}/{_QUALITY}/scene01/{_QUALITY}_1111111111111100.tif",
        "0e19beb7c973c1f45536b1ed22cb7c8ef98e50d9c1716ae42c0633af80437994",
    ),
}
CRS = "EPSG:28355"
CELL_M = 25.0
REFLECTANCE_SCALE = 1e-4
PQ_PASS_BITS = frozenset({2, 3, 8, 10, 11, 12, 13})
"""The PQ25 tests an NDVI observation must pass: red (band 3) and NIR (band 4) not saturated, contiguous,
no cloud and no cloud shadow by either ACCA or Fmask. Land/sea (bit 9) is left out: water is a valid
observation, as in Sentinel-2's scene classification."""
LAKE_BURLEY_GRIFFIN = (149.1245, -35.2930)
"""Longitude, latitude (WGS84) in the lake's Central Basin: open water, NDVI below 0."""
MOUNT_AINSLIE = (149.1600, -35.2710)
"""Longitude, latitude (WGS84) on the wooded Mount Ainslie nature reserve: NDVI well above 0.4."""


@dataclass(frozen=True)
class RealScene:
    """Local paths of the scene's rasters, which GDAL opens directly."""

    item_id: str
    red: Path
    nir: Path
    quality: Path


def real_scene() -> RealScene:
    """The Canberra scene, fetched and verified on first use."""
    paths = {band: DATACUBE.member(member, digest) for band, (member, digest) in MEMBERS.items()}
    return RealScene(item_id="LS5_TM_090084_19920323", **paths)
