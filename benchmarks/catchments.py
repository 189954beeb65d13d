"""Delineation benchmark: our whole catchments chain against a plain pyflwdir script on the bench region.

Run with ``python -m benchmarks.catchments`` (``make bench``). Input: the bench region's DTM (40 x 40 km,
20000 x 20000 cells at 2 m, the tiles of ``benchmarks.elevation``) averaged onto the 10 m analysis grid
by the pipeline's own resampling (timed once, reported as its own line), and the bench region's
published river network with its planted offset. Subjects, each in its own process on the same input:

- ours: river alignment (valley depth, offset search), burn-and-fill conditioning (whose priority
  flood also gives the D8 flow directions), D8 accumulation, ~100 m reaches and their pour cells, reach
  catchments for every pour point at once and progressive areas: the delineation the assets compute,
  without storage (D-infinity, a separate asset, is left out);
- pyflwdir: ``pyflwdir.from_dem`` (fill and D8) and ``basins`` at the same pour points;
- ours_with_layers: ours plus the reach-catchment polygons and the progressive catchments' unions
  (outputs the peer does not produce, so reported beside the comparison, not in it).

Targets (issue 6): ours at most 2x pyflwdir's time; the estimated offset within one cell of the planted
one. ``--quick`` delineates at 20 m instead of 10 m.
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


def prepare(workdir: Path, resolution_m: float) -> tuple[Path, Path, Path, dict[str, Any]]:
    """Analysis DEM, published rivers and pour points (cached), and the resampling's own measurement."""
    from benchmarks.elevation import tile_directory, write_mosaic
    from landing_zone.defs.catchments.rasters import resample_dem
    from platform_dev.sample_region.hydrography_source import write_rivers
    from platform_dev.sample_region.rivers import river_network
    from platform_dev.sample_region.spec import RegionSpec
    from shared.rasters.handles import StoredRaster

    spec = RegionSpec.for_size("bench", seed=1)
    rivers_info = write_rivers(spec, workdir, river_network(spec))
    (workdir / "offset.json").write_text(json.dumps(rivers_info["offset_m"]))
    dem = workdir / f"analysis-{resolution_m:g}m.tif"
    resampling: dict[str, Any] = {"benchmark": "catchments.analysis_grid", "subject": "ours", "cached": True}
    if not dem.exists():
        vrt = write_mosaic(tile_directory(workdir.parent / "elevation", 40))
        with timed(resampling):
            resample_dem(StoredRaster(str(vrt), str(vrt)), resolution_m, 256).rename(dem)
        resampling["cached"] = False
    pours = workdir / f"pour-points-{resolution_m:g}m.npy"
    np.save(
        pours, reference_pour_points(workdir / "hydrography" / "rivers.geojson", rivers_info, resolution_m)
    )
    return dem, workdir / "hydrography" / "rivers.geojson", pours, resampling


def reference_pour_points(rivers: Path, info: dict[str, Any], cell: float) -> np.ndarray:
    """The peer's outlets: one and a half cells before each reach's end on the published lines moved
    back by the planted offset (the basin outlet at its very end), as our pour cells are chosen."""
    from landing_zone.defs.catchments.reaches import RiverLine, split_rivers
    from landing_zone.defs.catchments.river_source import parse_rivers, river_lines

    offset = np.array(info["offset_m"])
    published = river_lines(parse_rivers(json.loads(rivers.read_text()), str(rivers)))
    points = []
    for reach in split_rivers([RiverLine(r.river_id, r.points - offset, r.receiving) for r in published]):
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(reach.points, axis=0).T))])
        at = arc[-1] if reach.downstream is None else max(arc[-1] - 1.5 * cell, 0.0)
        points.append([np.interp(at, arc, reach.points[:, 0]), np.interp(at, arc, reach.points[:, 1])])
    return np.array(points)


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
        reaches, _ = reaches_on_grid(aligned, area, directions, 100.0)
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
    """A plain pyflwdir script: fill and D8 from the DEM, basins at the given pour points."""
    import pyflwdir
    import rasterio

    result: dict[str, Any] = {}
    with timed(result):
        with rasterio.open(dem_path) as dataset:
            dem, transform = dataset.read(1), dataset.transform
        flw = pyflwdir.from_dem(dem, nodata=NODATA, transform=transform, latlon=False, outlets="edge")
        pours = np.load(pours_path)
        basins = flw.basins(xy=(pours[:, 0], pours[:, 1]), ids=np.arange(1, len(pours) + 1, dtype=np.int32))
    result["basin_cells"] = int((basins > 0).sum())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="delineate at 20 m instead of 10 m")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/catchments"))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, dem, other = args.child
        if subject == "pyflwdir":
            child_report(pyflwdir_peer(dem, other))
        else:
            child_report(ours(dem, other, with_layers=subject == "ours_with_layers"))
        return
    resolution = 20.0 if args.quick else 10.0
    args.workdir.mkdir(parents=True, exist_ok=True)
    dem, rivers, pours, resampling = prepare(args.workdir, resolution)
    print(json.dumps(resampling), flush=True)
    lines = compare(
        "catchments.delineation",
        ["ours", "pyflwdir", "ours_with_layers"],
        lambda subject: run_child(
            MODULE, [subject, str(dem), str(pours if subject == "pyflwdir" else rivers)]
        ),
        args.rounds,
        {"size": "40x40 km bench region", "analysis_resolution_m": resolution},
    )
    planted = json.loads((args.workdir / "offset.json").read_text())
    estimated = lines[0]["offset_estimated_m"]
    error = float(np.hypot(estimated[0] - planted[0], estimated[1] - planted[1]))
    print(
        json.dumps(
            {
                "benchmark": "catchments.targets",
                "subject": "ours",
                "wall_ratio_ok": lines[0]["ratio_to_peer"] <= 2.0,
                "offset_planted_m": planted,
                "offset_estimated_m": estimated,
                "offset_error_m": round(error, 3),
                "offset_within_one_cell": error <= resolution,
            }
        )
    )


if __name__ == "__main__":
    main()
