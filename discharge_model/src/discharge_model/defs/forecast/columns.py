"""The columns of ``discharge_model/discharge_forecast``'s ``part.parquet``, described with units.

The table is assembled in the asset's step from several modules; declaring its columns here keeps the
catalogue's descriptions in one place.
"""

import polars as pl

FORECAST_SCHEMA = {
    "catchment_id": pl.String(),
    "gauge": pl.String(),
    "run_time": pl.Datetime("us", "UTC"),
    "date": pl.Date(),
    "lead_day": pl.Int32(),
    "area_km2": pl.Float64(),
    "discharge_mm": pl.Float64(),
    "discharge_m3s": pl.Float64(),
    "local_inflow_m3s": pl.Float64(),
    "corrected_m3s": pl.Float64(),
    "last_observed_m3s": pl.Float64(),
    "last_observed_date": pl.Date(),
    "model_run": pl.String(),
}

FORECAST_DESCRIPTIONS = {
    "gauge": "Gauge matched to the catchment (gauge_catchments); null if none",
    "date": "Forecast day (UTC calendar day)",
    "area_km2": "Area of the progressive catchment (km2)",
    "discharge_mm": "Model's specific discharge, clipped at 0 (mm/day)",
    "discharge_m3s": "Model's discharge, discharge_mm x area_km2 / 86.4 (m3/s)",
    "local_inflow_m3s": "Reach's own inflow: its discharge minus its direct upstream reaches' (m3/s; may be "
    "negative)",
    "corrected_m3s": "Forecast issued at the gauge: the model plus its error at the last valid observation "
    "(m3/s, clipped at 0); null without a gauge",
    "last_observed_m3s": "Last valid observed discharge before the run's day, the persistence forecast "
    "(m3/s); null without one",
    "last_observed_date": "Day of last_observed_m3s; null without one",
    "model_run": "Run id of the promoted model that produced the forecast",
}
