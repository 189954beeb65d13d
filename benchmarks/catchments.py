"""Catchments benchmark: our chain against plain pyflwdir, and our analysis grid against GDAL's warper.

Run with ``python -m benchmarks.catchments`` (``make bench``). Each comparison prints one JSON line per
subject, every subject in its own process on the same input, the peer measured in the same run:

- ``catchments.analysis_grid``: the bench region's DTM (40 x 40 km, 20000 x 20000 cells at 2 m, the tiles
  of ``benchmarks.elevation`` behind a VRT) averaged onto the 10 m analysis grid. ours: ``resample_dem``,
  the analysis_dem asset's code (warp, then a COG with overviews and statistics). Peer ``gdalwarp``:
  ``gdalwarp -r average -tr 10 10 -te ...`` onto the same grid, a plain GTiff; this image has no GDAL
  command line tools, so it is GDAL's warper called as gdalwarp calls it (``rasterio.warp.reproject``,
  single-threaded, the same warp memory).
- ``catchments.delineation`` on that analysis DEM with the bench region's published rivers (planted
  offset). ours: river alignment, burn-and-fill conditioning (its priority flood gives the D8 directions),
  D8 accumulation, reaches and their pour cells, reach catchments for every pour point at once and
  progressive areas, the delineation the assets compute without storage (D-infinity, a separate asset,
  is left out). Peer ``pyflwdir``: ``pyflwdir.from_dem`` (fill and D8) and ``basins`` at the same pour
  points. ``ours_with_layers`` adds the reach-catchment polygons and progressive unions (outputs the peer
  does not produce: beside the comparison, not in it).
- ``catchments.coarse_delineation``: the same two subjects on a real DEM at 90 m (SRTM around Mont
  Ventoux, ``tests.support.real_dem``) with rivers derived from it, on the cell lattice.

Targets (issue 13): delineation within 2x of pyflwdir, layers within 3x, the analysis grid within 1.2x
of gdalwarp, the coarse case within 3x. ``--quick``: 20 m cells instead of 10 m, and the analysis grid of
a 20 x 20 km corner of the bench region only.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import child_report, compare, run_child, timed

MODULE = "benchmarks.catchments"
NODATA = -9999.0
BENCH_CRS = "EPSG:2180"
WARP_CACHE_MB = 256


def bench_mosaic(workdir: Path, tiles: int) -> Path:
    """The VRT of the first ``tiles`` x ``tiles`` km of the bench region's 2 m tiles (generated once)."""
    from benchmarks.elevation import tile_directory, write_mosaic

    full = tile_directory(workdir.parent / "elevation", 40)
    if tiles == 40:
        return write_mosaic(full)
    corner = workdir / f"tiles-{tiles}"
    corner.mkdir(exist_ok=True)
    for row in range(tiles):
        for col in range(tiles):
            link = corner / f"{row:03d}_{col:03d}.tif"
            if not link.is_symlink():
                link.symlink_to((full / link.name).resolve())
    return write_mosaic(corner)


def analysis_dem(workdir: Path, mosaic: Path, resolution_m: float) -> Path:
    """The bench analysis DEM delineation runs on, made by ``resample_dem`` once and cached."""
    from landing_zone.defs.catchments.rasters import resample_dem
    from shared.rasters.handles import StoredRaster

    dem = workdir / f"analysis-{mosaic.parent.name}-{resolution_m:g}m.tif"
    if not dem.exists():
        resample_dem(StoredRaster(str(mosaic), str(mosaic)), BENCH_CRS, resolution_m, WARP_CACHE_MB).rename(
            dem
        )
    return dem


