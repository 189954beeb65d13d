"""Weather-model forecasts: GRIB2 runs four times a day, kept raw, decoded into fields per run."""
