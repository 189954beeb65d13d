"""NDVI composite benchmark: our block-wise compositing against a plain rasterio/numpy script.

Run with ``python -m benchmarks.satellite`` (``make bench``). Input: one month (three acquisitions) of the
generator's Sentinel-2-like scenes (red, nir at 10 m, SCL at 20 m, UTM 34N) over the bench region (40 x
40 km), generated once into ``--workdir``; output: the month's composite on the region's 10 m EPSG:2180
grid (4000 x 4000 cells, median NDVI and clear-observation count, a COG).

The peer (``plain_rasterio``) is what one writes without a memory budget: every band reprojected whole
onto the target grid (``rasterio.warp.reproject``, nearest), numpy masking, ``np.nanmedian`` over the
stack, a GTiff written and copied to the same COG. Both subjects run again on the small region (6 x 6 km),
and ours alone on an 80 x 80 km scene set (8000 x 8000 cells, generated once in about 4 minutes; the peer
would need about 8 GB), to show that our peak RSS stays bounded whatever the scene size, while the
peer's grows with the cells. Targets (issue 17): ours at most 1.3x the peer's wall time on the bench
region; bounded memory.
``--quick`` uses the small region and a 3 x 3 km corner of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.harness import child_report, compare, run_child, timed

if TYPE_CHECKING:
    from landing_zone.defs.satellite.compositing import SceneBands, TargetGrid
    from platform_dev.sample_region.spec import RegionSpec

MODULE = "benchmarks.satellite"
SEED = 1
MONTH = dt.date(2023, 7, 1)
CELL_M = 10.0
CLEAR_CLASSES = (4, 5, 6)
SCENE_SETS = {
    "large": ("bench", 80_000.0),
    "bench": ("bench", None),
    "small": ("small", None),
    "corner": ("small", 3_000.0),
}
"""Scene sets by name: the generator's size, and an extent other than its own around the same corner."""
NO_SIDE_FILES = {"GDAL_PAM_ENABLED": "NO"}


def region(name: str) -> RegionSpec:
    from platform_dev.sample_region.spec import RegionSpec

    size, extent = SCENE_SETS[name]
    spec = RegionSpec.for_size(size, SEED)  # type: ignore[arg-type]
    return spec if extent is None else dataclasses.replace(spec, extent_m=extent)


def scene_set(workdir: Path, name: str) -> Path:
    """The month's scenes and catalogue, written once (the generator keeps scenes already on disk)."""
    from platform_dev.sample_region.satellite import write_satellite

    return write_satellite(region(name), workdir / name, [MONTH])


def month_scenes(catalog: Path) -> list[SceneBands]:
    import pystac

    from landing_zone.defs.satellite.compositing import SceneBands

    items = sorted(pystac.Catalog.from_file(str(catalog)).get_items(recursive=True), key=lambda item: item.id)
    return [
        SceneBands(item.id, *(str(item.assets[name].get_absolute_href()) for name in ("red", "nir", "scl")))
        for item in items
    ]


def region_target(name: str) -> TargetGrid:
    from landing_zone.defs.satellite.compositing import region_grid
    from platform_dev.sample_region.spec import CRS

    return region_grid(region(name).bounds, CRS, CELL_M)


def plain_composite(scenes: list[SceneBands], grid: TargetGrid, destination: Path) -> None:
    """The peer: whole bands reprojected, masked and stacked in memory, then written and copied to a COG."""
    import numpy as np
    import rasterio
    from rasterio.warp import Resampling, reproject

    from shared.rasters.cog import copy_to_cog

    stack = []
    for scene in scenes:
        bands = {}
        for name, path in (("red", scene.red), ("nir", scene.nir), ("scl", scene.mask)):
            with rasterio.open(path) as source:
                bands[name] = np.zeros((grid.height, grid.width), source.dtypes[0])
                reproject(
                    rasterio.band(source, 1),
                    bands[name],
                    dst_transform=grid.affine,
                    dst_crs=grid.crs,
                    dst_nodata=0,
                    resampling=Resampling.nearest,
                )
        red, nir = bands["red"].astype(np.float32), bands["nir"].astype(np.float32)
        clear = np.isin(bands["scl"], CLEAR_CLASSES) & (red > 0) & (nir > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            stack.append(np.where(clear, (nir - red) / (nir + red), np.nan).astype(np.float32))
    observations = np.stack(stack)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels
        median = np.nanmedian(observations, axis=0)
    count = np.sum(~np.isnan(observations), axis=0).astype(np.float32)
    median[np.isnan(median)] = -9999.0
    staging = destination.with_name("plain-staging.tif")
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 2,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.affine,
        "nodata": -9999.0,
    }
    with rasterio.open(staging, "w", **profile) as dataset:
        dataset.write(np.stack([median, count]))
        dataset.set_band_description(1, "ndvi")
        dataset.set_band_description(2, "valid_observations")
    copy_to_cog(staging, destination)
    staging.unlink()