def bench_rivers(workdir: Path, resolution_m: float) -> tuple[Path, Path]:
    """The bench region's published rivers and the peer's pour points on them."""
    from platform_dev.sample_region.hydrography_source import write_rivers
    from platform_dev.sample_region.rivers import river_network
    from platform_dev.sample_region.spec import RegionSpec

    spec = RegionSpec.for_size("bench", seed=1)
    info = write_rivers(spec, workdir, river_network(spec))
    (workdir / "offset.json").write_text(json.dumps(info["offset_m"]))
    rivers = workdir / "hydrography" / "rivers.geojson"
    pours = workdir / f"pour-points-{resolution_m:g}m.npy"
    np.save(pours, reference_pour_points(rivers, np.array(info["offset_m"]), resolution_m))
    return rivers, pours


def real_terrain(workdir: Path) -> tuple[Path, Path, Path]:
    """The real DEM's whole UTM tile at its own 90 m cells, rivers derived from it, the peer's pour points."""
    import rasterio

    from tests.support.real_dem import real_dem, window_of, write_rivers

    source = real_dem("utm")
    with rasterio.open(source) as dataset:
        bounds = tuple(dataset.bounds)
    dem = window_of(source, workdir / "real-90m.tif", bounds)
    rivers = write_rivers(dem, workdir / "real-90m-rivers.geojson", min_area_km2=5.0, basins=5)
    pours = workdir / "real-90m-pour-points.npy"
    np.save(pours, reference_pour_points(rivers, np.zeros(2), 90.0))
    return dem, rivers, pours


def reference_pour_points(rivers: Path, offset: np.ndarray, cell: float) -> np.ndarray:
    """The peer's outlets: one and a half cells before each reach's end on the published lines moved
    back by the planted ``offset`` (the basin outlet at its very end), as our pour cells are chosen."""
    from landing_zone.defs.catchments.reaches import RiverLine, reach_length_m, split_rivers
    from landing_zone.defs.catchments.river_source import parse_rivers, river_lines

    published = river_lines(parse_rivers(json.loads(rivers.read_text()), str(rivers)))
    moved = [RiverLine(r.river_id, r.points - offset, r.receiving) for r in published]
    points = []
    for reach in split_rivers(moved, reach_length_m(cell, None)):
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(reach.points, axis=0).T))])
        at = arc[-1] if reach.downstream is None else max(arc[-1] - 1.5 * cell, 0.0)
        points.append([np.interp(at, arc, reach.points[:, 0]), np.interp(at, arc, reach.points[:, 1])])
    return np.array(points)


def grid_ours(mosaic: str, resolution: str) -> dict[str, Any]:
    """The analysis_dem asset's resampling, to a local COG (rasterio imported before timing, as the
    peer's is: both compare GDAL work, not loading GDAL)."""
    import rasterio  # noqa: F401

    from landing_zone.defs.catchments.rasters import resample_dem
    from shared.rasters.handles import StoredRaster

    result: dict[str, Any] = {}
    with timed(result):
        cog = resample_dem(StoredRaster(mosaic, mosaic), BENCH_CRS, float(resolution), WARP_CACHE_MB)
    result["bytes"] = cog.stat().st_size
    cog.unlink()
    return result


