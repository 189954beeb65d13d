"""Asset keys of the forecasts domain that stay inside ``landing_zone``.

``forecast/grib/raw`` is read only by this location's own decoding step, so its key lives here rather
than in :mod:`shared.assets.landing_zone` (which holds only what crosses code locations).
"""

from dagster import AssetKey

FORECAST_GRIB_RAW = AssetKey(["forecast", "grib", "raw"])
"""Each weather-model run's GRIB2 file as the provider published it, one partition per run time."""

RETAINED_RUN_ASSETS = (FORECAST_GRIB_RAW,)
"""The run-partitioned assets whose old runs retention removes (``forecast/grib/fields`` joins them);
forecasts derived from the runs are kept."""
