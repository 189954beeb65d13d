"""Static attributes of the progressive catchments: the LSTM's static inputs
(:data:`shared.assets.landing_zone.CATCHMENT_ATTRIBUTES`).

Terrain statistics come from the consolidated DTM at its own resolution, not the analysis DEM: the
analysis DEM is the DTM averaged onto coarser cells, which flattens slopes and shrinks the elevation's
standard deviation (a 250 m average of a valley side is a gentle plane). The catchment polygons are
drawn on the analysis grid, so they cut no DTM cell when the grids nest; exactextract weights each cell
by the share of it inside the polygon anyway, which keeps the statistics exact when they do not.

- ``area_km2``: the polygon's planar area in the region's (projected) CRS.
- ``elevation_mean_m``, ``elevation_std_m``: coverage-weighted mean and population standard deviation of
  the DTM (exactextract ``mean``, ``stdev``).
- ``slope_mean_deg``: coverage-weighted mean of the DTM's slope, Horn's (1981) 3x3 finite differences,
  ``atan(|∇z|)`` in degrees. A cell without all eight neighbours (the raster's edge, next to nodata) has
  no slope and does not count.
- ``canopy_height_mean_m``: coverage-weighted mean of DSM minus DTM (the DSM read onto the DTM's grid),
  negative differences clipped to 0: a surface below the terrain is the two models' noise (or water),
  not a negative height of vegetation or buildings.
- ``drainage_density_km_per_km2``: the length of every reach at and above the catchment's outlet reach
  (the reaches layer's ``length_m``, following ``downstream_id``) over ``area_km2``.
- ``strahler_order``: the outlet reach's Strahler order (reaches layer).
- ``compactness``: Gravelius' coefficient, perimeter over the circumference of the circle of equal area,
  ``P / (2 sqrt(π A))``: 1 for a circle, larger for longer or more ragged shapes. The polygons follow
  cell edges, so a smooth boundary is measured as a staircase: that adds up to 4/π (27 %) for a boundary
  running diagonally to the grid, the same for every catchment at one analysis resolution.

The slope and canopy rasters are written block-wise (:data:`BLOCK_ROWS` rows at a time, with a
one-row halo) into a temporary tiled GTiff, so memory is bounded by the block, not the region.
rasterio, exactextract and shapely are imported inside the functions.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.catchments.reaches import topological_order
from shared.vectors.geoframe import GeoFrame

ATTRIBUTE_SCHEMA = {
    "catchment_id": pl.String,
    "area_km2": pl.Float64,
    "elevation_mean_m": pl.Float64,
    "elevation_std_m": pl.Float64,
    "slope_mean_deg": pl.Float64,
    "canopy_height_mean_m": pl.Float64,
    "drainage_density_km_per_km2": pl.Float64,
    "strahler_order": pl.Float64,
    "compactness": pl.Float64,
}
"""The ``features/catchment_attributes`` table."""
ATTRIBUTE_DESCRIPTIONS = {
    "area_km2": "Progressive catchment's area (km2)",
    "elevation_mean_m": "Mean terrain elevation over the catchment (m above sea level, DTM)",
    "elevation_std_m": "Standard deviation of the terrain elevation over the catchment (m)",
    "slope_mean_deg": "Mean terrain slope over the catchment, Horn's method (degrees)",
    "canopy_height_mean_m": "Mean canopy height, DSM minus DTM, over the catchment (m)",
    "drainage_density_km_per_km2": "Length of the reaches at and above the outlet per catchment "
    "area (km/km2)",
    "strahler_order": "Strahler order of the catchment's outlet reach",
    "compactness": "Gravelius coefficient, perimeter / circumference of the circle of equal area "
    "(>= 1; 1 for a circle)",
}
"""Descriptions, with units, of :data:`ATTRIBUTE_SCHEMA`'s columns."""

BLOCK_ROWS = 512
"""Rows of the DTM per block when deriving slope and canopy height (one GTiff tile row)."""


def attribute_table(
    catchments: GeoFrame, reaches: GeoFrame, dtm_path: str, dsm_path: str, scratch: Path
) -> pl.DataFrame:
    """One row of :data:`ATTRIBUTE_SCHEMA` per progressive catchment (``reach_id`` is its id)."""
    geometries = catchments.geometries()
    derived = terrain_derivatives(dtm_path, dsm_path, scratch / "slope_canopy.tif")
    elevation = zonal(dtm_path, geometries, catchments.crs, ["mean", "stdev"])
    slope_canopy = zonal(str(derived), geometries, catchments.crs, ["mean"])
    ids = catchments.frame["reach_id"]
    network = network_attributes(reaches).rename({"reach_id": "catchment_id"})
    return (
        pl.DataFrame(
            {
                "catchment_id": ids,
                "area_km2": shape_areas_km2(geometries),
                "elevation_mean_m": elevation[:, 0],
                "elevation_std_m": elevation[:, 1],
                "slope_mean_deg": slope_canopy[:, 0],
                "canopy_height_mean_m": slope_canopy[:, 1],
                "compactness": gravelius(geometries),
            }
        )
        .join(network, on="catchment_id", how="left")
        .with_columns(
            drainage_density_km_per_km2=pl.col("upstream_length_m") / 1000.0 / pl.col("area_km2"),
        )
        .select(pl.col(name).cast(dtype) for name, dtype in ATTRIBUTE_SCHEMA.items())
    )


def shape_areas_km2(geometries: Any) -> np.ndarray:
    """Planar polygon areas in km² (the CRS is projected in metres)."""
    import shapely

    return np.asarray(shapely.area(geometries), dtype=float) / 1e6


