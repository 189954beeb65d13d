"""Pictures in materialisation metadata: valid, bounded, not blank PNGs, rasters read decimated, real
materialisations (polished station series, the consolidated DTM) carrying theirs, the forecast
verification's hydrographs; a picture that cannot be drawn leaves the asset alone."""

from __future__ import annotations

import base64
import datetime as dt
import io
import tracemalloc
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
import rasterio
import shapely
from matplotlib.image import imread
from rasterio.transform import from_origin

import shared.pictures as pictures
from discharge_model.defs.forecast.assets import hydrographs
from discharge_model.defs.forecast.verification import verification_table
from landing_zone.defs.elevation.keys import elevation_key
from shared.assets.landing_zone import METEO_POLISHED
from shared.picture_metadata import PREVIEW, picture_metadata
from shared.resources.storage import StorageResource
from tests.elevation.test_pipeline import definitions as elevation_definitions
from tests.elevation.test_pipeline import run_all
from tests.stations.test_sync import OTHER_STATION, definitions, provider_copy, tick

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
LARGE_SIDE = 4096
"""Cells a side of the large synthetic DEM: its full float32 read alone would be 64 MiB."""


def decoded(png: bytes) -> np.ndarray:
    """The picture's pixels, after checking it is a PNG within the bounds and not blank."""
    assert png[:8] == PNG_MAGIC
    assert len(png) <= pictures.MAX_PNG_BYTES
    pixels = imread(io.BytesIO(png), format="png")
    assert max(pixels.shape[:2]) <= pictures.MAX_SIDE_PX
    assert pixels[..., :3].std() > 0.02, "the picture is blank"
    return pixels


def embedded(entry: dg.MetadataValue, alt: str) -> bytes:
    """The PNG of a markdown image entry, after checking it is one (a data URI the UI shows inline)."""
    assert isinstance(entry, dg.MarkdownMetadataValue) and entry.md_str is not None
    prefix = f"![{alt}](data:image/png;base64,"
    assert entry.md_str.startswith(prefix) and entry.md_str.endswith(")")
    return base64.b64decode(entry.md_str[len(prefix) : -1])


def write_dem(path: Path, side: int, cell: float = 5.0) -> Path:
    """A COG of rolling hills with overviews, its north-west corner nodata."""
    steps = np.arange(side, dtype="float32")
    elevation = 200 + 80 * np.outer(np.cos(steps / (side / 10)), np.sin(steps / (side / 12))) + 0.02 * steps
    elevation[: side // 8, : side // 8] = -9999
    profile = {"driver": "COG", "width": side, "height": side, "count": 1, "dtype": "float32"}
    profile |= {"crs": "EPSG:2180", "transform": from_origin(500_000, 300_000, cell, cell), "nodata": -9999}
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(elevation, 1)
    return path


@pytest.fixture(scope="module")
def large_dem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_dem(tmp_path_factory.mktemp("dem") / "large.tif", LARGE_SIDE)


def test_hillshade_is_a_bounded_picture_with_transparent_nodata(tmp_path: Path) -> None:
    dem = write_dem(tmp_path / "dem.tif", 700)
    pixels = decoded(pictures.hillshade_png(str(dem), {"GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR"}))
    assert pixels.shape == (512, 512, 4)
    assert pixels[0, 0, 3] == 0 and pixels[-1, -1, 3] == 1  # the nodata corner is transparent, the rest not


def test_hillshade_of_a_large_cog_reads_only_a_decimated_raster(large_dem: Path) -> None:
    tracemalloc.start()
    try:
        png = pictures.hillshade_png(str(large_dem))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    decoded(png)
    full_read = LARGE_SIDE * LARGE_SIDE * 4
    assert peak < full_read / 4, f"{peak} bytes allocated: the raster was read near full resolution"


def test_horn_hillshade_lights_north_west_slopes() -> None:
    rows, cols = np.mgrid[0:9, 0:9].astype("float64")
    facing_north_west = pictures.horn_hillshade(rows + cols, 1.0, 1.0)  # rows grow southwards
    facing_south_east = pictures.horn_hillshade(-(rows + cols), 1.0, 1.0)
    facing_north_east = pictures.horn_hillshade(rows - cols, 1.0, 1.0)
    facing_south_west = pictures.horn_hillshade(cols - rows, 1.0, 1.0)
    assert np.isfinite(facing_north_west).all()  # the edge is shaded too
    assert np.isnan(pictures.horn_hillshade(np.where(rows == 4, np.nan, rows), 1.0, 1.0)[3:6]).all()
    assert facing_north_west[4, 4] > 0.9 > 0.1 > facing_south_east[4, 4]
    assert facing_north_east[4, 4] == pytest.approx(facing_south_west[4, 4])  # across the sun's rays


def test_catchments_picture_shows_outlines_and_fills() -> None:
    reach = [
        shapely.box(x, y, x + 1000, y + 1000) for x in range(0, 5000, 1000) for y in range(0, 3000, 1000)
    ]
    progressive = [shapely.box(0, 0, x + 1000, 3000) for x in range(0, 5000, 1000)]
    decoded(pictures.catchments_png(reach))
    pixels = decoded(pictures.catchments_png(reach, progressive))
    assert (pixels[..., 2] - pixels[..., 0] > 0.1).any(), "no progressive catchment filled"


def test_series_picture_shows_the_most_flagged_series() -> None:
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(days=day) for day in range(90)]
    rows = [
        {
            "station": station,
            "variable": "precipitation_mm",
            "time": day,
            "raw_value": 50.0 if index % spikes == 0 else float(index % 7),
            "value": float(index % 7),
            "flag": "spike" if index % spikes == 0 else "ok",
        }
        for station, spikes in [("A", 5), ("B", 10), ("C", 30), ("D", 1000), ("E", 1000)]
        for index, day in enumerate(days)
    ]
    series = pl.DataFrame(rows)
    assert pictures.most_flagged(series)["station"].to_list() == ["A", "B", "C"]
    decoded(pictures.series_png(series))


