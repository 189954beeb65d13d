"""The columns of the river and catchment layers, with their descriptions and units, in one place.

The layers are built across several modules (river source, reaches, polygons); declaring their columns
here lets the assets describe them in the catalogue without importing the builders (shapely, numpy) at
definition load. Ids, areas and geometry are described in :data:`shared.columns.COMMON`.
"""

import polars as pl

GEOMETRY = {"geometry": pl.Binary()}

RIVERS = {
    "river_id": pl.String(),
    "name": pl.String(),
    "receiving": pl.String(),
    "length_m": pl.Float64(),
} | GEOMETRY
"""``hydrography/rivers`` and ``hydrography/rivers_aligned``: one line per river, source to mouth."""

REACHES = {
    "reach_id": pl.String(),
    "river_id": pl.String(),
    "downstream_id": pl.String(),
    "strahler_order": pl.Int32(),
    "length_m": pl.Float64(),
    "pour_x": pl.Float64(),
    "pour_y": pl.Float64(),
    "upstream_area_km2": pl.Float64(),
    "merged_reaches": pl.String(),
} | GEOMETRY
"""``catchments/reaches`` (the attributes are :data:`.reach_layers.REACH_SCHEMA`)."""

REACH_CATCHMENTS = {
    "reach_id": pl.String(),
    "river_id": pl.String(),
    "downstream_id": pl.String(),
    "upstream_area_km2": pl.Float64(),
    "cells": pl.Int64(),
    "area_km2": pl.Float64(),
} | GEOMETRY
"""``catchments/reach_catchments``: one polygon per reach."""

PROGRESSIVE_CATCHMENTS = {
    "reach_id": pl.String(),
    "river_id": pl.String(),
    "downstream_id": pl.String(),
    "upstream_area_km2": pl.Float64(),
    "reach_area_km2": pl.Float64(),
    "progressive_area_km2": pl.Float64(),
    "upstream_reaches": pl.Int64(),
} | GEOMETRY
"""``catchments/progressive_catchments``: each reach's whole upstream catchment."""

DESCRIPTIONS = {
    "name": "River name from the hydrography source; null when unnamed",
    "receiving": "river_id of the river this one flows into; null for a river leaving the region",
    "length_m": "Length of the line in the layer's CRS (m)",
    "strahler_order": "Strahler order of the reach (1 for a headwater reach)",
    "pour_x": "Easting of the reach's pour cell centre, in the layer's CRS (m)",
    "pour_y": "Northing of the reach's pour cell centre, in the layer's CRS (m)",
    "upstream_area_km2": "Area draining through the reach's pour cell by the D8 flow accumulation (km2)",
    "merged_reaches": "Reaches without a pour cell of their own merged into this one; null when none",
    "cells": "Analysis grid cells of the reach's own catchment",
    "area_km2": "Area of the reach's own catchment (km2)",
    "reach_area_km2": "Area of the outlet reach's own catchment (km2)",
    "progressive_area_km2": "Area of the whole catchment upstream of the reach's pour point (km2)",
    "upstream_reaches": "Reaches in the progressive catchment, the outlet reach included",
}
"""Descriptions, with units, of the layers' own columns."""
