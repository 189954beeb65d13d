"""The daily grids' checks: DuckDB SQL over the candidate manifest (one row per variable and day, with the
band's valid-station count and value statistics, :data:`.daily_cogs.MANIFEST_SCHEMA`), each selecting
the offending rows so a failure's metadata shows the values found.

They run in the asset's own step before anything is published (write-audit-publish): a month that fails
a blocking check never replaces the published COGs that catchment forcings read.
"""

from collections.abc import Sequence

from landing_zone.defs.features.vegetation import MIN_VALID_FRACTION
from landing_zone.defs.stations.rules import RULES
from shared.resources.duckdb_checks import SqlCheck

MAX_TOO_FEW_STATIONS_SHARE = 0.1
"""At most this share of a month's days may lack enough valid stations: 3 days of a 31-day month, the
gap polishing itself fills in a station series (``fill_limit_days``). A month with more nodata days would
hand the catchment forcings more holes than any single station series has."""

TEMPERATURES = ("air_temperature_c", "air_temperature_max_c", "air_temperature_min_c")
"""The daily mean, maximum and minimum: one check covers all three."""
TEMPERATURE_LIST = ", ".join(f"'{name}'" for name in TEMPERATURES)
LOWEST_C = min(RULES[name].minimum for name in TEMPERATURES)
HIGHEST_C = max(RULES[name].maximum for name in TEMPERATURES)
"""The WMO plausibility range polishing applies to station temperatures (the widest of the three rules);
no grid cell and no catchment mean may leave it."""


