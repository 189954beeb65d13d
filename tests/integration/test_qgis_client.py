"""A real QGIS client (Debian's python3-qgis, headless) reads the stored outputs as an analyst would.

The pipeline identity stores a consolidated DTM COG and a progressive-catchments FlatGeobuf with the
platform's own writers at their layout keys; QGIS, with only the read-only analyst identity, opens both
straight from SeaweedFS, reports extent, CRS, band statistics and feature count, renders a map and
writes the region's project, which must reopen with both layers valid. ``make test`` installs QGIS.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import rasterio
import shapely
from rasterio.errors import NotGeoreferencedWarning
from rasterio.transform import from_origin

from platform_dev.qgis_project import write_project
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile
from shared.storage import open_storage
from shared.vectors.formats import write_flatgeobuf
from shared.vectors.geoframe import GeoFrame

REGION = "pilica"
CELL_M = 4.0
SIZE = 400
WEST, NORTH = 600_000.0, 400_000.0
NODATA = -9999.0
OUTLINE = np.array([255, 0, 0])


def _dtm_cog(folder: Path) -> tuple[Path, np.ndarray]:
    """A 1.6 km hill with a nodata strip on the west, as a COG of the platform's profile."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    heights = 180.0 + 40.0 * np.exp(-((rows - 200) ** 2 + (cols - 220) ** 2) / 2.0e4) + 0.05 * cols
    heights[:, :20] = NODATA
    staging = folder / "staging.tif"
    profile = tiled_gtiff_profile(
        SIZE, SIZE, "float32", "EPSG:2180", from_origin(WEST, NORTH, CELL_M, CELL_M), NODATA
    )
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(heights.astype(np.float32), 1)
    return copy_to_cog(staging, folder / "dtm.tif"), heights


def _progressive_catchments(folder: Path) -> tuple[Path, list[shapely.Polygon]]:
    """Three nested catchments (each contains the ones upstream), inside the DTM, sized in cells."""
    side = SIZE * CELL_M
    boxes = [
        shapely.box(WEST + a * side, NORTH - b * side, WEST + c * side, NORTH - d * side)
        for a, b, c, d in [(0.55, 0.45, 0.85, 0.15), (0.35, 0.65, 0.88, 0.12), (0.15, 0.9, 0.9, 0.1)]
    ]
    attributes = pl.DataFrame(
        {"reach_id": [3, 2, 1], "progressive_area_km2": [box.area / 1e6 for box in boxes]}
    )
    path = folder / "catchments.fgb"
    write_flatgeobuf(GeoFrame.from_geometries(attributes, boxes, "EPSG:2180"), path, "progressive_catchments")
    return path, boxes


def _analyst_environment(seaweedfs) -> dict[str, str]:
    """The caller's environment with the pipeline's keys replaced by the read-only analyst's."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | seaweedfs.env("analyst")


def _pixel_window(
    bounds: list[float], extent: list[float], size: list[int], margin: int = 0
) -> tuple[slice, slice]:
    """Rows and columns of the image that ``bounds`` covers on a map of ``extent``, ``margin`` pixels
    wider on each side (a line drawn on the edge of ``bounds`` is partly outside it)."""
    west, south, east, north = extent
    width, height = size
    top, bottom = ((north - y) / (north - south) * height for y in (bounds[3], bounds[1]))
    left, right = ((x - west) / (east - west) * width for x in (bounds[0], bounds[2]))
    rows = slice(max(round(top) - margin, 0), round(bottom) + margin)
    return rows, slice(max(round(left) - margin, 0), round(right) + margin)


def test_qgis_opens_stored_layers_with_analyst_identity_renders_and_writes_project(
    seaweedfs, s3_url, tmp_path
):
    pipeline = open_storage(s3_url)
    dtm_path, heights = _dtm_cog(tmp_path)
    fgb_path, boxes = _progressive_catchments(tmp_path)
    pipeline.put_file(dtm_path, f"elevation/dtm/consolidated/partition={REGION}/part.tif")
    pipeline.put_file(
        fgb_path, f"catchments/progressive_catchments/conditioning=burn_fill/region={REGION}/part.fgb"
    )

    project, png = tmp_path / f"{REGION}.qgs", tmp_path / f"{REGION}.png"
    report = write_project(s3_url, REGION, project, png=png, environment=_analyst_environment(seaweedfs))

    catchments, dtm = report["layers"]
    assert dtm["source"].startswith("/vsis3/") and catchments["source"].startswith("/vsis3/")
    assert dtm["crs"] == catchments["crs"] == "EPSG:2180"
    side = SIZE * CELL_M
    assert dtm["extent"] == pytest.approx([WEST, NORTH - side, WEST + side, NORTH])
    assert catchments["extent"] == pytest.approx(list(shapely.total_bounds(boxes)))
    valid = heights[heights != NODATA]
    assert dtm["statistics"]["min"] == pytest.approx(valid.min(), abs=1e-3)
    assert dtm["statistics"]["max"] == pytest.approx(valid.max(), abs=1e-3)
    assert dtm["statistics"]["mean"] == pytest.approx(valid.mean(), rel=1e-5)
    assert catchments["feature_count"] == len(boxes)

    reopened = report["project"]["layers"]
    assert sorted(layer["source"] for layer in reopened) == sorted([dtm["source"], catchments["source"]])
    assert all(layer["valid"] for layer in reopened)
    assert (
        "AWS_SECRET_ACCESS_KEY" not in project.read_text()
        and seaweedfs.identities["analyst"].secret_key not in project.read_text()
    )

    render = report["render"]
    assert render["errors"] == []
    with (
        warnings.catch_warnings(category=NotGeoreferencedWarning, action="ignore"),
        rasterio.open(png) as image,
    ):
        rgba = np.moveaxis(image.read(), 0, -1).astype(int)
    dtm_pixels = rgba[_pixel_window(dtm["extent"], render["extent"], render["size"])]
    drawn = dtm_pixels[..., 3] > 0
    assert drawn.mean() > 0.9, "the DTM is not drawn over its extent (nodata strip aside)"
    grey = drawn & (np.ptp(dtm_pixels[..., :3], axis=-1) <= 2)
    assert np.unique(dtm_pixels[grey][:, 0]).size > 50, "the DTM is drawn without its relief"
    outline = np.all(np.abs(rgba[..., :3] - OUTLINE) <= 40, axis=-1) & (rgba[..., 3] == 255)
    inside = outline[_pixel_window(catchments["extent"], render["extent"], render["size"], margin=3)]
    assert inside.sum() > 3 * 2 * 800 * 0.3, "the catchment outlines are not drawn"
    assert inside.sum() == outline.sum(), "outline-coloured pixels outside the catchments"
