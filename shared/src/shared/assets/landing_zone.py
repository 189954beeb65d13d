"""Asset keys produced by the ``landing_zone`` code location that other locations may depend on."""

from dagster import AssetKey

DEMO_TERRAIN = AssetKey(["elevation", "demo", "terrain"])
"""A synthetic terrain COG (EPSG:2180, 2 m) standing in for the consolidated DTM until it exists."""

DEMO_TERRAIN_TILE_STATISTICS = AssetKey(["elevation", "demo", "terrain_tile_statistics"])
"""Per 1 km tile statistics of :data:`DEMO_TERRAIN` (Parquet)."""