def daily_grid_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: each catches a grid that would mislead every catchment forcing read from
    it."""
    return [
        SqlCheck(
            name="every_day_a_band",
            blocking=True,
            description="Every gridded variable has one band per day of the month, in order.",
            sql="SELECT variable, count(*) AS bands, count(DISTINCT date) AS dates, "
            "day(last_day(min(date))) AS days_in_month FROM {table} GROUP BY variable "
            "HAVING count(DISTINCT date) <> day(last_day(min(date))) OR count(*) <> count(DISTINCT date) "
            "OR bool_or(band <> day(date))",
        ),
        SqlCheck(
            name="precipitation_non_negative",
            blocking=True,
            description="No cell has negative precipitation.",
            sql="SELECT date, minimum FROM {table} WHERE variable = 'precipitation_mm' AND minimum < 0",
        ),
        SqlCheck(
            name="temperature_within_wmo_bounds",
            blocking=True,
            description="Every cell's daily mean, maximum and minimum temperature within "
            f"{LOWEST_C:g}..{HIGHEST_C:g} °C (WMO-No. 8, as in polishing).",
            sql="SELECT variable, date, minimum, maximum FROM {table} "
            f"WHERE variable IN ({TEMPERATURE_LIST}) AND "
            f"(minimum < {LOWEST_C} OR maximum > {HIGHEST_C})",
        ),
        SqlCheck(
            name="too_few_stations_share",
            blocking=True,
            description=f"At most {MAX_TOO_FEW_STATIONS_SHARE:.0%} of a variable's days marked for too few "
            "valid stations; a failure names the stations missing on the marked days (the gaps to fill).",
            sql="WITH marked AS (SELECT variable, count_if(too_few_stations)::INTEGER AS marked_days, "
            "count(*)::INTEGER AS days FROM {table} GROUP BY variable "
            f"HAVING count_if(too_few_stations) / count(*) > {MAX_TOO_FEW_STATIONS_SHARE}), "
            "gaps AS (SELECT variable, station, count(*) AS days_missing FROM (SELECT variable, "
            "unnest(missing_stations) AS station FROM {table} WHERE too_few_stations) GROUP BY ALL) "
            "SELECT variable, marked_days, days, marked_days / days AS share, "
            "string_agg(station || ' (' || days_missing || ' days)', ', ' "
            "ORDER BY days_missing DESC, station) AS stations_missing "
            "FROM marked LEFT JOIN gaps USING (variable) GROUP BY ALL",
        ),
    ]


# --- features/catchment_forcings (issue 14, part 2) -------------------------------------------------

PET_MAX_MM = 15.0
"""Upper bound of daily PET: Oudin's formula stays below ~8 mm/day at 45 C in Poland; 15 mm/day is beyond
any daily pan evaporation measured in central Europe, so a value above it is a unit or formula error."""

MASS_BALANCE_TOLERANCE = 0.001
"""The basin outlet's progressive mean and its reach catchments' area-weighted mean agree within 0.1 %
(plus 1e-6 mm for dry days): the reach catchments tile the basin, so only rounding may separate them."""


MIN_MEAN_VALID_FRACTION = 1.0 - MAX_TOO_FEW_STATIONS_SHARE
"""A catchment's valid fraction averaged over the table's days, per variable, at least this: the share of
days a published month may leave without a grid, so only a catchment partly outside the grids (or under a
lasting hole in them) falls below it."""


def catchment_forcings_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: the LSTM reads every row, so a hole, a duplicate or an implausible value
    would train it on wrong forcings."""
    fractions = "*COLUMNS('_valid_fraction$')"
    temperatures = "COLUMNS('^air_temperature(_max|_min)?_c$')"
    return [
        SqlCheck(
            name="forcings_non_empty",
            blocking=True,
            description="At least one row.",
            sql="SELECT count(*) AS rows FROM {table} HAVING count(*) = 0",
        ),
        SqlCheck(
            name="forcings_primary_key_unique",
            blocking=True,
            description="One row per (catchment_id, catchment_kind, date).",
            sql="SELECT catchment_id, catchment_kind, date, count(*) AS rows FROM {table} "
            "GROUP BY ALL HAVING count(*) > 1",
        ),
        SqlCheck(
            name="forcings_complete",
            blocking=True,
            description="Every catchment has a row on every date of the table.",
            sql="WITH expected AS (SELECT count(DISTINCT date) AS days FROM {table}) "
            "SELECT catchment_id, catchment_kind, count(*) AS days, any_value(expected.days) AS expected "
            "FROM {table}, expected GROUP BY catchment_id, catchment_kind "
            "HAVING count(DISTINCT date) <> any_value(expected.days)",
        ),
        SqlCheck(
            name="forcings_precipitation_non_negative",
            blocking=True,
            description="No catchment-mean precipitation below 0 mm.",
            sql="SELECT catchment_id, catchment_kind, date, precipitation_mm FROM {table} "
            "WHERE precipitation_mm < 0",
        ),
        SqlCheck(
            name="forcings_temperature_within_wmo_bounds",
            blocking=True,
            description="Catchment-mean daily mean, maximum and minimum temperature within "
            f"{LOWEST_C:g}..{HIGHEST_C:g} °C (WMO-No. 8, as in polishing); "
            "a column the grids did not carry is not checked.",
            sql=f"SELECT catchment_id, catchment_kind, date, {temperatures} FROM {{table}} WHERE "
            f"least(*{temperatures}) < {LOWEST_C} OR greatest(*{temperatures}) > {HIGHEST_C}",
        ),
        SqlCheck(
            name="forcings_pet_within_range",
            blocking=True,
            description=f"PET within 0..{PET_MAX_MM:g} mm/day.",
            sql="SELECT catchment_id, catchment_kind, date, pet_mm FROM {table} "
            f"WHERE pet_mm < 0 OR pet_mm > {PET_MAX_MM}",
        ),
        SqlCheck(
            name="forcings_valid_fractions_within_0_1",
            blocking=True,
            description="Every *_valid_fraction column within 0..1 and never null.",
            sql="SELECT catchment_id, catchment_kind, date, COLUMNS('_valid_fraction$') FROM {table} "
            f"WHERE least({fractions}) < 0 OR greatest({fractions}) > 1 "
            f"OR list_count([{fractions}]) < len([{fractions}])",
        ),
        SqlCheck(
            name="forcings_catchments_covered",
            blocking=True,
            description="Every catchment's valid fraction, averaged over the days, at least "
            f"{MIN_MEAN_VALID_FRACTION:.0%} for every variable: a catchment reaching beyond the daily grids "
            "would otherwise get forcings from part of its area only.",
            sql="WITH means AS (SELECT catchment_id, catchment_kind, avg(COLUMNS('_valid_fraction$')) "
            "FROM {table} GROUP BY ALL) SELECT * FROM means "
            f"WHERE least({fractions}) < {MIN_MEAN_VALID_FRACTION}",
        ),
        SqlCheck(
            name="forcings_basin_mass_balance",
            blocking=True,
            description="Each basin outlet's progressive catchment-mean precipitation equals the "
            f"area-weighted mean of its reach catchments within {MASS_BALANCE_TOLERANCE:.1%}, on days "
            "the whole basin has valid precipitation.",
            sql="WITH reaches AS (SELECT outlet_id, date, sum(precipitation_mm * area_km2) / sum(area_km2) "
            "AS reach_mean, min(precipitation_mm_valid_fraction) AS valid FROM {table} "
            "WHERE catchment_kind = 'reach' GROUP BY outlet_id, date), "
            "basins AS (SELECT catchment_id AS outlet_id, date, precipitation_mm AS basin_mean FROM {table} "
            "WHERE catchment_kind = 'progressive' AND catchment_id = outlet_id) "
            "SELECT outlet_id, date, basin_mean, reach_mean FROM basins JOIN reaches USING (outlet_id, date) "
            "WHERE valid > 0.999 AND "
            f"abs(basin_mean - reach_mean) > {MASS_BALANCE_TOLERANCE} * abs(reach_mean) + 1e-6",
        ),
    ]


