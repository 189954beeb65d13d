"""The columns the dataset reads by default: what the landing zone's registry promises, by name.

Listed, not discovered from the tables: a column renamed upstream must fail the dataset's
``expected_columns_present`` check under its expected name, not slip in under the new one.
"""

import polars as pl

FORCING_INPUTS = [
    "precipitation_mm",
    "air_temperature_c",
    "air_temperature_max_c",
    "air_temperature_min_c",
    "relative_humidity_pct",
    "air_pressure_hpa",
    "pet_mm",
]
"""Every gridded forcing of ``features/catchment_forcings`` and its PET, as its registry docstring names
them: the LSTM's dynamic inputs."""

STATIC_ATTRIBUTES = [
    # features/catchment_attributes
    "area_km2",
    "elevation_mean_m",
    "elevation_std_m",
    "slope_mean_deg",
    "canopy_height_mean_m",
    "drainage_density_km_per_km2",
    "strahler_order",
    "compactness",
    # climatic_indices/catchment (CAMELS)
    "p_mean",
    "pet_mean",
    "t_mean",
    "aridity",
    "p_seasonality",
    "frac_snow",
    "high_prec_freq",
    "high_prec_dur",
    "low_prec_freq",
    "low_prec_dur",
]

SUMMARY_SCHEMA = {
    "basin": pl.String(),
    "catchment_id": pl.String(),
    "area_km2": pl.Float64(),
    "match_distance_m": pl.Float64(),
    "coverage_train": pl.Float64(),
    "coverage_validation": pl.Float64(),
    "coverage_test": pl.Float64(),
}
"""The columns of ``discharge_model/training_data``'s ``part.parquet``: one row per basin of the dataset."""

SUMMARY_DESCRIPTIONS = {
    "area_km2": "Area of the basin's progressive catchment (km2)",
    "match_distance_m": "Distance from the gauge to its matched reach (m)",
    **{
        f"coverage_{period}": f"Share (0-1) of the {period} period's days with a valid discharge target"
        for period in ("train", "validation", "test")
    },
}
"""Descriptions, with units, of :data:`SUMMARY_SCHEMA`'s columns."""
"""Every numeric column of the catchment attributes and the climatic indices (registry docstrings)."""
