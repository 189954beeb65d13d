"""The forecasts domain's definitions: ``forecast/grib/raw`` (one partition per weather-model run) and
``forecast/grib/fields`` (its decoded, checked fields), the schedule that fetches each run when it is
due, the sensor that fetches runs published late, and the retention job with its daily schedule."""

import dagster as dg

from landing_zone.defs.forecasts.assets import grib_raw
from landing_zone.defs.forecasts.fields import grib_fields
from landing_zone.defs.forecasts.schedules import (
    forecast_retention_job,
    forecast_retention_schedule,
    forecast_runs_job,
    forecast_runs_schedule,
)
from landing_zone.defs.forecasts.sensors import late_forecast_runs_sensor

defs = dg.Definitions(
    assets=[grib_raw, grib_fields],
    jobs=[forecast_runs_job, forecast_retention_job],
    schedules=[forecast_runs_schedule, forecast_retention_schedule],
    sensors=[late_forecast_runs_sensor],
)
"""The domain's one entry point: the defs-folder loader takes this module-level ``Definitions``."""
