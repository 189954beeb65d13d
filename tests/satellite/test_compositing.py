"""NDVI composites of the sample region's scenes against the generator's truth: the noise-free NDVI where a
clear observation exists, and the planted clouds, which must never enter.

A composite cell holds the scene pixel that contains its centre (nearest-neighbour resampling), up to
7 m from the centre on a 10 m grid. The truth is therefore taken where that pixel's values were drawn:
at its centre, found here on our own with pyproj. At the cell centre itself, land-cover edges and cloud
edges that pass between the two points would read as errors that the compositing did not make.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from pyproj import Transformer

from landing_zone.defs.satellite.compositing import (
    NODATA,
    SCL_RULE,
    CompositeSummary,
    MaskRule,
    SceneBands,
    TargetGrid,
    composite_ndvi,
    median_and_count,
    region_grid,
)
from platform_dev.sample_region import satellite
from platform_dev.sample_region.spec import CRS
from shared.rasters.cog import COG_BLOCK_SIZE
from tests.satellite.conftest import Catalogues

MONTH = dt.date(2023, 7, 1)
MAX_RMSE = 0.03
"""The generator scales each band by ``1 + 0.05 N(0, 1)`` and adds ``0.003 N(0, 1)``. To first order one
observation's NDVI error has a standard deviation of ``2 sqrt(2 (0.05 r n)^2 + 0.003^2 (r^2 + n^2)) /
(r + n)^2``: about 0.02 on July's cropland and forest (red 0.03-0.06, nir 0.3-0.4, 96 % of the region)
and 0.09 on water (red 0.035, nir 0.02, under 1 %); the median of one to three observations does not
raise it. A cloud (NDVI near 0.04 against about 0.7) leaking into 0.5 % of the cells would alone add 0.05."""


@dataclass(frozen=True)
class Composite:
    grid: TargetGrid
    summary: CompositeSummary
    ndvi: np.ndarray
    count: np.ndarray
    path: Path


def month_scenes(catalog: Path, month: dt.date) -> list[SceneBands]:
    """The month's acquisitions as the catalogue lists them."""
    items = pystac.Catalog.from_file(str(catalog)).get_items(recursive=True)
    return [
        SceneBands(item.id, *(str(item.assets[name].get_absolute_href()) for name in ("red", "nir", "scl")))
        for item in sorted(items, key=lambda item: item.id)
        if item.datetime is not None and item.datetime.date().replace(day=1) == month
    ]


def composite(scenes: list[SceneBands], grid: TargetGrid, path: Path) -> Composite:
    summary = composite_ndvi(scenes, grid, path)
    with rasterio.open(path) as dataset:
        return Composite(grid, summary, dataset.read(1), dataset.read(2), path)


@pytest.fixture(scope="module", params=[10.0, 20.0, 200.0], ids=["10m", "20m", "200m"])
def month_composite(
    request: pytest.FixtureRequest, catalogues: Catalogues, tmp_path_factory: pytest.TempPathFactory
) -> Composite:
    """July on the region grid, at the scenes' 10 m, at a coarser 20 m, and at 200 m, where a block
    spreads over so many scene pixels that it is sampled in quarters."""
    scenes = month_scenes(catalogues.v1, MONTH)
    assert len(scenes) == len(satellite.acquisitions(MONTH))
    grid = region_grid(catalogues.spec.bounds, CRS, request.param)
    return composite(scenes, grid, tmp_path_factory.mktemp("ndvi") / "ndvi.tif")


def sampled_pixel_centres(grid: TargetGrid, catalogues: Catalogues) -> tuple[np.ndarray, np.ndarray]:
    """Region-CRS centres of the scene pixels that contain the grid's cell centres."""
    cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
    affine = grid.affine
    x, y = affine.c + affine.a * cols, affine.f + affine.e * rows
    scenes = satellite.scene_grid(catalogues.spec)
    east, north = Transformer.from_crs(CRS, satellite.UTM_CRS, always_xy=True).transform(x, y)
    pixel = satellite.PIXEL_M
    east = scenes.west + (np.floor((east - scenes.west) / pixel) + 0.5) * pixel
    north = scenes.north - (np.floor((scenes.north - north) / pixel) + 0.5) * pixel
    return Transformer.from_crs(satellite.UTM_CRS, CRS, always_xy=True).transform(east, north)


