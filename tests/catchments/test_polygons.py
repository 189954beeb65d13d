"""Catchment polygons from a label raster unite exactly, whatever the cell size and grid origin."""

import numpy as np
import pytest
import rasterio

from landing_zone.defs.catchments.polygons import label_polygons, union


@pytest.mark.parametrize("cell", [0.1, 0.3, 2.5, 4.0, 10.0])
def test_fragmented_labels_unite_by_coverage_union_to_the_exact_area(cell):
    labels = np.random.default_rng(3).integers(0, 6, (60, 60)).astype(np.int32)  # 0 = outside
    transform = rasterio.Affine(cell, 0, 560_003.7, 0, -cell, 360_100.3)
    polygons = label_polygons(labels, transform, 6)
    for label, polygon in enumerate(polygons, start=1):
        assert polygon.area == pytest.approx((labels == label).sum() * cell**2, rel=1e-9)
    united = union(polygons)
    assert united.is_valid and united.geom_type == "MultiPolygon"
    assert united.area == pytest.approx((labels > 0).sum() * cell**2, rel=1e-9)
