"""Satellite imagery: the STAC catalogue's monthly scenes copied into the raw layer and composited into a
cloud-masked NDVI COG per month and region."""
