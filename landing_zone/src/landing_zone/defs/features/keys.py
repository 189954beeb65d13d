"""Asset keys of the features domain that stay inside ``landing_zone``: the daily meteo grids.

The catchment features the discharge model reads (``features/catchment_forcings``,
``features/catchment_attributes``, ``climatic_indices/catchment``) are a contract between the code
locations, so their keys and schemas live in :mod:`shared.assets.landing_zone`.
"""

from dagster import AssetKey

METEO_DAILY_GRIDS = AssetKey(["meteo", "daily_grids"])
"""Daily grids of every polished meteo variable per month and region: one COG per variable."""
