"""Daily meteo grids from the polished station series: one month of one variable at a time.

Method, per variable and day (``VARIABLES`` says which reduction each variable gets):

1. Valid values only. A polished value enters when its flag is one of :data:`VALID_FLAGS` (``ok``,
   ``duplicate``, ``corrected``, ``imputed``: polishing vouches for each, imputed ones being short linear
   gap fills within the rules' ``fill_limit_days``, never rain). ``rejected`` and ``missing`` never enter,
   whatever their ``value`` column holds.
2. Reduction to a reference height (sea level) with each station's own elevation from the station list
   (not the DTM: a station on a hill narrower than the analysis cell is higher than its cell's mean):

   - temperature (daily mean, maximum and minimum, each with its own rate: minima have weaker lapse rates
     than maxima, inversions included): ``T0 = T - rate * z``. ``rate`` is
     :attr:`GriddingSettings.lapse_rate_c_per_km`
     (-6.5 °C/km, the ICAO standard atmosphere) unless the day has at least ``lapse_fit_min_stations``
     valid stations spanning at least ``lapse_fit_min_span_m`` of elevation: then it is that day's
     least-squares slope of temperature on elevation. Below that span a day's station noise (about 0.5 °C)
     would dominate the fitted slope; the rate used is recorded per day.
   - pressure: ``p0 = p * exp(z / H)``, the hypsometric equation with the standard atmosphere's scale
     height ``H = R T / g = 8434 m`` at 15 °C.
   - precipitation and humidity: none (no reliable daily elevation gradient).

   A station without an elevation takes no part in the reduced variables.
3. Inverse distance weighting of the reduced values onto the cell centres: weight ``1 / d^power`` (power
   2) over every valid station within ``search_radius_m`` (100 km: beyond it a station says nothing about
   a day's field). Distances are floored at half a cell, so a station inside a cell does not take the
   whole weight through a singularity. IDW is a convex combination: precipitation stays >= 0 and humidity
   within 0..100 %. A cell with no valid station within the radius is nodata.
4. Back to each cell's elevation (the consolidated DTM averaged onto the grid): ``T = T0 + rate * z``,
   ``p = p0 * exp(-z / H)``. Cells without elevation are nodata for the reduced variables.

A day with fewer valid stations than the variable's ``min_stations`` (2 for every variable: one station
alone gives a constant field, two are the least from which IDW shows any spatial structure; temperature
needs no more, since below ``lapse_fit_min_stations`` its reduction uses the standard rate, not a fit) is
not guessed: its band is all nodata and it is marked ``too_few_stations``, with its valid-station count and
the stations missing that day, in the band's metadata and the manifest.

Everything is numpy over (days x cells): one month of one variable and one block of grid rows at a time
(:func:`interpolate_rows`), so memory is bounded by the block, not the region or the record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

Reduction = Literal["none", "lapse_rate", "barometric"]

VALID_FLAGS = ("ok", "duplicate", "corrected", "imputed")
"""Polishing flags whose value may enter a grid; ``rejected`` and ``missing`` never do."""

SCALE_HEIGHT_M = 8434.0
"""Standard-atmosphere scale height R·T/g at 15 °C (287.05 · 288.15 / 9.80665)."""


@dataclass(frozen=True)
class VariableMethod:
    """How one polished variable is gridded."""

    variable: str
    reduction: Reduction
    min_stations: int


VARIABLES: dict[str, VariableMethod] = {
    method.variable: method
    for method in (
        VariableMethod("precipitation_mm", "none", 2),
        VariableMethod("air_temperature_c", "lapse_rate", 2),
        VariableMethod("air_temperature_max_c", "lapse_rate", 2),
        VariableMethod("air_temperature_min_c", "lapse_rate", 2),
        VariableMethod("relative_humidity_pct", "none", 2),
        VariableMethod("air_pressure_hpa", "barometric", 2),
    )
}
"""Every polished meteo variable the model may use, with its reduction and minimum of valid stations."""


@dataclass(frozen=True)
class GriddingSettings:
    """The method's tunable numbers (module docstring)."""

    power: float = 2.0
    search_radius_m: float = 100_000.0
    lapse_rate_c_per_km: float = -6.5
    lapse_fit_min_stations: int = 5
    lapse_fit_min_span_m: float = 300.0