def gravelius(geometries: Any) -> np.ndarray:
    """Gravelius' compactness coefficient ``P / (2 sqrt(π A))`` of each polygon."""
    import shapely

    return np.asarray(shapely.length(geometries) / (2.0 * np.sqrt(np.pi * shapely.area(geometries))))


def network_attributes(reaches: GeoFrame) -> pl.DataFrame:
    """Per reach: ``upstream_length_m`` (its own and every reach's above it) and ``strahler_order``.

    Lengths accumulate headwaters first along ``downstream_id``: each reach has one downstream reach, so
    every upstream reach is counted once."""
    frame = reaches.frame
    downstream = dict(zip(frame["reach_id"], frame["downstream_id"], strict=True))
    upstream_length = dict(zip(frame["reach_id"], frame["length_m"].cast(pl.Float64), strict=True))
    inflows: dict[str, list[str]] = defaultdict(list)
    for reach, target in downstream.items():
        if target is not None:
            inflows[target].append(reach)
    for reach in topological_order(downstream):
        upstream_length[reach] += sum(upstream_length[u] for u in inflows[reach])
    return frame.select(
        "reach_id",
        pl.col("reach_id")
        .replace_strict(upstream_length, return_dtype=pl.Float64)
        .alias("upstream_length_m"),
        "strahler_order",
    )


def zonal(raster: str, geometries: Any, crs: str, operations: list[str]) -> np.ndarray:
    """(catchments, bands x operations) coverage-weighted statistics of ``raster`` (exactextract), in
    band-major order; NaN where a catchment covers no valid cell."""
    import rasterio
    import shapely
    from exactextract import exact_extract

    with rasterio.open(raster) as dataset:
        if dataset.crs is None or dataset.crs != rasterio.crs.CRS.from_user_input(crs):
            raise ValueError(f"{raster}: CRS {dataset.crs} is not the catchments' {crs}")
    features = [
        {"type": "Feature", "properties": {"n": n}, "geometry": shapely.geometry.mapping(g)}
        for n, g in enumerate(geometries)
    ]
    results = exact_extract(raster, features, operations, output="pandas")
    columns = [name for name in results.columns if name != "n"]
    return results[columns].to_numpy(dtype=float, na_value=np.nan)


def terrain_derivatives(dtm_path: str, dsm_path: str, destination: Path) -> Path:
    """A two-band float32 GTiff on the DTM's grid: slope in degrees (Horn) and DSM minus DTM clipped at
    0 (module docstring); NaN is nodata."""
    import rasterio
    from rasterio.vrt import WarpedVRT

    with rasterio.open(dtm_path) as dtm, rasterio.open(dsm_path) as dsm_source:
        check_metric(dtm, dtm_path)
        profile = derived_profile(dtm.profile)
        aligned = dict(crs=dtm.crs, transform=dtm.transform, width=dtm.width, height=dtm.height)
        with (
            WarpedVRT(dsm_source, resampling=rasterio.enums.Resampling.bilinear, **aligned) as dsm,
            rasterio.open(destination, "w", **profile) as out,
        ):
            dx, dy = abs(dtm.transform.a), abs(dtm.transform.e)
            for first in range(0, dtm.height, BLOCK_ROWS):
                rows = min(BLOCK_ROWS, dtm.height - first)
                window = rasterio.windows.Window(0, first, dtm.width, rows)
                terrain = read_with_halo(dtm, first, rows)
                out.write(horn_slope_deg(terrain, dx, dy), 1, window=window)
                out.write(canopy_height(read_valid(dsm, window), terrain[1:-1]), 2, window=window)
    return destination


def check_metric(dtm: Any, path: str) -> None:
    """Slopes in degrees need cells measured in the same unit as the heights: metres."""
    if dtm.crs is None or not dtm.crs.is_projected or dtm.crs.linear_units not in {"metre", "meter"}:
        raise ValueError(f"{path}: the DTM's CRS {dtm.crs} is not projected in metres; slope needs it")


def derived_profile(dtm_profile: Any) -> dict[str, Any]:
    """The DTM's grid as a tiled two-band float32 GTiff with NaN nodata."""
    return {
        **{key: dtm_profile[key] for key in ("crs", "transform", "width", "height")},
        "driver": "GTiff",
        "count": 2,
        "dtype": "float32",
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "compress": "deflate",
    }


def read_valid(dataset: Any, window: Any) -> np.ndarray:
    """Band 1 of ``window`` as float64, nodata as NaN."""
    values = dataset.read(1, window=window, masked=True).astype(float)
    return np.ma.filled(values, np.nan)


def read_with_halo(dtm: Any, first: int, rows: int) -> np.ndarray:
    """Rows ``first - 1 .. first + rows`` of the DTM with a column of NaN each side (NaN beyond the
    raster), so every cell of the block has its 3x3 neighbourhood."""
    import rasterio

    top, bottom = max(first - 1, 0), min(first + rows + 1, dtm.height)
    block = read_valid(dtm, rasterio.windows.Window(0, top, dtm.width, bottom - top))
    padded = np.full((rows + 2, dtm.width + 2), np.nan)
    padded[top - (first - 1) : top - (first - 1) + block.shape[0], 1:-1] = block
    return padded


def horn_slope_deg(z: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Slope in degrees of the interior of ``z`` (Horn 1981): NaN where a neighbour is NaN."""
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dz_dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * dx)
    dz_dy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * dy)
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)


def canopy_height(dsm: np.ndarray, dtm: np.ndarray) -> np.ndarray:
    """DSM minus DTM on the DTM's cells (the halo's column padding dropped), clipped at 0."""
    return np.maximum(dsm - dtm[:, 1:-1], 0.0).astype(np.float32)
