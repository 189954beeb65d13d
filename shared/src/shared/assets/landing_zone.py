"""Asset keys produced by the ``landing_zone`` code location that other locations read (contract).

Only what crosses code locations is here; every internal stage's key belongs to its domain
(``landing_zone.defs.{elevation,stations,catchments}.keys``), which gives these same keys.
"""

from dagster import (
    AssetKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionsDefinition,
)

from shared.forecast_runs import FIRST_FORECAST_RUN, FORECAST_RUN_CRON, FORECAST_RUN_FORMAT
from shared.regions import platform_regions

REGIONS = StaticPartitionsDefinition(list(platform_regions()))
"""The regions the platform covers (:mod:`shared.regions`: one YAML file); region-partitioned assets of
both locations share this."""

DTM_CONSOLIDATED = AssetKey(["elevation", "dtm", "consolidated"])
"""The consolidated terrain model per region (COG, EPSG:2180): what catchments and the model read."""

METEO_POLISHED = AssetKey(["meteo", "polished_timeseries"])
"""Daily meteorological series per station, flagged value by value (the model's forcing; Parquet)."""

HYDRO_POLISHED = AssetKey(["hydro", "polished_timeseries"])
"""Daily water level and discharge per gauge, flagged value by value (the model's target; Parquet)."""

RIVERS_ALIGNED = AssetKey(["hydrography", "rivers_aligned"])
"""River lines per region, shifted by the offset estimated against the DEM's drainage (GeoParquet)."""

CONDITIONING = StaticPartitionsDefinition(["burn_fill", "fill"])
"""DEM conditioning strategies, materialised side by side: ``burn_fill`` (stream burning with the aligned
rivers, then priority-flood filling) is the platform's choice; ``fill`` (filling only) is the reference."""

CATCHMENT_PARTITIONS = MultiPartitionsDefinition({"conditioning": CONDITIONING, "region": REGIONS})
"""Everything from the conditioned DEM on exists once per conditioning strategy and region."""

REACHES = AssetKey(["catchments", "reaches"])
"""River reaches (at least 100 m and three analysis cells) with topology, Strahler order and upstream area
(GeoParquet + FlatGeobuf), per conditioning strategy and region."""

REACH_CATCHMENTS = AssetKey(["catchments", "reach_catchments"])
"""One non-overlapping catchment polygon per reach (GeoParquet + FlatGeobuf): the model's spatial unit."""

PROGRESSIVE_CATCHMENTS = AssetKey(["catchments", "progressive_catchments"])
"""Each reach's whole upstream catchment, composed from reach catchments (GeoParquet + FlatGeobuf)."""

CATCHMENT_FORCINGS = AssetKey(["features", "catchment_forcings"])
"""Daily catchment-mean forcings per region (Parquet, one table per region), what the LSTM's dynamic inputs
are. One row per catchment and day: ``catchment_id`` (the reach id), ``catchment_kind`` (``reach``: the
reach's own catchment, or ``progressive``: everything upstream of its pour point), ``date`` (Date),
``area_km2`` (Float64, the catchment's area), ``outlet_id`` (the reach id of its basin's outlet: with
``area_km2`` what the basin mass balance is checked by), one
Float64 column per gridded variable named with its unit (``precipitation_mm``, ``air_temperature_c``,
``air_temperature_max_c``, ``air_temperature_min_c``, ``relative_humidity_pct``, ``air_pressure_hpa``),
``pet_mm`` (potential evapotranspiration, the formula in the asset's description), and for each variable a
``{variable}_valid_fraction`` (0-1: the coverage-weighted share of the catchment's cells with valid input
that day). Primary key (``catchment_id``, ``catchment_kind``, ``date``); every catchment every day of the
gridded months. The conditioning strategy of the catchments it follows is in the materialisation metadata."""

CATCHMENT_ATTRIBUTES = AssetKey(["features", "catchment_attributes"])
"""Static attributes per progressive catchment and region (Parquet), the LSTM's static inputs:
``catchment_id`` and one Float64 column per attribute with its unit in the name (``area_km2``,
``elevation_mean_m``, ``elevation_std_m``, ``slope_mean_deg``, ``canopy_height_mean_m`` (DSM minus DTM),
``drainage_density_km_per_km2``, ``strahler_order``, ``compactness``). Primary key ``catchment_id``."""

CLIMATIC_INDICES = AssetKey(["climatic_indices", "catchment"])
"""CAMELS climatic indices (Addor et al. 2017) per progressive catchment and region over the reference
period in the metadata (Parquet): ``catchment_id``, ``p_mean`` (mm/day), ``pet_mean`` (mm/day), ``t_mean``
(C), ``aridity`` (pet_mean / p_mean), ``p_seasonality``, ``frac_snow``, ``high_prec_freq`` (days/yr),
``high_prec_dur`` (days), ``low_prec_freq`` (days/yr), ``low_prec_dur`` (days). Primary key
``catchment_id``."""

HYDRO_STATIONS = AssetKey(["hydro", "stations"])
"""The hydro provider's station list (Parquet, unpartitioned): ``code`` (the gauge code of the polished
series' ``station``), ``name``, ``river``, ``lon``, ``lat`` (WGS84 degrees), ``elevation_m``. The discharge
model matches these gauges to progressive catchments; the list carries no catchment area."""

FORECAST_RUNS = TimeWindowPartitionsDefinition(
    start=FIRST_FORECAST_RUN.strftime(FORECAST_RUN_FORMAT),
    fmt=FORECAST_RUN_FORMAT,
    cron_schedule=FORECAST_RUN_CRON,
    timezone="UTC",
    end_offset=1,
)
"""One partition per weather-model run (00/06/12/18 UTC), keyed by its start time; the partitions end one
window after now, so a run is a partition as soon as it has started. Shared by the landing zone's GRIB
runs, fields and catchment forecast forcings and by the discharge model's forecasts."""

CATCHMENT_FORECAST_FORCINGS = AssetKey(["features", "catchment_forecast_forcings"])
"""Daily catchment-mean forecast forcings per weather-model run (Parquet, one table per run partition of
:data:`FORECAST_RUNS`), in the units and names of :data:`CATCHMENT_FORCINGS` so the LSTM reads either.
One row per catchment and lead day: ``catchment_id``, ``catchment_kind`` (``reach`` | ``progressive``),
``date`` (Date, the UTC day), ``lead_day`` (Int32: 1 = the run's own UTC day, then one per day; only the
days the run's horizon covers to their end), ``run_time`` (Datetime UTC), ``area_km2``, ``outlet_id``,
``precipitation_mm`` (the day's total), ``air_temperature_c`` (mean of the day's 3-hourly values),
``air_temperature_max_c``, ``air_temperature_min_c`` (their extremes, taken per cell and then averaged
over the catchment, as the observed grids' daily extremes are), ``pet_mm`` (Oudin, as the observed
forcings), ``{variable}_valid_fraction`` for the four variables, and ``earlier_run_hours`` (Float64:
hours of the day before the run's start, each 3-hour step taken from the newest earlier stored run that
holds it; 0 for the days after the run's own) and ``scaled_hours`` (hours no stored run covered, filled
by scaling the day's covered hours; 0 normally). Primary key (``catchment_id``, ``catchment_kind``,
``date``). The region and conditioning strategy are in the materialisation metadata."""
