"""Catchments domain: river alignment, DEM conditioning, reaches and partial catchments."""
