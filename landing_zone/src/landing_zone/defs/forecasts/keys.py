"""Asset keys of the forecasts domain that stay inside ``landing_zone``.

``forecast/grib/raw`` is read only by this location's own decoding step, and ``forecast/grib/fields``
only by this location's catchment forecast forcings, so their keys live here rather than in
:mod:`shared.assets.landing_zone` (which holds only what crosses code locations).
"""

from dagster import AssetKey

FORECAST_GRIB_RAW = AssetKey(["forecast", "grib", "raw"])
"""Each weather-model run's GRIB2 file as the provider published it, one partition per run time."""

FORECAST_GRIB_FIELDS = AssetKey(["forecast", "grib", "fields"])
"""Each run's variables as COGs on the region's analysis grid, one partition per run time."""

RETAINED_RUN_ASSETS = (FORECAST_GRIB_RAW, FORECAST_GRIB_FIELDS)
"""The run-partitioned assets whose old runs retention removes; forecasts derived from the runs are
kept."""
