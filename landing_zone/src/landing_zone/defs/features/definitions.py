"""The features domain's definitions: the daily meteo grids, the catchment forcings, attributes and
climatic indices, each weather-model run's catchment forecast forcings, the catchments' monthly
vegetation attributes from the satellite NDVI composites, their checks (specs of the
assets, run on the candidate before publication) and the sensor that registers the grids' month
partitions."""

import dagster as dg

from landing_zone.defs.features.assets import (
    catchment_attributes,
    catchment_climatic_indices,
    catchment_forcings,
    catchment_forecast_forcings,
    catchment_vegetation,
    daily_grids,
)
from landing_zone.defs.features.sensors import meteo_months_sensor

defs = dg.Definitions(
    assets=[
        daily_grids,
        catchment_forcings,
        catchment_attributes,
        catchment_climatic_indices,
        catchment_forecast_forcings,
        catchment_vegetation,
    ],
    sensors=[meteo_months_sensor],
)
"""The domain's one entry point: the defs-folder loader takes this module-level ``Definitions``."""