# --- features/catchment_attributes and climatic_indices/catchment (issue 14, part 3) ------------------

LOWEST_LAND_M, HIGHEST_LAND_M = -430.0, 8849.0
"""The Dead Sea shore and Everest's summit: a catchment's mean elevation outside them is a unit or nodata
error in the DTM, wherever the region lies."""

MAX_ARIDITY = 5.0
"""CAMELS' driest catchments reach about 5 (Addor et al. 2017); above it PET or precipitation is wrong."""


def catchment_attribute_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: the LSTM takes these as static inputs of every catchment, so a missing or
    impossible value would skew every prediction for it."""
    return [
        SqlCheck(
            name="attributes_non_empty",
            blocking=True,
            description="At least one catchment.",
            sql="SELECT count(*) AS rows FROM {table} HAVING count(*) = 0",
        ),
        SqlCheck(
            name="attributes_catchment_id_unique",
            blocking=True,
            description="One row per catchment_id.",
            sql="SELECT catchment_id, count(*) AS rows FROM {table} GROUP BY catchment_id "
            "HAVING count(*) > 1",
        ),
        SqlCheck(
            name="attributes_area_positive",
            blocking=True,
            description="area_km2 > 0.",
            sql="SELECT catchment_id, area_km2 FROM {table} WHERE area_km2 IS NULL OR area_km2 <= 0",
        ),
        SqlCheck(
            name="attributes_elevation_plausible",
            blocking=True,
            description=f"elevation_mean_m within {LOWEST_LAND_M:g}..{HIGHEST_LAND_M:g} m and "
            "elevation_std_m >= 0, never null (a catchment without a DTM cell).",
            sql="SELECT catchment_id, elevation_mean_m, elevation_std_m FROM {table} WHERE "
            f"elevation_mean_m IS NULL OR elevation_mean_m NOT BETWEEN {LOWEST_LAND_M} AND {HIGHEST_LAND_M} "
            "OR elevation_std_m IS NULL OR elevation_std_m < 0",
        ),
        SqlCheck(
            name="attributes_slope_0_90",
            blocking=True,
            description="slope_mean_deg within 0..90 and never null.",
            sql="SELECT catchment_id, slope_mean_deg FROM {table} "
            "WHERE slope_mean_deg IS NULL OR slope_mean_deg NOT BETWEEN 0 AND 90",
        ),
        SqlCheck(
            name="attributes_canopy_height_non_negative",
            blocking=True,
            description="canopy_height_mean_m >= 0 and never null.",
            sql="SELECT catchment_id, canopy_height_mean_m FROM {table} "
            "WHERE canopy_height_mean_m IS NULL OR canopy_height_mean_m < 0",
        ),
        SqlCheck(
            name="attributes_drainage_density_non_negative",
            blocking=True,
            description="drainage_density_km_per_km2 >= 0 and never null.",
            sql="SELECT catchment_id, drainage_density_km_per_km2 FROM {table} "
            "WHERE drainage_density_km_per_km2 IS NULL OR drainage_density_km_per_km2 < 0",
        ),
        SqlCheck(
            name="attributes_compactness_at_least_1",
            blocking=True,
            description="Gravelius compactness >= 1 (the circle's), never null.",
            sql="SELECT catchment_id, compactness FROM {table} WHERE compactness IS NULL OR compactness < 1",
        ),
    ]


def climatic_index_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: the indices are static inputs of the LSTM like the attributes."""
    return [
        SqlCheck(
            name="indices_non_empty",
            blocking=True,
            description="At least one catchment.",
            sql="SELECT count(*) AS rows FROM {table} HAVING count(*) = 0",
        ),
        SqlCheck(
            name="indices_catchment_id_unique",
            blocking=True,
            description="One row per catchment_id.",
            sql="SELECT catchment_id, count(*) AS rows FROM {table} GROUP BY catchment_id "
            "HAVING count(*) > 1",
        ),
        SqlCheck(
            name="indices_p_mean_non_negative",
            blocking=True,
            description="p_mean >= 0 and never null.",
            sql="SELECT catchment_id, p_mean FROM {table} WHERE p_mean IS NULL OR p_mean < 0",
        ),
        SqlCheck(
            name="indices_aridity_within_range",
            blocking=True,
            description=f"aridity within 0..{MAX_ARIDITY:g} and never null.",
            sql="SELECT catchment_id, aridity, pet_mean, p_mean FROM {table} "
            f"WHERE aridity IS NULL OR aridity NOT BETWEEN 0 AND {MAX_ARIDITY}",
        ),
        SqlCheck(
            name="indices_p_seasonality_within_range",
            blocking=True,
            description="p_seasonality within -1..1 (Woods 2009) and never null.",
            sql="SELECT catchment_id, p_seasonality FROM {table} "
            "WHERE p_seasonality IS NULL OR p_seasonality NOT BETWEEN -1 AND 1",
        ),
        SqlCheck(
            name="indices_frac_snow_within_0_1",
            blocking=True,
            description="frac_snow within 0..1 and never null.",
            sql="SELECT catchment_id, frac_snow FROM {table} "
            "WHERE frac_snow IS NULL OR frac_snow NOT BETWEEN 0 AND 1",
        ),
        SqlCheck(
            name="indices_frequencies_within_a_year",
            blocking=True,
            description="high_prec_freq and low_prec_freq within 0..366 days per year.",
            sql="SELECT catchment_id, high_prec_freq, low_prec_freq FROM {table} WHERE "
            "high_prec_freq IS NULL OR low_prec_freq IS NULL OR "
            "high_prec_freq NOT BETWEEN 0 AND 366 OR low_prec_freq NOT BETWEEN 0 AND 366",
        ),
        SqlCheck(
            name="indices_durations_consistent",
            blocking=True,
            description="high_prec_dur and low_prec_dur >= 1 day where such days occur, 0 where none do.",
            sql="SELECT catchment_id, high_prec_freq, high_prec_dur, low_prec_freq, low_prec_dur "
            "FROM {table} WHERE high_prec_dur IS NULL OR low_prec_dur IS NULL "
            "OR (high_prec_freq > 0 AND high_prec_dur < 1) OR (high_prec_freq = 0 AND high_prec_dur <> 0) "
            "OR (low_prec_freq > 0 AND low_prec_dur < 1) OR (low_prec_freq = 0 AND low_prec_dur <> 0)",
        ),
    ]


