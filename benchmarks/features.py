"""Catchment features benchmarks, each against a peer in the same run:

- ``features.zonal_means``: our zonal means (:mod:`landing_zone.defs.features.zonal`: coverage weights
  once, then a sparse matrix product over all days) against raw exactextract ``mean`` on the same raster
  and polygons.
- ``features.gridding``: a year of daily precipitation grids through our gridding code (the polished
  series' valid values per month, :func:`~landing_zone.defs.features.gridding.station_days`, IDW in row
  blocks, one COG per month) against a plain per-day numpy IDW that writes one tiled GeoTIFF; both report
  throughput in cells x days per second.

Run with ``python -m benchmarks.features`` (``make bench``). Data: the bench region's analysis grid (40 km
square at 250 m: 160 x 160 cells) with 365 daily float32 bands (one year, 2 % nodata); 6000 reach-like
polygons (a Voronoi tiling: the small region holds 140 reaches on 36 km2, so the bench region about 6000)
and as many progressive-like ones, discs whose radius is log-uniform between 300 m and 15 km (upstream
areas are heavy-tailed: most progressive catchments are headwaters, a few span the region). Target
(issue 14): ours at most 1.2x the peer's time. Gridding uses the same grid with
60 stations (5 % of station-days missing). ``--quick``: 120 x 120 cells, 31 bands, 2 x 200 polygons.
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
    west, south, east, north = extent.bounds
    seeds = shapely.points(rng.uniform((west, south), (east, north), (polygons, 2)))
    reaches = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent))
    centres = shapely.points(rng.uniform((west, south), (east, north), (polygons, 2)))
    upstream = shapely.buffer(centres, np.exp(rng.uniform(np.log(300.0), np.log(15_000.0), polygons)))
    shapes = list(shapely.intersection(reaches, extent)) + list(shapely.intersection(upstream, extent))
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


STATIONS = 60
YEAR = 2019


def months_of(days: int) -> list[str]:
    """The first months of the year whose days add up to at most ``days`` (at least one)."""
    from landing_zone.defs.features.gridding import month_dates

    months: list[str] = []
    total = 0
    for number in range(1, 13):
        month = f"{YEAR}-{number:02d}"
        total += len(month_dates(month))
        if months and total > days:
            break
        months.append(month)
    return months


def station_table(cells: int, days: int) -> tuple[Any, Any, Any]:
    """Random stations over the grid (x, y) and a polished-layout series of daily precipitation at them."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(41)
    x = rng.uniform(WEST, WEST + cells * CELL_M, STATIONS)
    y = rng.uniform(NORTH - cells * CELL_M, NORTH, STATIONS)
    dates = [dt.date(YEAR, 1, 1) + dt.timedelta(days=n) for n in range(days)]
    values = rng.gamma(0.8, 3.0, (days, STATIONS))
    delivered = rng.uniform(size=values.shape) >= 0.05
    day, station = np.nonzero(delivered)
    series = pl.DataFrame(
        {
            "station": [f"S{n:03d}" for n in station],
            "variable": "precipitation_mm",
            "time": [dt.datetime.combine(dates[d], dt.time(), dt.UTC) for d in day],
            "value": values[delivered],
            "flag": "ok",
        }
    )
    return x, y, series


def ours_gridding(cells: int, days: int, folder: Path) -> dict[str, Any]:
    """Our code path: month by month, valid values per station and day, IDW by row blocks, a COG."""
    from functools import partial

    import numpy as np
    import rasterio  # noqa: F401  (imported before the clock starts, as the peer's is)

    from landing_zone.defs.features.daily_cogs import write_daily_cog
    from landing_zone.defs.features.gridding import (
        VARIABLES,
        AnalysisGrid,
        GriddingSettings,
        Stations,
        interpolate_rows,
        month_dates,
        station_days,
    )

    x, y, series = station_table(cells, days)
    stations = Stations(tuple(f"S{n:03d}" for n in range(STATIONS)), x, y, np.zeros(STATIONS))
    grid = AnalysisGrid(WEST, NORTH, CELL_M, np.zeros((cells, cells)))
    settings = GriddingSettings()
    result: dict[str, Any] = {}
    gridded = 0
    with timed(result):
        for month in months_of(days):
            dates = month_dates(month)
            month_days = station_days(series, stations, VARIABLES["precipitation_mm"], dates, settings)
            rows = partial(interpolate_rows, month_days, stations, grid, settings=settings)
            write_daily_cog(folder / f"ours-{month}.tif", grid, "EPSG:2180", month_days, rows, "idw")
            gridded += len(dates)
    return result | {"days": gridded, "cells_x_days_per_s": round(cells * cells * gridded / result["wall_s"])}


