"""The forecasts' definitions: the landing-zone forecast forcings (by registry key), the discharge forecast
per weather-model run and its verification per region."""

import dagster as dg

from discharge_model.defs.forecast.assets import FORECAST_INPUTS, discharge_forecast, forecast_verification


def forecast_definitions() -> dg.Definitions:
    """The domain's one entry point, so the location root needs to know no module but this one."""
    return dg.Definitions(assets=[*FORECAST_INPUTS, discharge_forecast, forecast_verification])