# --- features/catchment_forecast_forcings (issue 16) ------------------------------------------------

FORECAST_PREFIX = "forecast_"
"""The forecast forcings' copies of the observed forcings' checks carry this before their name."""


def catchment_forecast_forcings_sql_checks() -> list[SqlCheck]:
    """Blocking, all of them: the discharge forecast reads every row. The observed forcings' checks hold
    for the same columns (values physically possible, valid fractions, coverage, basin mass balance), and
    three are the forecast's own: whole lead days, the hours of day 1 accounted for, temperature extremes
    around the mean."""
    observed = [
        check.model_copy(update={"name": FORECAST_PREFIX + check.name})
        for check in catchment_forcings_sql_checks()
    ]
    return [
        *observed,
        SqlCheck(
            name="forecast_lead_days_consecutive",
            blocking=True,
            description="Every catchment has lead days 1, 2 ... the table's last, each on the run's UTC day "
            "plus lead_day - 1, all of one run.",
            sql="WITH days AS (SELECT count(DISTINCT lead_day) AS expected, max(lead_day) AS last, "
            "count(DISTINCT run_time) AS runs FROM {table}) "
            "SELECT catchment_id, catchment_kind, list(lead_day ORDER BY lead_day) AS lead_days, "
            "any_value(days.last) AS last, any_value(days.runs) AS runs FROM {table}, days "
            "GROUP BY catchment_id, catchment_kind HAVING count(DISTINCT lead_day) <> any_value(days.last) "
            "OR any_value(days.expected) <> any_value(days.last) OR min(lead_day) <> 1 "
            "OR any_value(days.runs) <> 1 "
            "OR bool_or(date <> CAST(timezone('UTC', run_time) AS DATE) + lead_day - 1)",
        ),
        SqlCheck(
            name="forecast_day_hours_accounted",
            blocking=True,
            description="earlier_run_hours and scaled_hours are the hours of day 1 before the run's start "
            "(together) and 0 on later days, never negative.",
            sql="SELECT catchment_id, catchment_kind, date, lead_day, run_time, earlier_run_hours, "
            "scaled_hours FROM {table} WHERE earlier_run_hours < 0 OR scaled_hours < 0 "
            "OR earlier_run_hours IS NULL OR scaled_hours IS NULL OR earlier_run_hours + scaled_hours <> "
            "CASE WHEN lead_day = 1 THEN hour(timezone('UTC', run_time)) ELSE 0 END",
        ),
        SqlCheck(
            name="forecast_temperature_extremes_around_mean",
            blocking=True,
            description="air_temperature_min_c <= air_temperature_c <= air_temperature_max_c (1e-9 C "
            "rounding allowed).",
            sql="SELECT catchment_id, catchment_kind, date, air_temperature_min_c, air_temperature_c, "
            "air_temperature_max_c FROM {table} WHERE air_temperature_min_c > air_temperature_c + 1e-9 "
            "OR air_temperature_c > air_temperature_max_c + 1e-9",
        ),
    ]


