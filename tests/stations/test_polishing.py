"""Polishing scored against the sample region's truth (clean series and planted artefacts)."""

import polars as pl
import pytest

from landing_zone.defs.stations.polishing import polish
from landing_zone.defs.stations.rules import FLAGS, RULES
from platform_dev.training_inputs import parsed


@pytest.fixture(scope="module")
def scored(small_region) -> pl.DataFrame:
    """Polished meteo and hydro series joined with the clean truth and the planted artefacts."""
    polished = pl.concat([polish(parsed(small_region, network)) for network in ("meteo", "hydro")])
    day = pl.col("time").dt.date()
    truth = pl.read_parquet(small_region / "truth" / "clean_series.parquet").rename({"value": "true_value"})
    planted = (
        pl.read_parquet(small_region / "truth" / "artefacts.parquet")
        .rename({"kind": "planted"})
        .unique(
            ["station", "date", "variable"], keep="first", maintain_order=True
        )  # a drifting day can also be flat
    )
    return (
        polished.with_columns(date=day)
        .join(truth, on=["station", "date", "variable"], how="left")
        .join(planted, on=["station", "date", "variable"], how="left")
    )


def rmse(errors: pl.Series) -> float:
    return float((errors**2).mean() ** 0.5)


TEMPERATURES = ("air_temperature_c", "air_temperature_max_c", "air_temperature_min_c")


@pytest.mark.parametrize("variable", TEMPERATURES)
def test_temperature_rmse_drops_to_at_most_30_percent_of_raw(scored, variable):
    temperature = scored.filter((pl.col("variable") == variable) & pl.col("raw_value").is_not_null())
    raw = rmse(temperature["raw_value"] - temperature["true_value"])
    polished = temperature.filter(pl.col("value").is_not_null())
    assert rmse(polished["value"] - polished["true_value"]) <= 0.3 * raw


def test_every_meteo_variable_is_polished_with_its_planted_spikes_flagged(scored):
    meteo = scored.filter(pl.col("station").str.starts_with("2501"))
    assert set(meteo["variable"].unique()) == {
        "precipitation_mm",
        "relative_humidity_pct",
        "air_pressure_hpa",
        *TEMPERATURES,
    }
    for variable in ("air_temperature_max_c", "air_temperature_min_c"):
        spikes = meteo.filter((pl.col("variable") == variable) & (pl.col("planted") == "spike"))
        assert spikes.height > 10 and (spikes["flag"] != "ok").all()


def test_kept_temperatures_bracket_the_mean(scored):
    """Where polishing keeps all three of a station-day (ok, duplicate or corrected), min <= mean <= max;
    the ``consistency`` test rejects few values, mostly artefacts the per-variable tests left."""
    kept = scored.filter(
        pl.col("variable").is_in(TEMPERATURES) & pl.col("flag").is_in(["ok", "duplicate", "corrected"])
    ).pivot("variable", index=["station", "time"], values="value")
    days = kept.drop_nulls(list(TEMPERATURES))
    assert days.height > 0.9 * kept.height
    low, mean, high = (
        pl.col(name) for name in ("air_temperature_min_c", "air_temperature_c", "air_temperature_max_c")
    )
    assert days.filter((low > mean) | (mean > high)).is_empty()
    rejected = scored.filter(pl.col("test") == "consistency")
    assert rejected.height <= 0.001 * scored.height
    assert rejected.filter(pl.col("planted").is_null()).height <= 0.5 * rejected.height


def test_planted_spikes_are_flagged_and_clean_values_rarely(scored):
    spikes = scored.filter(pl.col("planted") == "spike")
    assert spikes.height > 50
    assert spikes.filter(pl.col("flag") != "ok").height >= 0.95 * spikes.height
    clean = scored.filter(pl.col("planted").is_null() & pl.col("raw_value").is_not_null())
    assert clean.filter(pl.col("flag") != "ok").height <= 0.01 * clean.height


