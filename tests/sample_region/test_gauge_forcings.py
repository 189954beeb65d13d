"""The truth's catchment-mean forcings at each gauge: every gauge, every day, and what drove its runoff."""

import numpy as np
import polars as pl
import pytest

from platform_dev.sample_region.hydrology import simulate_discharge
from platform_dev.sample_region.weather import VARIABLES


@pytest.fixture(scope="module")
def forcings(small_region, manifest) -> pl.DataFrame:
    return pl.read_parquet(small_region / manifest["stations"]["gauge_forcings"])


def test_every_gauge_has_every_day_of_every_variable(forcings, manifest):
    assert forcings.schema == pl.Schema(
        {"station": pl.String, "date": pl.Date, **dict.fromkeys(VARIABLES, pl.Float64)}
    )
    region = manifest["region"]
    days = pl.date_range(
        pl.lit(region["start"]).str.to_date(), pl.lit(region["end"]).str.to_date(), eager=True
    )
    for gauge in manifest["stations"]["gauges"]:
        series = forcings.filter(pl.col("station") == gauge["code"])
        assert series["date"].to_list() == days.to_list(), gauge["code"]
    assert forcings["station"].n_unique() == len(manifest["stations"]["gauges"])
    assert forcings.null_count().sum_horizontal().item() == 0
    assert forcings.select(
        (pl.col("air_temperature_min_c") <= pl.col("air_temperature_c")).all(),
        (pl.col("air_temperature_c") <= pl.col("air_temperature_max_c")).all(),
        (pl.col("precipitation_mm") >= 0).all(),
    ).row(0) == (True, True, True)


def test_the_runoff_model_driven_by_the_table_reproduces_the_true_discharge(forcings, small_region, manifest):
    """Discharge is the model's runoff times the catchment area: from the table's forcing, the true
    discharge over the simulated runoff is one constant per gauge (its area, rounded in the manifest)."""
    clean = pl.read_parquet(small_region / manifest["stations"]["clean_series"])
    for gauge in manifest["stations"]["gauges"]:
        forcing = forcings.filter(pl.col("station") == gauge["code"]).sort("date")
        runoff = simulate_discharge(
            forcing["precipitation_mm"].to_numpy(),
            forcing["air_temperature_c"].to_numpy(),
            forcing["date"].dt.ordinal_day().to_numpy() - 1,
            1.0,
        )
        discharge = (
            clean.filter((pl.col("station") == gauge["code"]) & (pl.col("variable") == "discharge_m3s"))
            .sort("date")["value"]
            .to_numpy()
        )
        area = discharge / runoff
        assert np.ptp(area) <= 1e-12 * area[0], gauge["code"]
        assert area[0] == pytest.approx(gauge["area_km2"], abs=1e-4)
