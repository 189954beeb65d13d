"""Catchment forcings benchmark: our zonal means (:mod:`landing_zone.defs.features.zonal`: coverage weights
once, then a sparse matrix product over all days) against raw exactextract ``mean`` on the same raster
and polygons, in the same run.

Run with ``python -m benchmarks.features`` (``make bench``). Data: a 480 x 480 grid of 250 m cells (a
120 km square, about a bench region) with 365 daily float32 bands (one year, 2 % nodata), and 4000 small
(reach-like) plus 400 large (progressive-like) Voronoi polygons over it. Target (issue 14): ours at most
1.2x the peer's time. ``--quick``: 120 x 120 cells, 31 bands, 400 + 40 polygons.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.features"
CELL_M = 250.0
WEST, NORTH = 500_000.0, 400_000.0
NODATA = -9999.0


def make_inputs(cells: int, days: int, polygons: int, folder: Path) -> tuple[Path, Path]:
    """The daily raster (GeoTIFF, band n = day n) and the polygons (GeoJSON features), written once."""
    import numpy as np
    import rasterio
    import shapely
    from affine import Affine

    rng = np.random.default_rng(14)
    raster = folder / f"grid-{cells}-{days}.tif"
    values = rng.gamma(0.8, 3.0, (days, cells, cells)).astype(np.float32)
    values[rng.uniform(size=values.shape) < 0.02] = NODATA
    profile = {
        "driver": "GTiff",
        "width": cells,
        "height": cells,
        "count": days,
        "dtype": "float32",
        "crs": "EPSG:2180",
        "transform": Affine(CELL_M, 0, WEST, 0, -CELL_M, NORTH),
        "nodata": NODATA,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(raster, "w", **profile) as dataset:
        dataset.write(values)
        for band in range(1, days + 1):  # the daily grids' layout: the description is the date
            dataset.set_band_description(
                band, (dt.date(2019, 1, 1) + dt.timedelta(days=band - 1)).isoformat()
            )
    extent = shapely.box(WEST, NORTH - cells * CELL_M, WEST + cells * CELL_M, NORTH)
    shapes = []
    for count in (polygons, polygons // 10):
        points = shapely.points(rng.uniform(extent.bounds[:2], extent.bounds[2:], (count, 2)))
        cells_of = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(points), extend_to=extent))
        shapes.extend(shapely.intersection(cells_of, extent))
    vectors = folder / f"polygons-{cells}-{polygons}.json"
    features = [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(s)} for s in shapes
    ]
    vectors.write_text(json.dumps(features))
    return raster, vectors


def ours(raster: Path, vectors: Path) -> dict[str, Any]:
    import shapely

    from landing_zone.defs.features.forcings import read_bands
    from landing_zone.defs.features.zonal import coverage_weights, zonal_means

    features = json.loads(vectors.read_text())
    shapes = [shapely.geometry.shape(feature["geometry"]) for feature in features]
    result: dict[str, Any] = {}
    with timed(result):
        stack = read_bands(raster)
        weights = coverage_weights(shapes, stack.grid, [str(n) for n in range(len(shapes))])
        means = zonal_means(weights, stack.values, stack.nodata)
    result["values"] = int(means.mean.size)
    return result


def exactextract_peer(raster: Path, vectors: Path) -> dict[str, Any]:
    import rasterio
    from exactextract import exact_extract

    features = json.loads(vectors.read_text())
    result: dict[str, Any] = {}
    with timed(result), rasterio.open(raster) as dataset:
        means = exact_extract(dataset, features, "mean")
    result["values"] = sum(len(feature["properties"]) for feature in means)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="120 x 120 cells, 31 days, 440 polygons")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/features"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, raster, vectors = args.child
        child_report((ours if subject == "ours" else exactextract_peer)(Path(raster), Path(vectors)))
        return
    cells, days, polygons = (120, 31, 400) if args.quick else (480, 365, 4000)
    args.workdir.mkdir(parents=True, exist_ok=True)
    raster, vectors = make_inputs(cells, days, polygons, args.workdir)
    compare(
        "features.zonal_means",
        ["ours", "exactextract"],
        lambda subject: run_child(MODULE, [subject, str(raster), str(vectors)]),
        args.rounds,
        {"size": f"{cells}x{cells} cells x {days} days, {polygons + polygons // 10} polygons"},
    )


if __name__ == "__main__":
    main()
