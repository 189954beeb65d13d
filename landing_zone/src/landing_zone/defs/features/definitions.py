"""The features domain's definitions: so far the daily meteo grids, their checks (specs of the asset,
run on the candidate before publication) and the sensor that registers their month partitions."""

import dagster as dg

from landing_zone.defs.features.assets import daily_grids
from landing_zone.defs.features.sensors import meteo_months_sensor

defs = dg.Definitions(assets=[daily_grids], sensors=[meteo_months_sensor])
"""The domain's one entry point: the defs-folder loader takes this module-level ``Definitions``."""