def test_precipitation_is_never_imputed_and_every_imputed_value_is_flagged(scored):
    assert scored.filter(
        (pl.col("variable") == "precipitation_mm") & (pl.col("flag") == "imputed")
    ).is_empty()
    changed = scored.filter(
        pl.col("value").is_not_null()
        & (pl.col("raw_value").is_null() | (pl.col("value") != pl.col("raw_value")))
    )
    assert set(changed["flag"].unique()) <= {"imputed", "corrected"}
    assert changed.filter(pl.col("flag") == "imputed").height > 0


def test_gaps_stay_as_rows_on_a_regular_daily_index(scored):
    spans = scored.group_by("station", "variable").agg(
        pl.len().alias("rows"),
        ((pl.col("time").max() - pl.col("time").min()).dt.total_days() + 1).alias("days"),
    )
    assert (spans["rows"] == spans["days"]).all()
    gaps = scored.filter(pl.col("planted") == "gap")
    assert gaps.height > 0 and set(gaps["flag"].unique()) <= {"missing", "imputed"}


def test_discharge_is_never_negative_and_glitches_are_rejected(scored):
    discharge = scored.filter(pl.col("variable") == "discharge_m3s")
    assert (discharge["value"].drop_nulls() >= 0).all()
    glitches = discharge.filter(pl.col("planted") == "negative")
    assert glitches.height > 0 and (glitches["test"] == "bounds").all()


def test_drift_is_corrected(scored):
    drift = scored.filter(pl.col("planted") == "drift")
    assert drift.height > 0
    assert drift.filter(pl.col("flag") == "corrected").height >= 0.8 * drift.height
    corrected = drift.filter(pl.col("flag") == "corrected")
    assert rmse(corrected["value"] - corrected["true_value"]) < rmse(
        corrected["raw_value"] - corrected["true_value"]
    )


def test_every_flag_comes_from_the_rules_vocabulary(scored):
    assert set(scored["flag"].unique()) <= set(FLAGS)
    assert set(scored["variable"].unique()) <= set(RULES)


def test_duckdb_checks_pass_on_polished_series_and_catch_a_duplicate(small_region, local_storage):
    from landing_zone.defs.stations.checks import polished_sql_checks
    from shared.assets.landing_zone import METEO_POLISHED
    from shared.resources.duckdb_checks import DuckDBChecksResource
    from shared.storage.layout import PARQUET, AssetLocation

    polished = polish(parsed(small_region, "meteo"))
    storage = local_storage.get_storage()
    key = AssetLocation(METEO_POLISHED.path).key(PARQUET)
    duckdb = DuckDBChecksResource(storage=local_storage)
    with storage.writer(key) as path:
        polished.write_parquet(path)
    results = {r.check_name: r for r in duckdb.run_checks(METEO_POLISHED, polished_sql_checks())}
    assert {name: r.passed for name, r in results.items()} == dict.fromkeys(results, True)
    assert len(results) == 5
    with storage.writer(key) as path:
        pl.concat([polished, polished.head(1)]).write_parquet(path)
    broken = {r.check_name: r for r in duckdb.run_checks(METEO_POLISHED, polished_sql_checks())}
    assert not broken["station_time_unique"].passed
    assert broken["station_time_unique"].metadata["offending_rows"].value == 1


def test_the_hill_station_is_colder_but_not_drifting(scored, manifest):
    stations = manifest["stations"]["meteo_stations"]
    hill = max(stations, key=lambda s: s["elevation_m"])
    assert hill["elevation_m"] - min(s["elevation_m"] for s in stations) > 100
    temperature = scored.filter(pl.col("variable") == "air_temperature_c")
    means = temperature.group_by("station").agg(pl.col("true_value").mean()).sort("true_value")
    assert means["station"][0] == hill["code"]
    at_hill = temperature.filter((pl.col("station") == hill["code"]) & pl.col("raw_value").is_not_null())
    assert at_hill.filter(pl.col("test") == "drift").is_empty()
    kept = at_hill.filter(pl.col("flag") == "ok")
    assert kept.height > 0.9 * at_hill.height and (kept["value"] == kept["raw_value"]).all()


def test_natural_low_flow_plateaus_are_left_alone(scored):
    plateaus = scored.filter(pl.col("planted") == "plateau")
    assert plateaus.height > 50
    assert plateaus.filter(pl.col("test") == "flatline").height <= 0.005 * plateaus.height
