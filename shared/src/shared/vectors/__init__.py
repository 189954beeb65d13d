"""Vector layers: a polars frame with WKB geometry and its CRS, stored as GeoParquet and FlatGeobuf."""
