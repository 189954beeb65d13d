"""Catchment polygons from a label raster: polygonised by GDAL, composed by coverage union.

Polygons traced from one raster never overlap, but GDAL writes a vertex only where an outline turns, so
two neighbours need not share vertices along their common edge. Adding a vertex at every cell corner
(``segmentize`` by one cell) makes them a noded coverage, which GEOS unites with its linear-time coverage
union: about 25x faster than a general overlay union on the bench region's catchments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np


def label_polygons(labels: np.ndarray, transform: Any, count: int) -> list[Any]:
    """One MultiPolygon per label 1..``count`` (empty for a label without cells), vertices at every
    cell corner along its outline."""
    import shapely
    from affine import Affine
    from rasterio.features import shapes

    # traced and segmentized in pixel space, where every corner is an exact integer, then mapped to the
    # grid by one formula: neighbours get bit-identical shared vertices whatever the cell size
    parts: dict[int, list[Any]] = defaultdict(list)
    for geometry, value in shapes(labels.astype(np.int32), mask=labels > 0, transform=Affine.identity()):
        parts[int(value)].append(shapely.geometry.shape(geometry))
    polygons = [shapely.MultiPolygon(parts.get(label, [])) for label in range(1, count + 1)]
    pixels = shapely.segmentize(np.array(polygons, dtype=object), 1.0)
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    return list(
        shapely.transform(
            pixels,
            lambda xy: np.column_stack([a * xy[:, 0] + b * xy[:, 1] + c, d * xy[:, 0] + e * xy[:, 1] + f]),
        )
    )


def as_multipolygon(geometry: Any) -> Any:
    """Polygon or MultiPolygon as a MultiPolygon, so a layer has one geometry type."""
    import shapely

    if geometry.is_empty:
        return shapely.MultiPolygon()
    return geometry if geometry.geom_type == "MultiPolygon" else shapely.MultiPolygon([geometry])


def union(geometries: list[Any]) -> Any:
    """Union of polygons traced from one raster (see the module note), as a MultiPolygon."""
    import shapely

    present = [geometry for geometry in geometries if not geometry.is_empty]
    return as_multipolygon(shapely.coverage_union_all(present)) if present else shapely.MultiPolygon()
