"""Multi-band daily COGs: one file per variable and month, one band per day (the layout of
``meteo/daily_grids``, a contract for the features that read it).

- band ``n`` is day ``n`` of the month; its description is the ISO date (``2018-01-31``);
- float32, nodata ``NODATA`` (NaN never reaches the file), the platform's COG profile (512 blocks,
  internal overviews averaged, statistics);
- band tags: ``DATE``, ``VALID_STATIONS`` (stations with a valid value that day) and ``TOO_FEW_STATIONS``
  (``YES``: fewer than the variable's minimum, the band is all nodata);
- dataset tags: ``VARIABLE``, ``METHOD`` (one line from :mod:`.gridding`).

Rows are computed and written block by block into a tiled GTiff (all bands of a block at once), then
copied with GDAL's COG driver, so memory is one block of rows times the month's days.
rasterio is imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from landing_zone.defs.features.gridding import AnalysisGrid, StationDays
from shared.rasters.cog import COG_BLOCK_SIZE, copy_to_cog, tiled_gtiff_profile

NODATA = -9999.0

RowBlock = Callable[[slice], np.ndarray]
"""Computes (days, rows, columns) for a slice of grid rows, NaN where nodata."""


@dataclass(frozen=True)
class DayStatistics:
    """Per band: valid cells, minimum, maximum and mean of the written values (NaN without cells)."""

    valid_cells: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray


def read_analysis_grid(path: Path) -> tuple[AnalysisGrid, str]:
    """The elevation raster on the analysis grid (band 1, nodata as NaN) and its CRS (``EPSG:n`` where
    GDAL identifies one, WKT otherwise)."""
    import rasterio

    with rasterio.open(path) as dataset:
        transform = dataset.transform
        if abs(transform.a + transform.e) > 1e-9 or transform.b or transform.d:
            raise ValueError(f"{path}: the analysis grid must be north-up with square cells")
        values = dataset.read(1).astype(np.float64)
        if dataset.nodata is not None:
            values[values == dataset.nodata] = np.nan
        epsg = dataset.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg else dataset.crs.to_wkt()
        return AnalysisGrid(transform.c, transform.f, transform.a, values), crs


def write_daily_cog(
    destination: Path, grid: AnalysisGrid, crs: str, days: StationDays, rows: RowBlock, method: str
) -> DayStatistics:
    """Write one variable's month as a COG at ``destination`` (layout in the module docstring)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    height, width = grid.shape
    transform = Affine(grid.cell, 0.0, grid.west, 0.0, -grid.cell, grid.north)
    profile = tiled_gtiff_profile(width, height, "float32", crs, transform, NODATA) | {
        "count": len(days.dates)
    }
    staging = destination.with_suffix(".staging.tif")
    totals = _Totals(len(days.dates))
    with rasterio.open(staging, "w", **profile) as dataset:
        for start in range(0, height, COG_BLOCK_SIZE):
            block = rows(slice(start, min(start + COG_BLOCK_SIZE, height)))
            totals.add(block)
            window = Window(0, start, width, block.shape[1])
            dataset.write(np.where(np.isfinite(block), block, NODATA).astype(np.float32), window=window)
        _describe(dataset, days, method)
    copy_to_cog(staging, destination)
    staging.unlink()
    return totals.statistics()


def _describe(dataset: Any, days: StationDays, method: str) -> None:
    """Band descriptions (the dates) and the tags of the layout."""
    dataset.update_tags(VARIABLE=days.method.variable, METHOD=method)
    for band, (date, count, marked) in enumerate(
        zip(days.dates, days.valid_stations, days.too_few_stations, strict=True), start=1
    ):
        dataset.set_band_description(band, date.isoformat())
        dataset.update_tags(
            band, DATE=date.isoformat(), VALID_STATIONS=int(count), TOO_FEW_STATIONS="YES" if marked else "NO"
        )


class _Totals:
    """Running per-day statistics over the row blocks."""

    def __init__(self, days: int) -> None:
        self.count = np.zeros(days, dtype=np.int64)
        self.total = np.zeros(days)
        self.minimum = np.full(days, np.inf)
        self.maximum = np.full(days, -np.inf)

    def add(self, block: np.ndarray) -> None:
        flat = block.reshape(block.shape[0], -1)
        valid = np.isfinite(flat)
        self.count += valid.sum(axis=1)
        self.total += np.where(valid, flat, 0.0).sum(axis=1)
        self.minimum = np.minimum(self.minimum, np.where(valid, flat, np.inf).min(axis=1, initial=np.inf))
        self.maximum = np.maximum(self.maximum, np.where(valid, flat, -np.inf).max(axis=1, initial=-np.inf))

    def statistics(self) -> DayStatistics:
        empty = self.count == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(empty, np.nan, self.total / self.count)
        return DayStatistics(
            self.count,
            np.where(empty, np.nan, self.minimum),
            np.where(empty, np.nan, self.maximum),
            mean,
        )


MANIFEST_SCHEMA = pl.Schema(
    {
        "variable": pl.String(),
        "date": pl.Date(),
        "band": pl.Int32(),
        "valid_stations": pl.Int32(),
        "too_few_stations": pl.Boolean(),
        "missing_stations": pl.List(pl.String()),
        "lapse_rate_c_per_km": pl.Float64(),
        "valid_cells": pl.Int64(),
        "minimum": pl.Float64(),
        "maximum": pl.Float64(),
        "mean": pl.Float64(),
        "cog_key": pl.String(),
    }
)
"""One row per variable and day: what the asset's Parquet holds and its checks read (lapse rate: null
for variables not reduced with one; statistics null for an all-nodata band; ``missing_stations``: the
listed stations without a valid value that day)."""

MANIFEST_DESCRIPTIONS = {
    "date": "Day the band holds (UTC calendar day)",
    "band": "Band of the month's COG holding the day (1-based)",
    "valid_stations": "Stations with a valid polished value that day",
    "too_few_stations": "Whether fewer stations than the variable's minimum had a value (band all nodata)",
    "missing_stations": "Listed stations without a valid value that day",
    "lapse_rate_c_per_km": "Temperature lapse rate used to reduce to the terrain (°C/km); null when not "
    "reduced with one",
    "valid_cells": "Cells of the band with a value",
    "minimum": "Lowest cell value of the band, in the variable's unit (its name's suffix)",
    "maximum": "Highest cell value of the band, in the variable's unit",
    "mean": "Mean cell value of the band, in the variable's unit",
    "cog_key": "Storage key of the month's COG of the variable",
}
"""Descriptions, with units, of :data:`MANIFEST_SCHEMA`'s columns."""


def manifest_rows(days: StationDays, statistics: DayStatistics, cog_key: str) -> pl.DataFrame:
    """The manifest rows of one variable's COG."""
    count = len(days.dates)
    rates = days.lapse_rate_c_per_km
    frame = pl.DataFrame(
        {
            "variable": [days.method.variable] * count,
            "date": list(days.dates),
            "band": np.arange(1, count + 1),
            "valid_stations": days.valid_stations,
            "too_few_stations": days.too_few_stations,
            "missing_stations": [list(codes) for codes in days.missing_stations],
            "lapse_rate_c_per_km": np.full(count, np.nan) if rates is None else rates,
            "valid_cells": statistics.valid_cells,
            "minimum": statistics.minimum,
            "maximum": statistics.maximum,
            "mean": statistics.mean,
            "cog_key": [cog_key] * count,
        }
    )
    return frame.with_columns(pl.col(pl.Float64).fill_nan(None)).cast(MANIFEST_SCHEMA)