def grid_gdalwarp(mosaic: str, resolution: str) -> dict[str, Any]:
    """``gdalwarp -r average -tr R R -te <snapped bounds> -wm 256`` as GDAL's warper runs it."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    from landing_zone.defs.catchments.rasters import analysis_grid
    from shared.rasters.gdal_cache import gdal_cache_env
    from shared.rasters.handles import scratch_dir

    out = scratch_dir("gdalwarp-") / "warped.tif"
    result: dict[str, Any] = {}
    with timed(result), rasterio.Env(**gdal_cache_env(WARP_CACHE_MB)), rasterio.open(mosaic) as source:
        transform, width, height = analysis_grid(source, source.crs, float(resolution))
        profile = {"driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": "float32"}
        with rasterio.open(out, "w", crs=source.crs, transform=transform, nodata=NODATA, **profile) as target:
            reproject(
                rasterio.band(source, 1),
                rasterio.band(target, 1),
                src_nodata=source.nodata,
                dst_nodata=NODATA,
                resampling=Resampling.average,
                warp_mem_limit=WARP_CACHE_MB,
            )
    result["bytes"] = out.stat().st_size
    out.unlink()
    return result


def ours(dem_path: str, rivers_path: str, with_layers: bool) -> dict[str, Any]:
    """The chain the catchments assets run, stage by stage, timed as a whole (storage left out);
    ``with_layers`` adds the reach-catchment polygons and the progressive catchments' unions."""
    from landing_zone.defs.catchments.conditioning import condition_with_rivers
    from landing_zone.defs.catchments.flow import AREA_NODATA, d8_upstream_area_km2, flow_from_d8
    from landing_zone.defs.catchments.partial_catchments import cell_counts, delineate, progressive_areas
    from landing_zone.defs.catchments.rasters import GridArray, read_grid
    from landing_zone.defs.catchments.reach_layers import (
        progressive_layer,
        reach_catchments_on_grid,
        reaches_on_grid,
    )
    from landing_zone.defs.catchments.river_alignment import align_rivers
    from landing_zone.defs.catchments.river_source import parse_rivers
    from shared.rasters.handles import StoredRaster

    result: dict[str, Any] = {}
    stages: dict[str, float] = {}
    started = time.perf_counter()

    def lap(name: str) -> None:
        stages[name] = round(time.perf_counter() - started - sum(stages.values()), 2)

    with timed(result):
        stored = StoredRaster(dem_path, dem_path)
        dem = read_grid(stored)
        rivers = parse_rivers(json.loads(Path(rivers_path).read_text()), rivers_path)
        aligned, estimate = align_rivers(rivers, stored, 15.0)
        lap("alignment")
        conditioned = condition_with_rivers(dem.values, dem.nodata, dem.grid, aligned, "burn_fill")
        lap("conditioning_and_d8")
        directions = GridArray(conditioned.d8, dem.grid, dem.crs, dem.nodata)
        flw = flow_from_d8(directions)
        area = GridArray(d8_upstream_area_km2(flw), dem.grid, dem.crs, AREA_NODATA)
        lap("d8_accumulation")
        reaches, _ = reaches_on_grid(aligned, area, directions, None)
        lap("reaches")
        if with_layers:
            catchments = reach_catchments_on_grid(reaches, directions)
            lap("reach_catchments_and_polygons")
            progressive_layer(catchments)
            lap("progressive_catchments")
        else:
            pours = reaches.frame.select("pour_x", "pour_y").to_numpy()
            labels = delineate(flw, dem.grid, dem.values.shape, pours)
            own = cell_counts(labels, reaches.frame.height) * dem.grid.cell**2 / 1e6
            downstream = dict(zip(reaches.frame["reach_id"], reaches.frame["downstream_id"], strict=True))
            progressive_areas(downstream, dict(zip(downstream, own, strict=True)))
            lap("reach_catchments")
    result |= {
        "stages_s": stages,
        "reaches": reaches.frame.height,
        "offset_estimated_m": [estimate.dx, estimate.dy],
        "offset_prominence": round(estimate.prominence, 2),
        "offset_uncertainty_m": estimate.uncertainty_m and round(estimate.uncertainty_m, 3),
        "cell_m": dem.grid.cell,
    }
    return result


def pyflwdir_peer(dem_path: str, pours_path: str) -> dict[str, Any]:
    """A plain pyflwdir script: fill and D8 from the DEM, basins at the given pour points. Its imports are
    timed, as ours are (ours load pyflwdir, scipy and shapely inside the chain)."""
    result: dict[str, Any] = {}
    with timed(result):
        import pyflwdir
        import rasterio

        with rasterio.open(dem_path) as dataset:
            dem, transform, nodata = dataset.read(1), dataset.transform, dataset.nodata
        flw = pyflwdir.from_dem(dem, nodata=nodata, transform=transform, latlon=False, outlets="edge")
        pours = np.load(pours_path)
        basins = flw.basins(xy=(pours[:, 0], pours[:, 1]), ids=np.arange(1, len(pours) + 1, dtype=np.int32))
    result["basin_cells"] = int((basins > 0).sum())
    return result


