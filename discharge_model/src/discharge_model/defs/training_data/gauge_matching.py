"""Match hydro gauges to the progressive catchments they measure, explicitly and with the evidence kept.

A gauge measures everything upstream of its position, so its catchment is the progressive catchment of
the reach it sits on. Per gauge (its WGS84 position projected into the layers' CRS):

1. Region: a gauge belongs to the region when it lies within the search distance of one of the region's
   reach catchments (which tile the region's basins); other gauges of the provider's list are another
   region's and are only counted.
2. Candidates: the reaches whose line passes within ``search_cells`` analysis cells of the gauge. The
   cell size is the data's own, read from the reach catchments (``area_km2 / cells``), because reaches
   follow rivers that were aligned to that grid: a gauge on the river lies within a cell or two of them.
3. Choice: the nearest line; lines as near within half a cell (below what the grid can tell apart, e.g.
   at a confluence or where two reaches meet) tie, and the tie goes to the larger upstream area (the
   reach below a confluence, whose catchment holds both rivers). ``tied_reaches`` keeps how many tied.
4. Area check: the matched progressive catchment's area over the area the gauge drains. Without a
   provider area, the latter is taken along the reach: the reach's inflow from upstream (its progressive
   area minus its own reach catchment) plus the share of its own catchment above the gauge, in
   proportion to the gauge's position along the line (lateral inflow spread evenly along ~100 m). A
   ratio far from 1 means the catchment the model would be trained on is not the gauge's.

Nothing here guesses: an unmatched gauge stays in the table with a null ``catchment_id`` and the distance
to its nearest reach, so the check that refuses it can say how far it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from shared.vectors.geoframe import GeoFrame

WGS84 = "EPSG:4326"
"""The station list's coordinates (``lon``, ``lat``)."""

PROVIDER_AREA = "area_km2"
"""Optional station-list column: the provider's catchment area of the gauge, preferred when present."""

MATCH_SCHEMA = pl.Schema(
    {
        "gauge": pl.String(),
        "gauge_name": pl.String(),
        "river": pl.String(),
        "x": pl.Float64(),
        "y": pl.Float64(),
        "catchment_id": pl.String(),
        "match_distance_m": pl.Float64(),
        "search_distance_m": pl.Float64(),
        "cell_size_m": pl.Float64(),
        "tied_reaches": pl.Int32(),
        "catchment_area_km2": pl.Float64(),
        "area_at_gauge_km2": pl.Float64(),
        "area_ratio": pl.Float64(),
        "area_ratio_basis": pl.String(),
        "area_ratio_min": pl.Float64(),
        "area_ratio_max": pl.Float64(),
        "conditioning": pl.String(),
    }
)
"""The ``discharge_model/gauge_catchments`` table (see its registry docstring)."""

MATCH_DESCRIPTIONS = {
    "gauge_name": "Gauge name from the station list",
    "river": "River the gauge lies on, from the station list",
    "x": "Gauge easting in the region's CRS (m)",
    "y": "Gauge northing in the region's CRS (m)",
    "catchment_id": "Matched reach's id (= the progressive catchment's reach_id); null when none lies within "
    "the search distance",
    "match_distance_m": "Distance from the gauge to the matched (or, unmatched, the nearest) reach's "
    "line (m)",
    "search_distance_m": "Largest accepted gauge-to-reach distance, derived from the cell size (m)",
    "cell_size_m": "Analysis cell size the search distance was derived from (m)",
    "tied_reaches": "Reaches as near as the chosen one within half a cell (the larger upstream area won)",
    "catchment_area_km2": "Area of the matched progressive catchment (km2)",
    "area_at_gauge_km2": "Catchment area at the gauge: the provider's, else upstream of the gauge along the "
    "reach (km2)",
    "area_ratio": "catchment_area_km2 / area_at_gauge_km2 (dimensionless)",
    "area_ratio_basis": "provider or along_reach: where area_at_gauge_km2 comes from",
    "area_ratio_min": "Smallest accepted area ratio (dimensionless)",
    "area_ratio_max": "Largest accepted area ratio (dimensionless)",
    "conditioning": "DEM conditioning strategy of the catchments matched (burn_fill or fill)",
}
"""Descriptions, with units, of :data:`MATCH_SCHEMA`'s columns."""


