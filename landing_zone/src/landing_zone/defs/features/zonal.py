"""Daily catchment means of the gridded meteo variables, and Oudin potential evapotranspiration.

Method (what ``features/catchment_forcings`` computes):

1. Coverage weights, once per grid. exactextract measures, for every catchment polygon, the exact
   fraction of each grid cell it covers (``cell_id`` and ``coverage`` operations over a grid of the
   right shape and extent; the values do not matter). A reach catchment smaller than one cell still
   covers part of a cell, so it gets that cell's value: no centre sampling. The weights form one sparse
   (catchments x touched cells) matrix ``W``.
2. Daily means for all bands at once: with ``V`` the (touched cells x days) values, zero where nodata,
   and ``M`` the (cells x days) valid mask, ``mean = (W @ V) / (W @ M)``: the coverage-weighted mean
   of the valid cells (exactextract's ``mean``), computed as two sparse matrix products instead of one
   polygon walk per band. Where no covered cell is valid the mean is null.
3. Valid fraction = ``(W @ M) / (polygon area / cell area)``: the coverage-weighted share of the
   catchment with valid input that day; a polygon reaching beyond the grid counts that part as invalid.
4. Potential evapotranspiration, Oudin et al. (2005, J. Hydrol. 303, eq. 3):
   ``PET = Re / (lambda rho) * (T + 5) / 100`` for ``T > -5 C``, else 0, in mm/day with ``Re`` the
   extraterrestrial radiation (MJ m-2 day-1, FAO-56 eq. 21-25) at the catchment centroid's WGS84
   latitude on the day of year, ``lambda = 2.45 MJ/kg`` and ``rho = 1000 kg/m3`` (so ``Re / 2.45`` mm),
   and ``T`` the catchment-mean daily air temperature. Chosen over Hargreaves (which needs the daily
   minimum and maximum) and Priestley-Taylor (which needs net radiation): Oudin et al. found this
   temperature-only formula the best PET input to rainfall-runoff models among 27 they compared, and it
   needs only the variable every station reports.

exactextract, scipy and pyproj are imported inside the functions, so importing this module loads none.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

SOLAR_CONSTANT_MJ_M2_MIN = 0.0820
"""FAO-56's solar constant."""
LATENT_HEAT_MJ_KG = 2.45
"""Latent heat of vaporisation (Oudin 2005 and FAO-56)."""
WATER_DENSITY_KG_M3 = 1000.0
OUDIN_THRESHOLD_C = -5.0
"""Oudin's temperature below which PET is zero (the formula's ``T + 5``)."""


@dataclass(frozen=True)
class GridSpec:
    """A north-up grid of square cells: where the daily COGs' cells are."""

    west: float
    north: float
    cell: float
    height: int
    width: int

    @property
    def south(self) -> float:
        return self.north - self.height * self.cell

    @property
    def east(self) -> float:
        return self.west + self.width * self.cell


@dataclass(frozen=True)
class CoverageWeights:
    """Each catchment's cell coverage on one grid: the sparse (catchments x touched cells) ``matrix``,
    the flat (row-major) grid index of each touched cell, and each polygon's area in cells."""

    matrix: Any
    cells: np.ndarray
    area_cells: np.ndarray


@dataclass(frozen=True)
class ZonalMeans:
    """(catchments x days) coverage-weighted means (NaN: no valid cell) and valid fractions (0-1)."""

    mean: np.ndarray
    valid_fraction: np.ndarray


class CatchmentOutsideGridError(ValueError):
    """A catchment covers no cell of the grid: its forcings cannot be computed."""


