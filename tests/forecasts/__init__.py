"""The forecasts domain: weather-model runs in the raw layer, their schedule, late runs and retention."""