@dataclass(frozen=True)
class Stations:
    """Station positions in the grid's CRS and their elevations (NaN: unknown)."""

    codes: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    elevation_m: np.ndarray


@dataclass(frozen=True)
class AnalysisGrid:
    """A north-up grid of square cells with the terrain elevation of each cell (NaN: none)."""

    west: float
    north: float
    cell: float
    elevation_m: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.elevation_m.shape

    def centres(self, rows: slice) -> tuple[np.ndarray, np.ndarray]:
        """Flat x and y of the cell centres of ``rows`` (row-major)."""
        row_numbers = np.arange(self.shape[0])[rows]
        x = self.west + (np.arange(self.shape[1]) + 0.5) * self.cell
        y = self.north - (row_numbers + 0.5) * self.cell
        xx, yy = np.meshgrid(x, y)
        return xx.ravel(), yy.ravel()


@dataclass(frozen=True)
class StationDays:
    """One variable's month at the stations, reduced to the reference height: (days, stations), NaN
    where a station has no valid value; marked days are all NaN."""

    method: VariableMethod
    dates: tuple[dt.date, ...]
    reduced: np.ndarray
    valid_stations: np.ndarray
    lapse_rate_c_per_km: np.ndarray | None
    missing_stations: tuple[tuple[str, ...], ...]
    """Per day, the listed stations without a valid value (a gap, a rejection, no elevation for a reduced
    variable): what a failed month's check names, so an operator knows which delivery to chase."""

    @property
    def too_few_stations(self) -> np.ndarray:
        return self.valid_stations < self.method.min_stations