def coverage_weights(geometries: Any, grid: GridSpec, names: list[str]) -> CoverageWeights:
    """The coverage matrix of ``geometries`` (shapely, the grid's CRS) on ``grid``; ``names`` name the
    catchments in the error when one lies wholly outside the grid."""
    import shapely
    from exactextract import exact_extract
    from exactextract.raster import NumPyRasterSource
    from scipy import sparse

    source = NumPyRasterSource(
        np.zeros((grid.height, grid.width), dtype=np.uint8), grid.west, grid.south, grid.east, grid.north
    )
    features = [
        {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shape)}
        for shape in geometries
    ]
    results = exact_extract(source, features, ["cell_id", "coverage"])
    cell_ids = [np.asarray(r["properties"]["cell_id"], dtype=np.int64) for r in results]
    coverages = [np.asarray(r["properties"]["coverage"], dtype=np.float64) for r in results]
    outside = [name for name, ids in zip(names, cell_ids, strict=True) if ids.size == 0]
    if outside:
        raise CatchmentOutsideGridError(
            f"{len(outside)} catchment(s) cover no cell of the daily grids: {', '.join(outside[:10])}"
        )
    flat = np.concatenate(cell_ids)
    cells, columns = np.unique(flat, return_inverse=True)
    rows = np.repeat(np.arange(len(cell_ids)), [ids.size for ids in cell_ids])
    matrix = sparse.csr_matrix(
        (np.concatenate(coverages), (rows, columns)), shape=(len(cell_ids), cells.size)
    )
    return CoverageWeights(matrix, cells, shapely.area(np.asarray(geometries)) / grid.cell**2)


def zonal_means(weights: CoverageWeights, bands: np.ndarray, nodata: float | None) -> ZonalMeans:
    """Means and valid fractions of (days, rows, columns) ``bands`` (method: the module docstring)."""
    values = bands.reshape(bands.shape[0], -1)[:, weights.cells].T.astype(np.float64)
    valid = np.isfinite(values)
    if nodata is not None:
        valid &= values != nodata
    covered = np.asarray(weights.matrix @ valid.astype(np.float64))
    total = np.asarray(weights.matrix @ np.where(valid, values, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(covered > 0, total / covered, np.nan)
    fraction = np.clip(covered / weights.area_cells[:, None], 0.0, 1.0)
    return ZonalMeans(mean, fraction)


def extraterrestrial_radiation(latitude_deg: np.ndarray, dates: list[dt.date]) -> np.ndarray:
    """(places x days) daily extraterrestrial radiation in MJ m-2 day-1 (FAO-56 eq. 21-25); polar day
    and night handled by clipping the sunset hour angle's argument."""
    latitude = np.radians(latitude_deg)[:, None]
    day = np.array([d.timetuple().tm_yday for d in dates], dtype=np.float64)[None, :]
    inverse_distance = 1 + 0.033 * np.cos(2 * np.pi * day / 365)
    declination = 0.409 * np.sin(2 * np.pi * day / 365 - 1.39)
    sunset = np.arccos(np.clip(-np.tan(latitude) * np.tan(declination), -1.0, 1.0))
    sun_height = sunset * np.sin(latitude) * np.sin(declination)
    sun_height += np.cos(latitude) * np.cos(declination) * np.sin(sunset)
    radiation = 24 * 60 / np.pi * SOLAR_CONSTANT_MJ_M2_MIN * inverse_distance * sun_height
    return np.maximum(radiation, 0.0)


def oudin_pet(temperature_c: np.ndarray, radiation_mj: np.ndarray) -> np.ndarray:
    """Oudin (2005) PET in mm/day from mean temperature and extraterrestrial radiation (same shapes);
    0 at or below -5 C, NaN where the temperature is NaN."""
    water_mm = radiation_mj / (LATENT_HEAT_MJ_KG * WATER_DENSITY_KG_M3) * 1000.0
    with np.errstate(invalid="ignore"):
        pet = np.where(temperature_c > OUDIN_THRESHOLD_C, water_mm * (temperature_c + 5.0) / 100.0, 0.0)
    return np.where(np.isnan(temperature_c), np.nan, pet)


def centroid_latitudes(geometries: Any, crs: str) -> np.ndarray:
    """WGS84 latitude of each geometry's centroid (Oudin's radiation term)."""
    import pyproj
    import shapely

    centroids = shapely.centroid(np.asarray(geometries))
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    _, latitude = transformer.transform(shapely.get_x(centroids), shapely.get_y(centroids))
    return np.asarray(latitude, dtype=np.float64)