@dataclass(frozen=True)
class MatchSettings:
    """The numbers of the matching, both relative to the data."""

    search_cells: float
    """Search distance in analysis cells."""
    max_area_ratio: float
    """Accepted ``area_ratio`` range is ``[1 / max_area_ratio, max_area_ratio]``."""
    conditioning: str
    """The catchments' conditioning strategy, recorded in every row."""


@dataclass(frozen=True)
class Matches:
    """The match table and the gauges of the list that are not in it, with why."""

    table: pl.DataFrame
    outside_region: list[str]
    """Gauges farther than the search distance from every reach catchment: another region's."""
    unplaced: list[str]
    """Gauges without a position in the station list."""


class MatchingInputError(ValueError):
    """A layer lacks what matching needs; the message names the layer and the column."""


def analysis_cell_size(reach_catchments: pl.DataFrame, source: str) -> float:
    """The analysis cell size in metres, from the reach catchments' ``area_km2`` and ``cells``.

    Every catchment is a whole number of cells of one grid, so every row gives the same size; rows that
    disagree by more than a part in a million mean the layer is not what this assumes, named in the error.
    """
    for column in ("cells", "area_km2"):
        if column not in reach_catchments.columns:
            raise MatchingInputError(f"{source}: no column {column!r} to derive the analysis cell size from")
    rows = reach_catchments.filter(pl.col("cells") > 0)
    if rows.is_empty():
        raise MatchingInputError(f"{source}: no reach catchment with cells, so no analysis cell size")
    sizes = np.sqrt(rows["area_km2"].to_numpy() * 1e6 / rows["cells"].to_numpy())
    size = float(np.median(sizes))
    if not np.allclose(sizes, size, rtol=1e-6):
        raise MatchingInputError(
            f"{source}: area_km2 / cells gives cell sizes {sizes.min():.6f}..{sizes.max():.6f} m, "
            "not those of one grid"
        )
    return size


def match_gauges(
    stations: pl.DataFrame,
    reaches: GeoFrame,
    progressive: pl.DataFrame,
    reach_catchments: GeoFrame,
    settings: MatchSettings,
) -> Matches:
    """Match every gauge of ``stations`` (``code``, ``name``, ``river``, ``lon``, ``lat``, optional
    ``area_km2``) that lies in the region to one reach of ``reaches`` (lines with ``reach_id``,
    ``pour_x``, ``pour_y``), whose progressive catchment (``progressive``: ``reach_id``,
    ``progressive_area_km2``, ``reach_area_km2``) it measures. ``reach_catchments`` (polygons with
    ``cells``, ``area_km2``) give the region's extent and the analysis cell size."""
    import pyproj
    import shapely

    _require(stations, ("code", "name", "river", "lon", "lat"), "the hydro station list")
    _require(reaches.frame, ("reach_id", "pour_x", "pour_y"), "the reaches")
    _require(
        progressive, ("reach_id", "progressive_area_km2", "reach_area_km2"), "the progressive catchments"
    )
    cell = analysis_cell_size(reach_catchments.frame, "the reach catchments")
    search = settings.search_cells * cell
    placed = stations.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    unplaced = sorted(set(stations["code"]) - set(placed["code"]))
    x, y = pyproj.Transformer.from_crs(WGS84, reaches.crs, always_xy=True).transform(
        placed["lon"].to_numpy(), placed["lat"].to_numpy()
    )
    points = shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    near_region, _ = shapely.STRtree(reach_catchments.geometries()).query(
        points, predicate="dwithin", distance=search
    )
    inside = np.zeros(len(points), dtype=bool)
    inside[near_region] = True
    areas = _reach_areas(reaches, progressive)
    lines = reaches.geometries()
    tree = shapely.STRtree(lines)
    rows = []
    for index in np.flatnonzero(inside):
        station = placed.row(int(index), named=True)
        rows.append(_match_one(station, points[index], lines, tree, areas, cell, search, settings))
    table = pl.from_dicts(rows, schema=MATCH_SCHEMA) if rows else pl.DataFrame(schema=MATCH_SCHEMA)
    outside = sorted(placed.filter(pl.Series(~inside))["code"].to_list())
    return Matches(table.sort("gauge"), outside, unplaced)


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise MatchingInputError(f"{what}: missing column(s) {missing} (has {frame.columns})")


