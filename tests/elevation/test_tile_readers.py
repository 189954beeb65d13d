"""Tile readers on small hand-made files: every quirk read right, every defect named."""

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from landing_zone.defs.elevation.tile_readers import Footprint, TileDefect, read_tile

VALUES = np.arange(12, dtype=np.float64).reshape(3, 4) + 100.0  # 3 rows (north first), 4 columns
FOOTPRINT = Footprint(1000.0, 2000.0, 1008.0, 2006.0, "EPSG:2180")


def xyz_lines(northing_first: bool = False, south_to_north: bool = False) -> list[str]:
    rows = range(3)[::-1] if south_to_north else range(3)
    lines = []
    for r in rows:
        for c in range(4):
            x, y = 1000.0 + 2 * c + 1, 2006.0 - 2 * r - 1
            a, b = (y, x) if northing_first else (x, y)
            lines.append(f"{a} {b} {VALUES[r, c]}")
    return lines


@pytest.mark.parametrize(("northing_first", "south_to_north"), [(False, False), (True, False), (True, True)])
def test_xyz_axis_order_and_row_order_are_resolved(tmp_path, northing_first, south_to_north):
    path = tmp_path / "t.xyz"
    path.write_text("\n".join(xyz_lines(northing_first, south_to_north)) + "\n")
    grid = read_tile(path, "xyz", FOOTPRINT, 2.0)
    np.testing.assert_array_equal(grid.values, VALUES)
    assert grid.bounds == (1000.0, 2000.0, 1008.0, 2006.0)


def test_xyz_holes_stay_nodata_never_zero(tmp_path):
    path = tmp_path / "t.xyz"
    lines = ["x y z", *xyz_lines()]
    del lines[1 + 5]  # row 1, column 1
    path.write_text("\n".join(lines) + "\n")
    grid = read_tile(path, "xyz", FOOTPRINT, 2.0)
    assert np.isnan(grid.values[1, 1]) and np.isfinite(np.delete(grid.values.ravel(), 5)).all()


def test_xyz_outside_the_footprint_in_both_orders_is_refused(tmp_path):
    path = tmp_path / "t.xyz"
    path.write_text("\n".join(xyz_lines()) + "\n")
    elsewhere = Footprint(5000.0, 6000.0, 5008.0, 6006.0, "EPSG:2180")
    with pytest.raises(TileDefect, match="axis order against the index footprint is neither order fits"):
        read_tile(path, "xyz", elsewhere, 2.0)


def test_asc_with_centre_registration_and_decimal_commas(tmp_path):
    path = tmp_path / "t.asc"
    body = "\n".join(" ".join(f"{v:.1f}".replace(".", ",") for v in row) for row in VALUES)
    path.write_text(
        f"ncols 4\nnrows 3\nxllcenter 1001,0\nyllcenter 2001,0\ncellsize 2,0\nNODATA_value -9999\n{body}\n"
    )
    grid = read_tile(path, "asc", FOOTPRINT, 2.0)
    np.testing.assert_array_equal(grid.values, VALUES)
    assert (grid.west, grid.north, grid.crs) == (1000.0, 2006.0, "EPSG:2180")  # no .prj: the index CRS


def test_asc_without_prj_and_without_index_crs_is_refused(tmp_path):
    path = tmp_path / "t.asc"
    path.write_text("ncols 1\nnrows 1\nxllcorner 0\nyllcorner 0\ncellsize 2\n5\n")
    with pytest.raises(TileDefect, match=r"t\.asc: no \.prj and no CRS in the index"):
        read_tile(path, "asc", Footprint(0, 0, 2, 2, ""), 2.0)


def test_south_up_geotiff_is_flipped(tmp_path):
    path = tmp_path / "t.tif"
    transform = Affine(2.0, 0.0, 1000.0, 0.0, 2.0, 2000.0)  # first row at the southern edge
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=4,
        height=3,
        count=1,
        dtype="float64",
        crs="EPSG:2180",
        transform=transform,
    ) as dataset:
        dataset.write(VALUES[::-1], 1)
    grid = read_tile(path, "tif", FOOTPRINT, 2.0)
    np.testing.assert_array_equal(grid.values, VALUES)
    assert grid.north == 2006.0


def test_zero_byte_file_is_named(tmp_path):
    path = tmp_path / "empty.tif"
    path.write_bytes(b"")
    with pytest.raises(TileDefect, match=r"empty\.tif: zero-byte file"):
        read_tile(path, "tif", FOOTPRINT, 2.0)


def test_irregular_xyz_names_the_line(tmp_path):
    path = tmp_path / "t.xyz"
    lines = xyz_lines()
    lines[3] = "1007.3 2005.0 1.0"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TileDefect, match=r"irregular XYZ: point at line 4"):
        read_tile(path, "xyz", FOOTPRINT, 2.0)


def test_unknown_format_is_refused(tmp_path: Path):
    path = tmp_path / "t.las"
    path.write_bytes(b"LASF")
    with pytest.raises(TileDefect, match="unknown format 'las'"):
        read_tile(path, "las", FOOTPRINT, 2.0)
