"""Elevation domain: DTM and DSM tiles to consolidated COGs (one component, two instances)."""
