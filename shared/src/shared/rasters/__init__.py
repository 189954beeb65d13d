"""Raster helpers: describing and writing Cloud Optimized GeoTIFFs (rasterio imported lazily)."""
