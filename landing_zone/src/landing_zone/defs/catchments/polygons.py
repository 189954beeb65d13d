"""Catchment polygons from a label raster: polygonised by GDAL, composed by union.

Polygons traced from one raster share their edges, so they never overlap; they are not a noded coverage
(a vertex on one side of an edge need not exist on the other), so unions use GEOS's overlay union.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np


def label_polygons(labels: np.ndarray, transform: Any, count: int) -> list[Any]:
    """One MultiPolygon per label 1..``count`` (None for a label without cells)."""
    import shapely
    from rasterio.features import shapes

    parts: dict[int, list[Any]] = defaultdict(list)
    for geometry, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=transform):
        parts[int(value)].append(shapely.geometry.shape(geometry))
    return [shapely.MultiPolygon(parts[label]) if label in parts else None for label in range(1, count + 1)]


def as_multipolygon(geometry: Any) -> Any:
    """Polygon or MultiPolygon as a MultiPolygon, so a layer has one geometry type."""
    import shapely

    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


def union(geometries: list[Any]) -> Any:
    """Union of polygons, as a MultiPolygon."""
    import shapely

    return as_multipolygon(shapely.union_all(geometries))