def stations_from_list(table: pl.DataFrame, crs: str) -> Stations:
    """The station list (``code``, WGS84 ``lon``/``lat``, ``elevation_m``) projected into ``crs``.

    Stations without a position cannot be placed and are left out.
    """
    from pyproj import Transformer

    placed = table.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null())
    to_grid = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    x, y = to_grid.transform(placed["lon"].to_numpy(), placed["lat"].to_numpy())
    elevation = placed["elevation_m"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return Stations(tuple(placed["code"].to_list()), np.asarray(x), np.asarray(y), elevation)


def month_dates(month: str) -> tuple[dt.date, ...]:
    """Every day of a ``YYYY-MM`` month."""
    first = dt.date.fromisoformat(f"{month}-01")
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return tuple(first + dt.timedelta(days=n) for n in range((following - first).days))


def station_matrix(
    polished: pl.DataFrame, stations: Stations, variable: str, dates: tuple[dt.date, ...]
) -> np.ndarray:
    """(days, stations) of ``variable``'s valid values; NaN where none (or the flag says invalid)."""
    columns = pl.DataFrame(
        {"station": list(stations.codes), "column": np.arange(len(stations.codes))},
        schema={"station": pl.String, "column": pl.Int64},
    )
    valid = (
        polished.filter(
            (pl.col("variable") == variable)
            & pl.col("flag").is_in(VALID_FLAGS)
            & pl.col("value").is_not_null()
        )
        .join(columns, on="station")
        .select((pl.col("time").dt.date() - pl.lit(dates[0])).dt.total_days().alias("row"), "column", "value")
        .filter(pl.col("row").is_between(0, len(dates) - 1))
    )
    matrix = np.full((len(dates), len(stations.codes)), np.nan)
    matrix[valid["row"].to_numpy(), valid["column"].to_numpy()] = valid["value"].to_numpy()
    return matrix


def station_days(
    polished: pl.DataFrame,
    stations: Stations,
    method: VariableMethod,
    dates: tuple[dt.date, ...],
    settings: GriddingSettings,
) -> StationDays:
    """The month's valid values of one variable at the stations, reduced to the reference height."""
    values = station_matrix(polished, stations, method.variable, dates)
    elevation = stations.elevation_m[None, :]
    rates = None
    if method.reduction != "none":
        values = np.where(np.isfinite(elevation), values, np.nan)
    if method.reduction == "lapse_rate":
        rates = lapse_rates(values, stations.elevation_m, settings)
        values = values - rates[:, None] / 1000.0 * elevation
    elif method.reduction == "barometric":
        values = values * np.exp(elevation / SCALE_HEIGHT_M)
    present = np.isfinite(values)
    counts = present.sum(axis=1)
    missing = tuple(tuple(np.asarray(stations.codes)[~day].tolist()) for day in present)
    values[counts < method.min_stations] = np.nan
    return StationDays(method, dates, values, counts, rates, missing)


def lapse_rates(values: np.ndarray, elevation_m: np.ndarray, settings: GriddingSettings) -> np.ndarray:
    """Per day the lapse rate in °C/km: the stations' least-squares slope where enough valid stations span
    enough elevation, the configured rate elsewhere."""
    valid = np.isfinite(values)
    counts = valid.sum(axis=1)
    z = np.where(valid, elevation_m[None, :], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        span = np.nanmax(np.where(valid, z, -np.inf), axis=1) - np.nanmin(np.where(valid, z, np.inf), axis=1)
        z_anomaly = z - np.nanmean(z, axis=1, keepdims=True)
        t_anomaly = values - np.nanmean(values, axis=1, keepdims=True)
        slope_per_m = np.nansum(z_anomaly * t_anomaly, axis=1) / np.nansum(z_anomaly**2, axis=1)
    fit = (counts >= settings.lapse_fit_min_stations) & (span >= settings.lapse_fit_min_span_m)
    return np.where(fit, slope_per_m * 1000.0, settings.lapse_rate_c_per_km)


def interpolate_rows(
    days: StationDays, stations: Stations, grid: AnalysisGrid, rows: slice, settings: GriddingSettings
) -> np.ndarray:
    """(days, rows, columns) float32 of the grid rows ``rows``, NaN where nodata (module docstring)."""
    x, y = grid.centres(rows)
    elevation = grid.elevation_m[rows].ravel()
    reduced = idw(days.reduced, stations, x, y, grid.cell / 2.0, settings)
    if days.method.reduction == "lapse_rate":
        assert days.lapse_rate_c_per_km is not None
        reduced = reduced + days.lapse_rate_c_per_km[:, None] / 1000.0 * elevation[None, :]
    elif days.method.reduction == "barometric":
        reduced = reduced * np.exp(-elevation[None, :] / SCALE_HEIGHT_M)
    n_rows = len(range(*rows.indices(grid.shape[0])))
    return reduced.reshape(len(days.dates), n_rows, grid.shape[1]).astype(np.float32, copy=False)


IDW_CHUNK_ELEMENTS = 2_000_000
"""Points x stations per distance matrix (16 MB of float64): what bounds IDW's memory, whatever the grid."""


def idw(
    values: np.ndarray,
    stations: Stations,
    x: np.ndarray,
    y: np.ndarray,
    min_distance_m: float,
    settings: GriddingSettings,
) -> np.ndarray:
    """Inverse distance weighting of (days, stations) onto points: (days, points) float32, NaN without a
    valid station within the search radius. Two matrix products carry every day at once: the weighted
    sum of valid values and the sum of the weights of the stations valid that day."""
    valid = np.isfinite(values)
    filled, present = np.where(valid, values, 0.0), valid.astype(float)
    result = np.empty((values.shape[0], len(x)), dtype=np.float32)
    step = max(1, IDW_CHUNK_ELEMENTS // max(1, len(stations.codes)))
    for start in range(0, len(x), step):
        part = slice(start, start + step)
        distance = np.hypot(x[part, None] - stations.x[None, :], y[part, None] - stations.y[None, :])
        weights = np.where(
            distance <= settings.search_radius_m, np.maximum(distance, min_distance_m) ** -settings.power, 0.0
        )
        numerator, denominator = filled @ weights.T, present @ weights.T
        with np.errstate(invalid="ignore", divide="ignore"):
            result[:, part] = np.where(denominator > 0, numerator / denominator, np.nan)
    return result