def test_hydrograph_picture() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=day) for day in range(365)]
    observed = 2 + np.sin(np.arange(365) / 40)
    decoded(pictures.hydrograph_png(days, observed, {"LSTM": observed * 0.9}, "gauge 1"))


def test_a_picture_that_cannot_be_drawn_is_left_out(tmp_path: Path) -> None:
    def broken() -> bytes:
        return pictures.hillshade_png(str(tmp_path / "missing.tif"))

    assert picture_metadata(broken, "hillshade") == {}
    entry = picture_metadata(lambda: pictures.hydrograph_png([1, 2, 3], [1, 3, 2], {}, "g"), "hydrograph")
    decoded(embedded(entry[PREVIEW], "hydrograph"))


def test_polished_series_materialise_with_their_picture(
    small_region: Path, local_storage: StorageResource, tmp_path: Path
) -> None:
    provider = provider_copy(small_region, "meteo", 1, (OTHER_STATION,), (2022,), tmp_path / "provider")
    defs, instance = definitions("meteo", provider, local_storage), dg.DagsterInstance.ephemeral()
    tick(defs, instance, "meteo")
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[METEO_POLISHED]
    )
    assert result.success
    event = instance.get_latest_materialization_event(METEO_POLISHED)
    assert event is not None and event.asset_materialization is not None
    decoded(embedded(event.asset_materialization.metadata[PREVIEW], "raw vs polished, most flagged series"))


def test_consolidated_dtm_materialises_with_its_hillshade(
    small_region: Path, local_storage: StorageResource
) -> None:
    defs, instance = elevation_definitions(small_region, 2, local_storage), dg.DagsterInstance.ephemeral()
    run_all(defs, instance)
    event = instance.get_latest_materialization_event(elevation_key("dtm", "consolidated"))
    assert event is not None and event.asset_materialization is not None
    preview = event.asset_materialization.metadata[PREVIEW]
    pixels = decoded(embedded(preview, "hillshade of elevation/dtm/consolidated"))
    assert pixels[..., 3].mean() > 0.5  # the mosaic covers most of its extent


def test_forecast_verification_draws_the_gauges_with_the_most_scored_forecasts() -> None:
    days = [dt.date(2024, 3, 1) + dt.timedelta(days=day) for day in range(60)]
    observed = pl.DataFrame(
        {"gauge": gauge, "date": days, "observed_m3s": [10 + index % 9 for index in range(60)]}
        for gauge in ("g1", "g2", "g3")
    ).explode("date", "observed_m3s")
    forecasts = pl.DataFrame(
        [
            {"gauge": gauge, "date": day, "lead_day": 1, "corrected_m3s": 11.0, "discharge_m3s": 12.0}
            | {"last_observed_m3s": 10.0}
            for gauge, runs in (("g1", 5), ("g2", 20), ("g3", 10))
            for day in days[-runs:]
        ]
    )
    table = verification_table(forecasts, observed)
    metadata = hydrographs(table, forecasts, observed, dg.get_dagster_logger())
    assert sorted(metadata) == ["hydrograph_g2", "hydrograph_g3"]
    decoded(embedded(metadata["hydrograph_g2"], "gauge g2: observed and day-1 forecasts"))
