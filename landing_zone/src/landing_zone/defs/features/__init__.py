"""Catchment features: what the discharge model eats, built from the polished series and the terrain."""
