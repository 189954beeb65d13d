"""The satellite domain's definitions: ``satellite/scenes`` (a month's scenes of a region copied from the
STAC catalogue into the raw layer), ``satellite/ndvi`` (their cloud-masked NDVI composite), their checks
(specs of the assets, run on the candidate before publication) and the sensor that registers the
catalogue's months and requests new or changed ones."""

import dagster as dg

from landing_zone.defs.satellite.assets import ndvi, scenes
from landing_zone.defs.satellite.sensors import satellite_catalog_sensor

defs = dg.Definitions(assets=[scenes, ndvi], sensors=[satellite_catalog_sensor])
"""The domain's one entry point: the defs-folder loader takes this module-level ``Definitions``."""
