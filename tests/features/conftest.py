"""The small sample region's polished meteo series, station list and analysis grid, built once per
session, with the generator's true weather field at the grid's cell centres for one month."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from landing_zone.defs.catchments.rasters import resample_dem
from landing_zone.defs.features.daily_cogs import read_analysis_grid
from landing_zone.defs.features.gridding import AnalysisGrid, Stations, month_dates, stations_from_list
from landing_zone.defs.stations.polishing import polish
from landing_zone.defs.stations.provider_formats import STATION_LIST_FORMAT, parse_provider_csv
from platform_dev.sample_region.spec import RegionSpec
from platform_dev.sample_region.terrain import elevation
from platform_dev.sample_region.weather import WeatherGenerator
from shared.rasters.handles import StoredRaster
from tests.conftest import SAMPLE_SEED
from tests.stations.test_polishing import parsed

MONTH = "2019-07"
"""A summer month: convective-season rain varies most from day to day."""
RESOLUTION_M = 250.0
CRS = "EPSG:2180"


@dataclass(frozen=True)
class SampleMeteo:
    polished: pl.DataFrame
    station_list: pl.DataFrame
    stations: Stations
    grid: AnalysisGrid
    dates: tuple
    truth: dict[str, np.ndarray]
    """``{variable: (days, rows, columns)}`` of the generator's field at the cell centres."""


def station_list(region: Path) -> pl.DataFrame:
    path = region / "stations" / "meteo" / "v2" / "stations.csv"
    return parse_provider_csv(path, STATION_LIST_FORMAT, path.name)


def true_month(region_spec: RegionSpec, grid: AnalysisGrid, dates: tuple) -> dict[str, np.ndarray]:
    """The generator's daily field at every cell centre (true point elevation) on ``dates``."""
    x, y = grid.centres(slice(None))
    daily = WeatherGenerator(region_spec).daily(x, y, elevation(region_spec, x, y))
    first = (dates[0] - region_spec.start).days
    return {
        variable: values[first : first + len(dates)].reshape(len(dates), *grid.shape)
        for variable, values in daily.items()
    }


@pytest.fixture(scope="session")
def sample_meteo(small_region: Path) -> SampleMeteo:
    dtm = small_region / "truth" / "dtm.tif"
    grid, _ = read_analysis_grid(resample_dem(StoredRaster(str(dtm), str(dtm)), CRS, RESOLUTION_M, 64))
    stations_table = station_list(small_region)
    dates = month_dates(MONTH)
    return SampleMeteo(
        polish(parsed(small_region, "meteo")),
        stations_table,
        stations_from_list(stations_table, CRS),
        grid,
        dates,
        true_month(RegionSpec.for_size("small", SAMPLE_SEED), grid, dates),
    )