def child(subject: str, name: str, catalog: str, out: str) -> None:
    import rasterio

    from landing_zone.defs.satellite.compositing import composite_ndvi
    from shared.rasters.gdal_cache import DEFAULT_GDAL_CACHE_MB

    scenes, grid, destination = month_scenes(Path(catalog)), region_target(name), Path(out)
    destination.unlink(missing_ok=True)
    result: dict[str, Any] = {}
    with rasterio.Env(**NO_SIDE_FILES):
        with timed(result):
            if subject == "ours":
                summary = composite_ndvi(scenes, grid, destination, gdal_cache_mb=DEFAULT_GDAL_CACHE_MB)
            else:
                plain_composite(scenes, grid, destination)
        with rasterio.open(destination) as dataset:
            result["size"] = f"{dataset.width}x{dataset.height} {dataset.dtypes[0]} x{dataset.count}"
            result["overviews"] = dataset.overviews(1)
    if subject == "ours":
        result["valid_fraction"] = round(summary.valid_fraction, 4)
    child_report(result)


def agreement(ours: Path, peer: Path) -> dict[str, float]:
    """How far the two composites agree: the share of cells with the same count, and the NDVI RMSE where
    both hold one (they differ where GDAL's approximate warp picks a neighbouring pixel)."""
    import numpy as np
    import rasterio

    with rasterio.open(ours) as first, rasterio.open(peer) as second:
        ours_values, peer_values = first.read(), second.read()
    same_count = ours_values[1] == peer_values[1]
    both = (ours_values[1] > 0) & (peer_values[1] > 0)
    difference = ours_values[0][both] - peer_values[0][both]
    return {
        "same_count_share": round(float(same_count.mean()), 4),
        "ndvi_rmse_to_peer": round(float(np.sqrt(np.mean(difference**2))), 4),
    }


def run_set(workdir: Path, name: str, rounds: int) -> list[dict[str, Any]]:
    catalog = scene_set(workdir, name)
    grid = region_target(name)
    outputs = {subject: workdir / f"{name}-{subject}.tif" for subject in ("ours", "plain_rasterio")}
    extra = {"scenes": len(month_scenes(catalog)), "scene_set": name, "grid": f"{grid.width}x{grid.height}"}
    lines = compare(
        "satellite.ndvi_composite",
        list(outputs),
        lambda subject: run_child(MODULE, [subject, name, str(catalog), str(outputs[subject])]),
        rounds,
        extra,
    )
    print(
        json.dumps(
            {"benchmark": "satellite.ndvi_composite.agreement", "scene_set": name}
            | agreement(outputs["ours"], outputs["plain_rasterio"])
        ),
        flush=True,
    )
    return lines


def ours_alone(workdir: Path, name: str) -> dict[str, Any]:
    """Ours on a scene set too large for the peer (its whole-band arrays would not fit): one JSON line."""
    catalog = scene_set(workdir, name)
    grid = region_target(name)
    result = run_child(MODULE, ["ours", name, str(catalog), str(workdir / f"{name}-ours.tif")])
    line = {"benchmark": "satellite.ndvi_composite", "subject": "ours"} | result
    line |= {"scenes": len(month_scenes(catalog)), "scene_set": name, "grid": f"{grid.width}x{grid.height}"}
    print(json.dumps(line), flush=True)
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the small region and a corner of it")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/satellite"))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    large, small = ("small", "corner") if args.quick else ("bench", "small")
    ours_large, _ = run_set(args.workdir, large, args.rounds)
    ours_small, _ = run_set(args.workdir, small, args.rounds)
    targets = {
        "benchmark": "satellite.ndvi_composite.targets",
        "subject": "ours",
        "wall_ratio": ours_large["ratio_to_peer"],
        "wall_ratio_ok": ours_large["ratio_to_peer"] <= 1.3,
        "peak_rss_mb_by_grid": {ours_small["grid"]: ours_small["peak_rss_mb"]},
    }
    peaks = targets["peak_rss_mb_by_grid"]
    peaks[ours_large["grid"]] = ours_large["peak_rss_mb"]
    if not args.quick:
        largest = ours_alone(args.workdir, "large")
        peaks[largest["grid"]] = largest["peak_rss_mb"]
        # Bounded: four times the cells of the bench grid may not cost more than half as much memory again
        # (whole-band arrays would cost four times as much: the peer's footprint grows with the cells).
        targets["peak_rss_bounded"] = largest["peak_rss_mb"] <= 1.5 * ours_large["peak_rss_mb"]
    print(json.dumps(targets), flush=True)


if __name__ == "__main__":
    main()
