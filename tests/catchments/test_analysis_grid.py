"""The analysis grid on real data: a DEM in geographic coordinates comes out on the region's metric grid,
at the cell size the region asks for, with the terrain where the projected original has it; a region CRS
that is not projected in metres, or a DEM without a CRS, is refused with a message saying what to change.
"""

from pathlib import Path

import numpy as np
import pytest
import rasterio

from landing_zone.defs.catchments.rasters import DEM_NODATA, lattice_shift_cells, resample_dem
from shared.rasters.handles import StoredRaster
from tests.support.real_dem import UTM_CRS, real_dem, window_of

WINDOW = (680000.0, 4900000.0, 710000.0, 4930000.0)
WINDOW_90 = (679950.0, 4899960.0, 710010.0, 4930020.0)
"""The window snapped outward to multiples of 90 m, as the analysis grid snaps it."""


def stored(path: Path) -> StoredRaster:
    return StoredRaster(str(path), str(path))


def geographic_window(tmp_path: Path) -> Path:
    """The geographic tile cropped (in degrees, native cells) to a little more than the UTM window."""
    return window_of(real_dem("geographic"), tmp_path / "geo.tif", (5.2, 44.15, 5.75, 44.55), crs="EPSG:4326")


@pytest.mark.parametrize("resolution_m", [90.0, 30.0])
def test_a_geographic_dem_is_reprojected_onto_the_metric_grid(tmp_path, resolution_m):
    cog = resample_dem(stored(geographic_window(tmp_path)), UTM_CRS, resolution_m, 64, "region test")
    with rasterio.open(cog) as grid:
        assert grid.crs == UTM_CRS and grid.res == (resolution_m, resolution_m)
        assert grid.transform.c % resolution_m == 0 and grid.transform.f % resolution_m == 0
        assert 35_000 < grid.bounds.right - grid.bounds.left < 50_000  # metres, not 0.5 degrees
        window = grid.window(*WINDOW)
        ours = grid.read(1, window=window)
    # the same terrain as the projected original, cell by cell (SRTM 3" is about 90 x 65 m here)
    reference = window_of(real_dem("utm"), tmp_path / "utm.tif", WINDOW, resolution_m)
    with rasterio.open(reference) as utm:
        expected = utm.read(1)
    both = (ours != DEM_NODATA) & (expected != -9999.0)
    assert both.mean() > 0.95
    difference = ours[both] - expected[both]
    assert abs(np.median(difference)) < 2.0 and np.median(np.abs(difference)) < 10.0
    assert np.corrcoef(ours[both], expected[both])[0, 1] > 0.99
    # in place: shifting by one cell in any direction only makes the match worse
    assert best_shift(ours, expected) == (0, 0)


def best_shift(ours: np.ndarray, expected: np.ndarray) -> tuple[int, int]:
    """The one-cell shift (rows, columns) of ``ours`` that best matches ``expected`` (median |difference|)."""
    inner = expected[1:-1, 1:-1]
    errors = {}
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            shifted = ours[1 + dy : ours.shape[0] - 1 + dy, 1 + dx : ours.shape[1] - 1 + dx]
            both = (shifted != DEM_NODATA) & (inner != -9999.0)
            errors[dy, dx] = float(np.median(np.abs(shifted[both] - inner[both])))
    return min(errors, key=errors.__getitem__)


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:2263"])  # degrees; US survey feet
def test_a_region_crs_not_projected_in_metres_is_refused(tmp_path, crs):
    dem = window_of(real_dem("utm"), tmp_path / "utm.tif", WINDOW)
    with pytest.raises(ValueError, match=r"region 'alps'.*not projected in metres.*UTM zone"):
        resample_dem(stored(dem), crs, 90.0, 64, "region 'alps'")


def test_a_dem_without_a_crs_is_refused_naming_the_file(tmp_path):
    dem = window_of(real_dem("utm"), tmp_path / "utm.tif", WINDOW)
    bare = tmp_path / "no-crs.tif"
    with rasterio.open(dem) as source:
        profile = source.profile | {"crs": None}
        with rasterio.open(bare, "w", **profile) as target:
            target.write(source.read())
    with pytest.raises(ValueError, match=r"no-crs\.tif: the DEM has no CRS"):
        resample_dem(stored(bare), UTM_CRS, 90.0, 64)


def test_a_projected_dem_is_averaged_onto_a_coarser_snapped_grid(tmp_path):
    dem = window_of(real_dem("utm"), tmp_path / "utm.tif", WINDOW_90, 30.0)
    cog = resample_dem(stored(dem), UTM_CRS, 90.0, 64)
    with rasterio.open(dem) as fine, rasterio.open(cog) as coarse:
        assert coarse.res == (90.0, 90.0) and coarse.crs == UTM_CRS
        assert tuple(coarse.bounds) == pytest.approx(WINDOW_90)
        values = fine.read(1, masked=True)
        means = values.reshape(coarse.height, 3, coarse.width, 3).mean(axis=(1, 3))
        full = ~np.ma.getmaskarray(values).reshape(coarse.height, 3, coarse.width, 3).any(axis=(1, 3))
        assert np.allclose(coarse.read(1)[full], means[full], atol=1e-3)
        assert coarse.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"


@pytest.mark.parametrize(
    ("origin", "resolution_m", "shift"),
    [
        ((679950.0, 4930020.0), 90.0, None),
        ((560000.0, 360000.0), 4.0, None),
        ((680000.0, 4930000.0), 90.0, (0.556, 0.778)),
        ((560000.0, 360000.0), 30.0, (0.667, 0.0)),
    ],
)
def test_a_dtm_off_the_analysis_lattice_is_measured_in_cells(origin, resolution_m, shift):
    assert lattice_shift_cells(*origin, resolution_m) == shift