def numpy_idw_peer(cells: int, days: int, folder: Path) -> dict[str, Any]:
    """A plain script: per day, the delivered stations' IDW (power 2) at every cell, one band per day of
    one tiled GeoTIFF (no COG copy, no overviews, no search radius)."""
    import numpy as np
    import rasterio
    from affine import Affine

    from landing_zone.defs.features.gridding import month_dates

    x, y, series = station_table(cells, days)
    gridded = sum(len(month_dates(month)) for month in months_of(days))
    table = series.pivot(on="station", index="time", values="value").sort("time")
    matrix = table.select(f"S{n:03d}" for n in range(STATIONS)).to_numpy()[:gridded]
    centres = (np.arange(cells) + 0.5) * CELL_M
    xs, ys = np.meshgrid(WEST + centres, NORTH - centres)
    distance = np.hypot(xs.ravel()[:, None] - x[None, :], ys.ravel()[:, None] - y[None, :])
    weights = np.maximum(distance, CELL_M / 2) ** -2.0
    profile = {
        "driver": "GTiff", "width": cells, "height": cells, "count": gridded, "dtype": "float32",
        "crs": "EPSG:2180", "transform": Affine(CELL_M, 0, WEST, 0, -CELL_M, NORTH), "tiled": True,
    }  # fmt: skip
    result: dict[str, Any] = {}
    with timed(result), rasterio.open(folder / "peer.tif", "w", **profile) as dataset:
        for band, values in enumerate(matrix, start=1):
            valid = np.isfinite(values)
            field = weights[:, valid] @ values[valid] / weights[:, valid].sum(axis=1)
            dataset.write(field.reshape(cells, cells).astype(np.float32), band)
    return result | {"days": gridded, "cells_x_days_per_s": round(cells * cells * gridded / result["wall_s"])}


GRIDDING = {"gridding_ours": ours_gridding, "gridding_numpy_idw": numpy_idw_peer}
ZONAL = {"zonal_ours": ours, "zonal_exactextract": exactextract_peer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="120 x 120 cells, 31 days, 400 polygons")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=Path(".bench-cache/features"))
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        subject, *values = args.child
        if subject in GRIDDING:
            child_report(GRIDDING[subject](int(values[0]), int(values[1]), Path(values[2])))
        else:
            child_report(ZONAL[subject](Path(values[0]), Path(values[1])))
        return
    cells, days, polygons = (120, 31, 200) if args.quick else (160, 365, 6000)
    args.workdir.mkdir(parents=True, exist_ok=True)
    raster, vectors = make_inputs(cells, days, polygons, args.workdir)
    compare(
        "features.zonal_means",
        ["zonal_ours", "zonal_exactextract"],
        lambda subject: run_child(MODULE, [subject, str(raster), str(vectors)]),
        args.rounds,
        {"size": f"{cells}x{cells} cells x {days} days, {polygons} reach + {polygons} progressive polygons"},
    )
    compare(
        "features.gridding",
        ["gridding_ours", "gridding_numpy_idw"],
        lambda subject: run_child(MODULE, [subject, str(cells), str(days), str(args.workdir)]),
        args.rounds,
        {"size": f"{cells}x{cells} cells, {STATIONS} stations, daily precipitation"},
    )


if __name__ == "__main__":
    main()
