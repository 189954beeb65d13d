"""Daily minimum and maximum temperature: physically consistent in the generator, published by the
meteo stations in two more columns, observed like every other variable."""

import zipfile

import numpy as np
import polars as pl
import pytest

from platform_dev.sample_region.spec import RegionSpec
from platform_dev.sample_region.weather import LAPSE_RATE_C_PER_M, WeatherGenerator
from tests.conftest import SAMPLE_SEED

EXTREMES = ("air_temperature_max_c", "air_temperature_min_c")


@pytest.fixture(scope="module")
def weather() -> WeatherGenerator:
    return WeatherGenerator(RegionSpec.for_size("small", SAMPLE_SEED))


@pytest.fixture(scope="module")
def at_two_heights(weather) -> dict[str, np.ndarray]:
    """The field at one point at 200 m and 700 m: ``{variable: (days, 2)}``."""
    spec = weather.spec
    x, y = np.full(2, spec.west + 1000.0), np.full(2, spec.south + 1000.0)
    return weather.daily(x, y, np.array([200.0, 700.0]))


def test_minimum_mean_and_maximum_are_ordered_with_a_plausible_range(at_two_heights):
    low, mean, high = (at_two_heights[v] for v in ("air_temperature_min_c", "air_temperature_c", EXTREMES[0]))
    assert (low < mean).all() and (mean < high).all()
    spread = high - low
    assert spread.min() >= 2.0 and spread.max() <= 16.0
    assert np.percentile(spread, 5) > 3.0 and np.percentile(spread, 95) > 11.0


def test_the_range_is_smaller_on_wet_days_and_in_winter(weather, at_two_heights):
    spread = (at_two_heights[EXTREMES[0]] - at_two_heights[EXTREMES[1]])[:, 0]
    wet = weather.drivers.wet
    months = weather.dates.astype("datetime64[M]").astype(int) % 12 + 1
    summer, winter = np.isin(months, (6, 7, 8)), np.isin(months, (12, 1, 2))
    assert spread[wet].mean() < 0.75 * spread[~wet].mean()
    assert spread[summer & ~wet].mean() > 10.0
    assert spread[winter & ~wet].mean() < 7.0


def test_extremes_lapse_with_elevation_like_the_mean(at_two_heights):
    for variable in ("air_temperature_c", *EXTREMES):
        cooling = at_two_heights[variable][:, 1] - at_two_heights[variable][:, 0]
        assert cooling == pytest.approx(np.full(len(cooling), LAPSE_RATE_C_PER_M * 500.0))


def published(region, station: str) -> pl.DataFrame:
    """One station's v2 rows, first reading of each day, numbers as floats."""
    frames = []
    for path in sorted((region / "stations" / "meteo" / "v2").rglob(f"{station}_*.zip")):
        with zipfile.ZipFile(path) as archive:
            header, units, *rows = archive.read(archive.namelist()[0]).decode("cp1250").splitlines()
        frames.append(pl.DataFrame([row.split(";") for row in rows], schema=header.split(";"), orient="row"))
    assert units.split(";")[-2:] == ["°C", "°C"]
    frame = pl.concat(frames).unique("Data", keep="first")
    return frame.select(
        pl.col("Data").str.to_date().alias("date"),
        *(
            pl.col(header).str.replace(",", ".").cast(pl.Float64, strict=False).alias(name)
            for header, name in (
                ("Temperatura maksymalna", EXTREMES[0]),
                ("Temperatura minimalna", EXTREMES[1]),
            )
        ),
    )


@pytest.mark.parametrize("variable", EXTREMES)
def test_stations_publish_the_extremes_with_noise_and_planted_artefacts(small_region, manifest, variable):
    station = manifest["stations"]["meteo_stations"][0]["code"]
    truth = pl.read_parquet(small_region / "truth" / "clean_series.parquet").filter(
        (pl.col("station") == station) & (pl.col("variable") == variable)
    )
    artefacts = pl.read_parquet(small_region / "truth" / "artefacts.parquet").filter(
        (pl.col("station") == station) & (pl.col("variable") == variable)
    )
    assert {"spike", "flatline", "gap"} <= set(artefacts["kind"])
    joined = published(small_region, station).join(truth, on="date")
    clean = joined.join(artefacts, on="date", how="anti")
    error = (clean[variable] - clean["value"]).abs()
    assert 0.05 < error.median() < 0.3
    spikes = joined.join(artefacts.filter(pl.col("kind") == "spike"), on="date")
    assert ((spikes[variable] - spikes["value"]).abs() > 10.0).all()