@dataclass(frozen=True)
class _ReachAreas:
    """Per reach (in the reaches layer's order): progressive and own area, pour point."""

    reach_id: list[str]
    progressive_km2: np.ndarray
    own_km2: np.ndarray
    pour: np.ndarray


def _reach_areas(reaches: GeoFrame, progressive: pl.DataFrame) -> _ReachAreas:
    joined = reaches.frame.select("reach_id", "pour_x", "pour_y").join(
        progressive.select("reach_id", "progressive_area_km2", "reach_area_km2"), on="reach_id", how="left"
    )
    lacking = joined.filter(pl.col("progressive_area_km2").is_null())["reach_id"].to_list()
    if lacking:
        raise MatchingInputError(
            f"reaches {lacking[:5]} ({len(lacking)} in all) have no progressive catchment: the layers are "
            "not of one conditioning strategy and region"
        )
    return _ReachAreas(
        joined["reach_id"].to_list(),
        joined["progressive_area_km2"].to_numpy(),
        joined["reach_area_km2"].fill_null(0.0).to_numpy(),
        joined.select("pour_x", "pour_y").to_numpy(),
    )


def _match_one(
    station: dict[str, Any],
    point: Any,
    lines: Any,
    tree: Any,
    areas: _ReachAreas,
    cell: float,
    search: float,
    settings: MatchSettings,
) -> dict[str, Any]:
    """One row of the match table for one gauge inside the region."""
    import shapely

    row: dict[str, Any] = {
        "gauge": station["code"],
        "gauge_name": station["name"],
        "river": station["river"],
        "x": shapely.get_x(point),
        "y": shapely.get_y(point),
        "search_distance_m": search,
        "cell_size_m": cell,
        "area_ratio_min": 1.0 / settings.max_area_ratio,
        "area_ratio_max": settings.max_area_ratio,
        "conditioning": settings.conditioning,
    }
    candidates = tree.query(point, predicate="dwithin", distance=search)
    if len(candidates) == 0:
        _, nearest = tree.query_nearest(point, return_distance=True)
        return row | {"match_distance_m": float(nearest[0]) if len(nearest) else None}
    distances = shapely.distance(lines[candidates], point)
    ties = candidates[distances <= distances.min() + cell / 2]
    chosen = int(max(ties, key=lambda i: (areas.progressive_km2[i], areas.reach_id[i])))
    catchment_km2 = float(areas.progressive_km2[chosen])
    provider = station.get(PROVIDER_AREA)
    if provider is not None and provider > 0:
        at_gauge, basis = float(provider), "provider"
    else:
        at_gauge, basis = _area_along_reach(lines[chosen], point, areas, chosen), "along_reach"
    return row | {
        "catchment_id": areas.reach_id[chosen],
        "match_distance_m": float(shapely.distance(lines[chosen], point)),
        "tied_reaches": len(ties),
        "catchment_area_km2": catchment_km2,
        "area_at_gauge_km2": at_gauge,
        "area_ratio": catchment_km2 / at_gauge if at_gauge > 0 else None,
        "area_ratio_basis": basis,
    }


def _area_along_reach(line: Any, point: Any, areas: _ReachAreas, reach: int) -> float:
    """The area upstream of the gauge's position on the reach: the reach's inflow plus the share of its
    own catchment between its upstream end and the gauge. The pour point marks the downstream end, so
    the line's direction as stored does not matter."""
    import shapely

    along = float(shapely.line_locate_point(line, point, normalized=True))
    start, end = shapely.get_point(line, 0), shapely.get_point(line, -1)
    pour = shapely.points(*areas.pour[reach])
    if shapely.distance(pour, start) < shapely.distance(pour, end):
        along = 1.0 - along  # the line runs upstream from its pour point
    own = float(areas.own_km2[reach])
    return float(areas.progressive_km2[reach]) - own + own * along