def test_composite_matches_the_true_ndvi_where_observed(month_composite, catalogues):
    observed = month_composite.count > 0
    x, y = sampled_pixel_centres(month_composite.grid, catalogues)
    error = month_composite.ndvi[observed] - satellite.true_ndvi(catalogues.spec, MONTH, x, y)[observed]
    rmse = float(np.sqrt(np.mean(error**2)))
    print(f"NDVI RMSE at {month_composite.grid.transform[0]:g} m: {rmse:.4f} over {observed.sum()} cells")
    assert rmse < MAX_RMSE
    assert observed.mean() > 0.5, "July has clear observations over most of the region"
    summary = month_composite.summary
    assert summary.valid_pixels == observed.sum() and summary.pixels == observed.size
    assert summary.ndvi_min == pytest.approx(month_composite.ndvi[observed].min())
    assert summary.ndvi_max == pytest.approx(month_composite.ndvi[observed].max())
    assert summary.ndvi_mean == pytest.approx(month_composite.ndvi[observed].mean(dtype=np.float64))
    assert sum(summary.observations.values()) == month_composite.count.sum()
    assert not summary.skipped


def test_planted_clouds_never_enter(month_composite, catalogues):
    x, y = sampled_pixel_centres(month_composite.grid, catalogues)
    clear = sum(
        satellite.clear_sky(catalogues.spec, day, x, y).astype(int) for day in satellite.acquisitions(MONTH)
    )
    count, ndvi = month_composite.count, month_composite.ndvi
    assert (count <= clear).all(), f"{(count > clear).sum()} cells count a cloudy observation"
    # The 20 m SCL masks a clear pixel beside a cloud too, but not much more.
    assert (count == clear).mean() > 0.95
    assert np.array_equal(count == 0, ndvi == NODATA)
    assert ((ndvi[count > 0] >= -1) & (ndvi[count > 0] <= 1)).all()


def test_composite_carries_band_descriptions_nodata_overviews_and_statistics(month_composite):
    grid = month_composite.grid
    with rasterio.open(month_composite.path) as dataset:
        assert dataset.descriptions == ("ndvi", "valid_observations")
        assert dataset.nodata == NODATA and dataset.dtypes == ("float32", "float32")
        assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        # GDAL adds overviews down to one block: a composite within one block (300 cells at 20 m) needs none.
        has_overviews = bool(dataset.overviews(1)) and dataset.overviews(1) == dataset.overviews(2)
        assert has_overviews == (max(grid.width, grid.height) > COG_BLOCK_SIZE)
        assert float(dataset.tags(1)["STATISTICS_MAXIMUM"]) <= 1
        assert dataset.crs.to_string() == CRS
        assert tuple(dataset.transform)[:6] == grid.transform
        assert (dataset.width, dataset.height) == (grid.width, grid.height)
    assert not list(month_composite.path.parent.glob("*staging*"))


@pytest.fixture
def july_copy(catalogues: Catalogues, tmp_path: Path) -> list[SceneBands]:
    """July's scene files copied where a test may damage them."""
    copies = []
    for scene in month_scenes(catalogues.v1, MONTH):
        paths = []
        for source in (scene.red, scene.nir, scene.mask):
            paths.append(str(shutil.copy(source, tmp_path / Path(source).name)))
        copies.append(SceneBands(scene.item_id, *paths))
    return copies


