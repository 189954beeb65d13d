"""Vegetation attributes of the progressive catchments from the monthly NDVI composites
(:data:`landing_zone.defs.features.keys.CATCHMENT_VEGETATION`).

Per catchment and month, from band 1 (``ndvi``) of the month's composite COG (``satellite/ndvi``):

- ``ndvi_valid_fraction``: the coverage-weighted share of the catchment's area with a valid composite
  pixel (exactextract ``count``, the sum of the coverage fractions of the non-nodata cells it touches,
  over the polygon's area in cells). Part of a catchment beyond the composite counts as invalid.
- ``ndvi_mean``: the coverage-weighted mean of the valid cells (exactextract ``mean``), so a catchment
  smaller than a pixel still gets the pixels it covers; null where the valid fraction is below
  :data:`MIN_VALID_FRACTION`.
- ``ndvi_seasonal_amplitude``: the range of the catchment's climatology: its monthly means averaged per
  calendar month (two Julys give one July), then the largest calendar month minus the smallest; the same
  value on each of its rows. Taken over the table's months directly, a catalogue spanning more than a
  year would mix a range across years into the seasonal one. Null where it has a mean in fewer than two
  calendar months: one month holds no range.
- ``ndvi_months_observed``: the months of the table in which the catchment has a mean.

exactextract reads the COG window by window (bounded by its ``max_cells_in_memory``), not the whole
raster, so memory follows the largest catchment's window, not the region. rasterio, shapely and
exactextract are imported inside the functions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from shared.vectors.geoframe import GeoFrame

VEGETATION_SCHEMA = {
    "catchment_id": pl.String,
    "month": pl.Date,
    "ndvi_mean": pl.Float64,
    "ndvi_valid_fraction": pl.Float64,
    "ndvi_seasonal_amplitude": pl.Float64,
    "ndvi_months_observed": pl.Int32,
}
"""The ``features/catchment_vegetation`` table."""
VEGETATION_DESCRIPTIONS = {
    "month": "Month of the composite (its first day)",
    "ndvi_mean": "Mean NDVI over the catchment's observed cells (-1..1); null below the valid-fraction floor",
    "ndvi_valid_fraction": "Share (0-1) of the catchment's area with a cloud-free NDVI that month",
    "ndvi_seasonal_amplitude": "Largest minus smallest calendar-month mean NDVI of the catchment "
    "(NDVI units); null with fewer than two calendar months",
    "ndvi_months_observed": "Months with a mean that the seasonal amplitude was computed from",
}
"""Descriptions, with units, of :data:`VEGETATION_SCHEMA`'s columns."""

MIN_VALID_FRACTION = 0.5
"""Below this share of its area observed, a catchment's month has no mean. Clouds come in fields
kilometres wide, so the clear part of a mostly clouded catchment is one side of it (one slope, one
land cover), not a sample of it: its mean would describe that side. From half the area on, the mean
describes most of the catchment."""

NDVI_BAND = 1
"""The composite's NDVI band (band 2 counts the observations behind each pixel)."""


class CompositeError(ValueError):
    """A month's composite cannot be read as the contract says (CRS, grid, nodata): that month is skipped."""


@dataclass(frozen=True)
class MonthComposite:
    """One month's composite as a path GDAL opens, and the URI it is named by in errors."""

    month: dt.date
    path: str
    uri: str


def month_statistics(catchments: GeoFrame, composite: MonthComposite) -> pl.DataFrame:
    """``catchment_id``, ``month``, ``ndvi_mean``, ``ndvi_valid_fraction`` of every catchment (layer
    order, ``reach_id`` is its id) in one month's composite; the mean already nulled below
    :data:`MIN_VALID_FRACTION`."""
    import rasterio
    import shapely
    from exactextract import exact_extract
    from exactextract.raster import RasterioRasterSource

    geometries = catchments.geometries()
    features = [
        {"type": "Feature", "properties": {"n": n}, "geometry": shapely.geometry.mapping(g)}
        for n, g in enumerate(geometries)
    ]
    with rasterio.open(composite.path) as dataset:
        cell_area = check_composite(dataset, catchments.crs, composite.uri)
        results = exact_extract(
            RasterioRasterSource(dataset, NDVI_BAND), features, ["mean", "count"], output="pandas"
        )
    mean = results["mean"].to_numpy(dtype=float, na_value=np.nan)
    area_cells = np.asarray(shapely.area(geometries), dtype=float) / cell_area
    fraction = np.clip(results["count"].to_numpy(dtype=float) / area_cells, 0.0, 1.0)
    observed = (fraction >= MIN_VALID_FRACTION) & np.isfinite(mean)
    return pl.DataFrame(
        {
            "catchment_id": catchments.frame["reach_id"],
            "month": [composite.month] * len(geometries),
            "ndvi_mean": pl.Series(np.where(observed, mean, np.nan)).fill_nan(None),
            "ndvi_valid_fraction": fraction,
        },
        schema_overrides={"month": pl.Date},
    )


def check_composite(dataset: Any, crs: str, uri: str) -> float:
    """The composite's cell area in square metres, once its CRS is the catchments' and band 1 has a
    nodata value: without one, pixels without a clear observation would count as vegetation."""
    import rasterio

    if dataset.crs is None or dataset.crs != rasterio.crs.CRS.from_user_input(crs):
        raise CompositeError(f"{uri}: CRS {dataset.crs} is not the catchments' {crs}")
    if dataset.nodatavals[NDVI_BAND - 1] is None:
        raise CompositeError(f"{uri}: band {NDVI_BAND} (ndvi) declares no nodata value")
    return abs(dataset.transform.a * dataset.transform.e)


def vegetation_table(months: list[pl.DataFrame]) -> pl.DataFrame:
    """The months' statistics (:func:`month_statistics`) as one table of :data:`VEGETATION_SCHEMA`, with
    each catchment's seasonal amplitude and observed months over them, sorted by catchment and month."""
    table = pl.concat(months)
    return (
        table.join(seasonal_amplitude(table), on="catchment_id", how="left")
        .with_columns(ndvi_months_observed=pl.col("ndvi_mean").count().over("catchment_id"))
        .select(pl.col(name).cast(dtype) for name, dtype in VEGETATION_SCHEMA.items())
        .sort("catchment_id", "month")
    )


def seasonal_amplitude(table: pl.DataFrame) -> pl.DataFrame:
    """``catchment_id``, ``ndvi_seasonal_amplitude`` of every catchment with a mean in two calendar
    months or more: the range over calendar months of the mean of its monthly means in each."""
    climatology = (
        table.drop_nulls("ndvi_mean")
        .group_by("catchment_id", pl.col("month").dt.month().alias("calendar_month"))
        .agg(pl.col("ndvi_mean").mean())
    )
    return (
        climatology.group_by("catchment_id")
        .agg(
            ndvi_seasonal_amplitude=pl.col("ndvi_mean").max() - pl.col("ndvi_mean").min(),
            calendar_months=pl.len(),
        )
        .filter(pl.col("calendar_months") >= 2)
        .drop("calendar_months")
    )
