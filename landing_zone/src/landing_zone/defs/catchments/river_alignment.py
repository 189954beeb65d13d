"""Move the published rivers onto the DEM's drainage: reproject, estimate the offset, shift if trusted."""

from __future__ import annotations

import numpy as np
import polars as pl

from landing_zone.defs.catchments.alignment import OffsetEstimate, estimate_offset, plan_search, valley_depth
from landing_zone.defs.catchments.rasters import read_grid
from shared.rasters.handles import StoredRaster
from shared.vectors.geoframe import GeoFrame


def align_rivers(
    rivers: GeoFrame, dem: StoredRaster, min_search_m: float = 15.0, search_cells: int = 2
) -> tuple[GeoFrame, OffsetEstimate]:
    """The rivers in the DEM's CRS shifted by the estimated correction (none when the estimate is not
    trusted), and the estimate.

    The search radius is ``search_cells`` analysis cells, at least ``min_search_m`` metres; a radius the
    DEM's resolution or size cannot serve is refused (ValueError) before any evidence is computed. The
    evidence is the DEM's own valley lines (no burning): the vectors must be compared with what the
    terrain says, not with themselves.
    """
    import pyproj
    import shapely

    grid = read_grid(dem)
    plan = plan_search(grid.grid.cell, grid.values.shape, search_cells, min_search_m)
    dem_crs = pyproj.CRS.from_wkt(grid.crs)
    lines = rivers.geometries()
    if not dem_crs.equals(pyproj.CRS.from_user_input(rivers.crs)):
        transformer = pyproj.Transformer.from_crs(rivers.crs, dem_crs, always_xy=True)
        lines = shapely.transform(
            lines, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
        )
    evidence = valley_depth(grid.values, grid.nodata)
    estimate = estimate_offset(evidence, grid.grid, [shapely.get_coordinates(line) for line in lines], plan)
    shifted = shapely.transform(lines, lambda xy: xy + np.array(estimate.correction))
    epsg = dem_crs.to_epsg()
    attributes = rivers.attributes.with_columns(length_m=pl.Series(shapely.length(shifted)))
    aligned = GeoFrame.from_geometries(attributes, list(shifted), f"EPSG:{epsg}" if epsg else grid.crs)
    return aligned, estimate