def truncate(path: str) -> None:
    """Cut a COG short: its header (and overviews, first in a COG) still open, full-resolution tiles fail."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: len(data) * 2 // 3])


def test_unreadable_scenes_are_skipped_with_their_reasons(july_copy, catalogues, tmp_path):
    garbled, truncated, intact = july_copy
    Path(garbled.red).write_bytes(b"not a GeoTIFF" * 100)
    truncate(truncated.nir)
    grid = region_grid(catalogues.spec.bounds, CRS, 10.0)
    result = composite(july_copy, grid, tmp_path / "ndvi.tif")
    skipped = result.summary.skipped
    assert set(skipped) == {garbled.item_id, truncated.item_id}
    assert skipped[garbled.item_id].startswith(f"cannot open red ({garbled.red})")
    assert skipped[truncated.item_id].startswith(f"cannot read nir ({truncated.nir})")
    assert dict(result.summary.observations) == {intact.item_id: int(result.count.sum())}
    assert result.count.max() == 1 and result.summary.valid_fraction > 0.3


def test_bands_that_disagree_are_skipped(july_copy, catalogues, tmp_path):
    shifted, foreign, intact = july_copy
    rewrite(
        shifted.nir, lambda profile: {"transform": profile["transform"] * rasterio.Affine.translation(1, 0)}
    )
    rewrite(foreign.mask, lambda profile: {"crs": "EPSG:32633"})
    grid = region_grid(catalogues.spec.bounds, CRS, 10.0)
    summary = composite(july_copy, grid, tmp_path / "ndvi.tif").summary
    assert set(summary.skipped) == {shifted.item_id, foreign.item_id}
    assert summary.skipped[shifted.item_id].startswith("nir grid")
    assert summary.skipped[foreign.item_id].startswith("mask CRS")
    assert set(summary.observations) == {intact.item_id}


def rewrite(path: str, change: Callable[[dict], dict]) -> None:
    """Rewrite a raster in place with a changed georeference."""
    with rasterio.open(path) as dataset:
        profile, values = dataset.profile, dataset.read()
    profile |= change(profile)
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(values)


def test_no_usable_scene_is_an_error_naming_them(july_copy, catalogues, tmp_path):
    for scene in july_copy:
        Path(scene.mask).unlink()
    grid = region_grid(catalogues.spec.bounds, CRS, 10.0)
    with pytest.raises(ValueError, match="no usable scene") as raised:
        composite_ndvi(july_copy, grid, tmp_path / "ndvi.tif")
    for scene in july_copy:
        assert f"{scene.item_id}: cannot open mask ({scene.mask})" in str(raised.value)
    assert not list(tmp_path.glob("ndvi*"))


def test_region_grid_snaps_outward_to_whole_cells():
    grid = region_grid((100.0, 200.0, 1000.0, 1010.0), CRS, 20.0)
    assert grid.transform == (20.0, 0.0, 100.0, 0.0, -20.0, 1020.0)
    assert (grid.width, grid.height) == (45, 41)
    aligned = region_grid((560_000.0, 360_000.0, 566_000.0, 366_000.0), CRS, 10.0)
    assert (aligned.width, aligned.height) == (600, 600)
    assert [window for window in aligned.blocks(512)][-1] == (512, 512, 88, 88)


@pytest.mark.parametrize("layers", [1, 2, 3, 5, 8, 9, 14])
def test_median_and_count_agree_with_numpy(layers):
    rng = np.random.default_rng(layers)
    stack = rng.normal(size=(layers, 40, 50)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.4] = np.nan
    stack[:, 0, :] = np.nan
    median, count = median_and_count(stack)
    assert np.array_equal(count, np.sum(~np.isnan(stack), axis=0))
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(stack, axis=0)
    np.testing.assert_allclose(median[count > 0], expected[count > 0], rtol=1e-6)
    assert (median[count == 0] == NODATA).all() and (count[0] == 0).all()


def test_mask_rules_keep_only_clear_values():
    scl = SCL_RULE.clear_table(np.dtype(np.uint8), 0)
    assert np.flatnonzero(scl).tolist() == [4, 5, 6]
    qa_pixel = MaskRule("bits", cloud_bits=frozenset({0, 3})).clear_table(np.dtype(np.uint16), None)
    assert qa_pixel[0b0100] and not qa_pixel[0b1000] and not qa_pixel[0b0001]
    passed = MaskRule("bits", pass_bits=frozenset({1, 2})).clear_table(np.dtype(np.uint16), 0)
    assert passed[0b0110] and passed[0b1110] and not passed[0b0010] and not passed[0]
    with pytest.raises(ValueError, match="uint8 or uint16"):
        SCL_RULE.clear_table(np.dtype(np.int32), None)