# --- features/catchment_vegetation (issue 17) -------------------------------------------------------

NDVI_LOWEST, NDVI_HIGHEST = -1.0, 1.0
"""NDVI's definitional range, (NIR - red) / (NIR + red) of non-negative reflectances."""


def catchment_vegetation_sql_checks(catchment_ids: Sequence[str] = ()) -> list[SqlCheck]:
    """Blocking, all of them: the vegetation attributes are model inputs like the static attributes.
    ``catchment_ids`` are the progressive catchments the table must cover (the check's SQL lists them;
    the specs take only the names, so the default serves them)."""
    expected = ", ".join(sql_string(catchment) for catchment in catchment_ids)
    return [
        SqlCheck(
            name="vegetation_non_empty",
            blocking=True,
            description="At least one row.",
            sql="SELECT count(*) AS rows FROM {table} HAVING count(*) = 0",
        ),
        SqlCheck(
            name="vegetation_one_row_per_catchment_and_month",
            blocking=True,
            description="One row per (catchment_id, month), and every catchment in every month of the table.",
            sql="WITH expected AS (SELECT count(DISTINCT month) AS months FROM {table}) "
            "SELECT catchment_id, count(*) AS rows, count(DISTINCT month) AS months, "
            "any_value(expected.months) AS expected FROM {table}, expected GROUP BY catchment_id "
            "HAVING count(*) <> any_value(expected.months) "
            "OR count(DISTINCT month) <> any_value(expected.months)",
        ),
        SqlCheck(
            name="vegetation_every_catchment_present",
            blocking=True,
            description="Every progressive catchment of the layer has rows.",
            sql=f"SELECT unnest([{expected}]::VARCHAR[]) AS catchment_id "
            "EXCEPT SELECT catchment_id FROM {table}",
        ),
        SqlCheck(
            name="vegetation_ndvi_mean_within_range",
            blocking=True,
            description=f"ndvi_mean within {NDVI_LOWEST:g}..{NDVI_HIGHEST:g} where present, and present "
            f"exactly where ndvi_valid_fraction reaches {MIN_VALID_FRACTION:g}.",
            sql="SELECT catchment_id, month, ndvi_mean, ndvi_valid_fraction FROM {table} "
            f"WHERE ndvi_mean NOT BETWEEN {NDVI_LOWEST} AND {NDVI_HIGHEST} "
            f"OR (ndvi_mean IS NULL) = (ndvi_valid_fraction >= {MIN_VALID_FRACTION})",
        ),
        SqlCheck(
            name="vegetation_valid_fraction_within_0_1",
            blocking=True,
            description="ndvi_valid_fraction within 0..1 and never null.",
            sql="SELECT catchment_id, month, ndvi_valid_fraction FROM {table} "
            "WHERE ndvi_valid_fraction IS NULL OR ndvi_valid_fraction NOT BETWEEN 0 AND 1",
        ),
        SqlCheck(
            name="vegetation_amplitude_within_range",
            blocking=True,
            description=f"ndvi_seasonal_amplitude within 0..{NDVI_HIGHEST - NDVI_LOWEST:g}, present exactly "
            "where the catchment has a mean in two calendar months or more, and ndvi_months_observed its "
            "months with a mean.",
            sql="SELECT catchment_id, any_value(ndvi_seasonal_amplitude) AS amplitude, "
            "any_value(ndvi_months_observed) AS months_observed, count(ndvi_mean) AS months_with_mean, "
            "count(DISTINCT month(month)) FILTER (WHERE ndvi_mean IS NOT NULL) AS calendar_months "
            "FROM {table} GROUP BY catchment_id HAVING "
            f"bool_or(ndvi_seasonal_amplitude NOT BETWEEN 0 AND {NDVI_HIGHEST - NDVI_LOWEST}) "
            "OR min(ndvi_months_observed) <> count(ndvi_mean) "
            "OR max(ndvi_months_observed) <> count(ndvi_mean) "
            "OR (bool_or(ndvi_seasonal_amplitude IS NULL) AND calendar_months >= 2) "
            "OR (bool_or(ndvi_seasonal_amplitude IS NOT NULL) AND calendar_months < 2)",
        ),
    ]


def sql_string(value: str) -> str:
    """``value`` as a DuckDB string literal inside a check's SQL template (quotes doubled, braces escaped
    for the ``{table}`` formatting)."""
    quoted = "'" + value.replace("'", "''") + "'"
    return quoted.replace("{", "{{").replace("}", "}}")
