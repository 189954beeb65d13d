"""Consolidation benchmark: our VRT mosaic to COG against GDAL's own COG copy of the same VRT.

Run with ``python -m benchmarks.elevation`` (``make bench``). Input: 1 km converted-tile COGs of the bench
region (40 x 40 km at 2 m = 20000 x 20000 cells), generated once from the sample region's terrain and
cached in ``--workdir``. Targets (issue 4): peak RSS at most 1 GB, wall time at most 1.3x GDAL's.
``--quick`` uses an 8 x 8 km corner.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.elevation"
NO_SIDE_FILES = {"GDAL_PAM_ENABLED": "NO"}


def tile_directory(workdir: Path, tiles: int) -> Path:
    """Converted-tile COGs (500 x 500 cells) for the first ``tiles`` x ``tiles`` km of the bench region,
    generated in parallel processes and kept between runs."""
    from concurrent.futures import ProcessPoolExecutor

    directory = workdir / f"tiles-{tiles}"
    directory.mkdir(parents=True, exist_ok=True)
    todo = [
        (row, col)
        for row in range(tiles)
        for col in range(tiles)
        if not (directory / f"{row:03d}_{col:03d}.tif").exists()
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(write_tile, [directory] * len(todo), *zip(*todo, strict=True)) if todo else [])
    return directory


def write_tile(directory: Path, row: int, col: int) -> None:
    """One terrain tile of the bench region as a COG (written to a temporary name, then renamed)."""
    import rasterio
    from rasterio.transform import from_origin

    from landing_zone.defs.elevation.conversion import NODATA
    from platform_dev.sample_region.spec import CRS, RegionSpec
    from platform_dev.sample_region.terrain import surface_block
    from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile

    spec = RegionSpec.for_size("bench", seed=1)
    n = spec.tile_cells
    block = surface_block(spec, row * n, col * n, n, n)
    west, north = spec.west + col * spec.tile_size_m, spec.north - row * spec.tile_size_m
    staging = directory / f"staging-{row}-{col}.tif"
    profile = tiled_gtiff_profile(n, n, "float32", CRS, from_origin(west, north, 2.0, 2.0), NODATA)
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(block.dtm, 1)
    partial = directory / f"partial-{row}-{col}.tif"
    copy_to_cog(staging, partial)
    staging.unlink()
    partial.rename(directory / f"{row:03d}_{col:03d}.tif")


def write_mosaic(directory: Path) -> Path:
    """The VRT both subjects read, written by the pipeline's own VRT writer."""
    import pyproj
    import rasterio

    from landing_zone.defs.elevation.mosaic import MosaicTile, write_vrt

    tiles = []
    for path in sorted(directory.glob("*_*.tif")):
        with rasterio.open(path) as dataset:
            tiles.append(
                MosaicTile(str(path), dataset.bounds.left, dataset.bounds.top, dataset.width, dataset.height)
            )
    return write_vrt(tiles, 2.0, pyproj.CRS("EPSG:2180").to_wkt(), directory / "mosaic.vrt")


def child(subject: str, vrt: str, out: str) -> None:
    import rasterio
    import rasterio.shutil

    from landing_zone.defs.elevation.mosaic import consolidate
    from shared.rasters.cog import cog_creation_options

    result: dict[str, Any] = {}
    Path(out).unlink(missing_ok=True)
    with timed(result):
        if subject == "ours":
            consolidate(Path(vrt), Path(out), cache_mb(), NO_SIDE_FILES)
        else:
            with rasterio.Env(**NO_SIDE_FILES):
                rasterio.shutil.copy(vrt, out, **cog_creation_options())
    with rasterio.open(out) as dataset:
        result["size"] = f"{dataset.width}x{dataset.height} {dataset.dtypes[0]}"
        result["overviews"] = dataset.overviews(1)
    child_report(result)


def cache_mb() -> int:
    """The pipeline's own default block cache, so the benchmark measures what production runs."""
    from landing_zone.defs.elevation.definitions import ElevationPipeline

    return int(ElevationPipeline.model_fields["gdal_cachemax_mb"].default)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="an 8 x 8 km corner instead of 40 x 40 km")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/elevation"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    tiles = 8 if args.quick else 40
    directory = tile_directory(args.workdir, tiles)
    vrt = write_mosaic(directory)
    lines = compare(
        "elevation.consolidate",
        ["ours", "gdal_cog_copy"],
        lambda subject: run_child(MODULE, [subject, str(vrt), str(args.workdir / f"{subject}.tif")]),
        args.rounds,
        {"size": f"{tiles * 500}x{tiles * 500} float32", "ours_gdal_cachemax_mb": cache_mb()},
    )
    ours = lines[0]
    print(
        json.dumps(
            {
                "benchmark": "elevation.consolidate.targets",
                "subject": "ours",
                "peak_rss_ok": ours["peak_rss_mb"] <= 1024,
                "wall_ratio_ok": ours["ratio_to_peer"] <= 1.3,
            }
        )
    )


if __name__ == "__main__":
    main()
