"""Asset keys of the features domain that stay inside ``landing_zone``: the daily meteo grids and the
catchments' vegetation attributes (no other location reads them yet).

The catchment features the discharge model reads (``features/catchment_forcings``,
``features/catchment_attributes``, ``climatic_indices/catchment``) are a contract between the code
locations, so their keys and schemas live in :mod:`shared.assets.landing_zone`.
"""

from dagster import AssetKey

METEO_DAILY_GRIDS = AssetKey(["meteo", "daily_grids"])
"""Daily grids of every polished meteo variable per month and region: one COG per variable."""

CATCHMENT_VEGETATION = AssetKey(["features", "catchment_vegetation"])
"""Monthly vegetation attributes per progressive catchment and region (Parquet), from the satellite NDVI
composites. One row per catchment and month: ``catchment_id``, ``month`` (Date, the month's first day),
``ndvi_mean`` (Float64, coverage-weighted mean NDVI of the catchment's valid composite pixels; null where
less than half its area has one), ``ndvi_valid_fraction`` (Float64 0-1, coverage-weighted share of the
catchment with a valid composite pixel), ``ndvi_seasonal_amplitude`` (Float64, the range of the catchment's
climatology: its ``ndvi_mean`` averaged per calendar month over the table's years, largest calendar
month minus smallest, repeated on each of its rows; null where it has a mean in fewer than two calendar
months), ``ndvi_months_observed`` (Int32, months of the table with a mean). Primary
key (``catchment_id``, ``month``); every progressive catchment in every month of the table. The
conditioning strategy and the months used and skipped are in the materialisation metadata."""
