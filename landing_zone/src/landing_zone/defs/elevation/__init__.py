"""Elevation domain: terrain rasters and their statistics."""