def run_subject(subject: str, first: str, second: str) -> dict[str, Any]:
    """One subject in the child process (``first``/``second``: its input paths or values)."""
    if subject == "grid_ours":
        return grid_ours(first, second)
    if subject == "grid_gdalwarp":
        return grid_gdalwarp(first, second)
    if subject == "pyflwdir":
        return pyflwdir_peer(first, second)
    return ours(first, second, with_layers=subject == "ours_with_layers")


def delineation(name: str, dem: Path, rivers: Path, pours: Path, rounds: int, extra: dict[str, Any]) -> Any:
    """ours, pyflwdir and ours_with_layers on one DEM, each in its own process."""
    return compare(
        name,
        ["ours", "pyflwdir", "ours_with_layers"],
        lambda subject: run_child(
            MODULE, [subject, str(dem), str(pours if subject == "pyflwdir" else rivers)]
        ),
        rounds,
        extra,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="20 m cells, analysis grid of a 20 km corner")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/catchments"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_report(run_subject(*args.child))
        return
    resolution, tiles = (20.0, 20) if args.quick else (10.0, 40)
    args.workdir.mkdir(parents=True, exist_ok=True)
    mosaic = bench_mosaic(args.workdir, tiles)
    grid = compare(
        "catchments.analysis_grid",
        ["ours", "gdalwarp"],
        lambda subject: run_child(MODULE, [f"grid_{subject}", str(mosaic), str(resolution)]),
        args.rounds,
        {
            "size": f"{tiles}x{tiles} km, {tiles * 500}x{tiles * 500} float32 at 2 m",
            "analysis_resolution_m": resolution,
        },
    )
    dem = analysis_dem(args.workdir, bench_mosaic(args.workdir, 40), resolution)
    rivers, pours = bench_rivers(args.workdir, resolution)
    lines = delineation(
        "catchments.delineation",
        dem,
        rivers,
        pours,
        args.rounds,
        {"size": "40x40 km bench region", "analysis_resolution_m": resolution},
    )
    real_dem, real_rivers, real_pours = real_terrain(args.workdir)
    coarse = delineation(
        "catchments.coarse_delineation",
        real_dem,
        real_rivers,
        real_pours,
        args.rounds,
        {"size": "SRTM Mont Ventoux tile, 922x1262 cells", "analysis_resolution_m": 90.0},
    )
    print_targets(args.workdir, resolution, grid, lines, coarse)


def print_targets(
    workdir: Path, resolution: float, grid: list[dict[str, Any]], lines: list[dict[str, Any]], coarse: Any
) -> None:
    """The issue's targets against this run's ratios, and the offset estimate against the planted one."""
    planted = json.loads((workdir / "offset.json").read_text())
    estimated = lines[0]["offset_estimated_m"]
    error = float(np.hypot(estimated[0] - planted[0], estimated[1] - planted[1]))
    targets = {
        "benchmark": "catchments.targets",
        "subject": "ours",
        "analysis_grid_within_1_2x": grid[0]["ratio_to_peer"] <= 1.2,
        "delineation_within_2x": lines[0]["ratio_to_peer"] <= 2.0,
        "layers_within_3x": lines[2]["ratio_to_peer"] <= 3.0,
        "coarse_within_3x": coarse[0]["ratio_to_peer"] <= 3.0,
        "offset_planted_m": planted,
        "offset_estimated_m": estimated,
        "offset_error_m": round(error, 3),
        "offset_within_one_cell": error <= resolution,
    }
    print(json.dumps(targets), flush=True)


if __name__ == "__main__":
    main()
