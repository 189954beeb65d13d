"""NDVI composites of a real Landsat 5 scene (Canberra, 1992) masked by its real quality band.

The synthetic scenes of the sample region prove the composite against a known truth; this proves it on
what real imagery brings: a quality bitmask of the opposite polarity to Landsat QA_PIXEL (a set bit is a
passed test), a no-data wedge, a strip where red and NIR hold values the quality band rejects, ACCA
false alarms on bright roofs, and land cover whose NDVI is known without the composite (a lake, wooded
hills). It runs on the scene's own 25 m grid, where the composite must be the scene's NDVI exactly where
the quality band is clear, and on a 75 m grid in another projected CRS (GDA94 / Australian Albers,
rotated by the meridian convergence against the scene's MGA zone 55), where every cell must hold the
NDVI of the source pixel its centre falls in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform, transform_bounds

from landing_zone.defs.satellite.compositing import (
    NODATA,
    CompositeSummary,
    MaskRule,
    SceneBands,
    TargetGrid,
    composite_ndvi,
    region_grid,
)
from tests.support.real_imagery import (
    CELL_M,
    CRS,
    LAKE_BURLEY_GRIFFIN,
    MOUNT_AINSLIE,
    PQ_PASS_BITS,
    REFLECTANCE_SCALE,
    RealScene,
    real_scene,
)

PQ_RULE = MaskRule("bits", pass_bits=PQ_PASS_BITS)
ALBERS = "EPSG:3577"
COARSE_FACTOR = 3
EDGE_SLACK_M = 0.001
"""A coarse cell centre this close to a source cell's edge may fall either side of it: the composite maps
cell centres by bilinear interpolation between points projected exactly every
``compositing.LATTICE_SPAN_M`` of ground (two 75 m cells here), off by up to 0.14 mm on this grid."""
MEAN_TOLERANCE = 0.02
"""NDVI: the 75 m grid samples one source pixel in nine, so its mean drifts by sampling alone (the
scene's NDVI has a standard deviation near 0.2)."""


@dataclass(frozen=True)
class Source:
    """The scene's bands as read directly, with the clear-sky flag the quality band gives."""

    red: np.ndarray
    nir: np.ndarray
    clear: np.ndarray
    contiguous: np.ndarray
    nodata: np.ndarray
    grid: TargetGrid

    @property
    def ndvi(self) -> np.ndarray:
        red, nir = self.red.astype(np.float64), self.nir.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (nir - red) / (nir + red)


@dataclass(frozen=True)
class Composite:
    summary: CompositeSummary
    ndvi: np.ndarray
    count: np.ndarray
    grid: TargetGrid


@pytest.fixture(scope="module")
def scene() -> RealScene:
    return real_scene()


@pytest.fixture(scope="module")
def source(scene: RealScene) -> Source:
    with rasterio.open(scene.red) as red, rasterio.open(scene.nir) as nir, rasterio.open(scene.quality) as pq:
        grid = TargetGrid(str(red.crs), tuple(red.transform)[:6], red.width, red.height)
        red_values, nir_values, quality = red.read(1), nir.read(1), pq.read(1)
        nodata = (red_values == red.nodata) | (nir_values == nir.nodata)
    required = sum(1 << bit for bit in PQ_PASS_BITS)
    return Source(
        red=red_values,
        nir=nir_values,
        clear=((quality & required) == required) & ~nodata,
        contiguous=(quality & (1 << 8)) != 0,
        nodata=nodata,
        grid=grid,
    )


def _composite(scene: RealScene, grid: TargetGrid, destination: Path) -> Composite:
    bands = SceneBands(scene.item_id, str(scene.red), str(scene.nir), str(scene.quality))
    summary = composite_ndvi([bands], grid, destination, PQ_RULE, reflectance_scale=REFLECTANCE_SCALE)
    assert not summary.skipped
    with rasterio.open(destination) as dataset:
        assert dataset.crs == grid.crs
        assert tuple(dataset.transform)[:6] == pytest.approx(grid.transform)
        ndvi, count = dataset.read(1), dataset.read(2)
    return Composite(summary, ndvi, count, grid)


@pytest.fixture(scope="module")
def native(scene: RealScene, source: Source, tmp_path_factory: pytest.TempPathFactory) -> Composite:
    return _composite(scene, source.grid, tmp_path_factory.mktemp("real-native") / "ndvi.tif")


@pytest.fixture(scope="module")
def coarse(scene: RealScene, source: Source, tmp_path_factory: pytest.TempPathFactory) -> Composite:
    west, north = source.grid.transform[2], source.grid.transform[5]
    east, south = west + source.grid.width * CELL_M, north - source.grid.height * CELL_M
    bounds = transform_bounds(CRS, ALBERS, west, south, east, north, densify_pts=21)
    grid = region_grid(bounds, ALBERS, COARSE_FACTOR * CELL_M)
    return _composite(scene, grid, tmp_path_factory.mktemp("real-coarse") / "ndvi.tif")


def test_the_scene_has_the_flaws_the_test_relies_on(source: Source) -> None:
    """Without masked pixels of every kind the mask assertions below would prove nothing."""
    assert source.nodata.sum() > 10_000
    assert (~source.contiguous & ~source.nodata).sum() > 10_000
    assert (~source.clear & source.contiguous & ~source.nodata).sum() > 500


def test_native_composite_is_the_scene_ndvi_exactly_where_the_quality_band_is_clear(
    scene: RealScene, source: Source, native: Composite
) -> None:
    clear = source.clear
    np.testing.assert_array_equal(native.count, clear.astype(np.float32))
    assert (native.ndvi[~clear] == NODATA).all()
    np.testing.assert_allclose(native.ndvi[clear], source.ndvi[clear], rtol=0, atol=1e-6)
    # Red and NIR hold values beside the no-data wedge, yet the quality band rejects them.
    rejected = ~source.contiguous & ~source.nodata
    assert (native.count[rejected] == 0).all()
    assert native.summary.valid_pixels == native.summary.observations[scene.item_id] == clear.sum()
    assert native.summary.valid_fraction == pytest.approx(clear.mean())
    assert native.summary.ndvi_mean == pytest.approx(float(source.ndvi[clear].mean()), abs=1e-6)


def test_native_ndvi_is_in_range_and_plausible_for_the_land_cover(native: Composite) -> None:
    valid = native.ndvi[native.count > 0]
    assert valid.min() >= -1.0 and valid.max() <= 1.0
    assert native.summary.ndvi_min == pytest.approx(float(valid.min()))
    assert native.summary.ndvi_max == pytest.approx(float(valid.max()))
    assert _probe(native, LAKE_BURLEY_GRIFFIN) < 0.0
    assert _probe(native, MOUNT_AINSLIE) > 0.4
    # Lake Burley Griffin covers 6.6 km2, its western arm partly beyond the window; ponds and the river
    # add a little: open water (NDVI < 0) must come to a few square kilometres, no more.
    water_km2 = np.count_nonzero(valid < 0) * CELL_M**2 / 1e6
    assert 3.0 < water_km2 < 7.0


def test_coarse_composite_in_another_crs_takes_each_cells_source_pixel(
    source: Source, coarse: Composite
) -> None:
    """Every 75 m Albers cell holds the NDVI of the 25 m MGA pixel its centre falls in, or nothing where
    that pixel is masked or outside the scene."""
    grid = coarse.grid
    cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
    affine = grid.affine
    xs, ys = affine * (cols.ravel(), rows.ravel())
    source_x, source_y = transform(grid.crs, CRS, xs, ys)
    col, row = ~source.grid.affine * (np.asarray(source_x), np.asarray(source_y))
    fraction = np.minimum(np.abs(col - np.round(col)), np.abs(row - np.round(row)))
    decided = fraction > EDGE_SLACK_M / CELL_M
    inside = (col >= 0) & (col < source.grid.width) & (row >= 0) & (row < source.grid.height)
    expected_clear = np.zeros(col.shape, bool)
    expected_ndvi = np.full(col.shape, np.nan)
    cells = np.floor(row[inside]).astype(int), np.floor(col[inside]).astype(int)
    expected_clear[inside] = source.clear[cells]
    expected_ndvi[inside] = source.ndvi[cells]
    count, ndvi = coarse.count.ravel(), coarse.ndvi.ravel()
    assert decided.mean() > 0.99
    np.testing.assert_array_equal(count[decided], expected_clear[decided].astype(np.float32))
    hit = decided & expected_clear
    np.testing.assert_allclose(ndvi[hit], expected_ndvi[hit], rtol=0, atol=1e-6)
    assert (ndvi[count == 0] == NODATA).all()


def test_coarse_composite_agrees_with_the_native_one(native: Composite, coarse: Composite) -> None:
    valid = coarse.ndvi[coarse.count > 0]
    assert valid.min() >= -1.0 and valid.max() <= 1.0
    assert coarse.summary.valid_pixels == valid.size
    assert native.summary.valid_pixels / 12 < valid.size < native.summary.valid_pixels / 6
    assert coarse.summary.ndvi_mean == pytest.approx(native.summary.ndvi_mean, abs=MEAN_TOLERANCE)
    assert _probe(coarse, LAKE_BURLEY_GRIFFIN) < 0.0
    assert _probe(coarse, MOUNT_AINSLIE) > 0.4


def _probe(composite: Composite, lon_lat: tuple[float, float]) -> float:
    """Median composite NDVI of the 3 x 3 cells around a WGS84 point."""
    xs, ys = transform("EPSG:4326", composite.grid.crs, [lon_lat[0]], [lon_lat[1]])
    col, row = ~composite.grid.affine * (xs[0], ys[0])
    window = np.s_[int(row) - 1 : int(row) + 2, int(col) - 1 : int(col) + 2]
    values = composite.ndvi[window][composite.count[window] > 0]
    assert values.size, f"no clear observation around {lon_lat}"
    return float(np.median(values))
