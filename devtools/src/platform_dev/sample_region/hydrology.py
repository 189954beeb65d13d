"""Gauges on the true rivers, their true catchments, and discharge from a conceptual runoff model.

Catchments are delineated with pyflwdir on the true DTM (at 2 m for the small region; averaged to 10 m
for the bench region, which does not fit in memory at 2 m). Discharge comes from an HBV-like model
(snow, soil moisture, two linear reservoirs) driven by the weather generator averaged over each
catchment, so observed discharge is consistent with the rain that fell on the terrain.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from platform_dev.sample_region.rivers import River
from platform_dev.sample_region.spec import NODATA, RegionSpec
from platform_dev.sample_region.weather import WeatherGenerator

GAUGE_NAMES = (
    "Przedbórz",
    "Sulejów",
    "Wąsosz",
    "Białobrzegi",
    "Tomaszów Mazowiecki",
    "Nowe Miasto",
    "Warka",
    "Spała",
    "Inowłódz",
    "Maluszyn",
    "Faliszew",
    "Luciąża",
)
MAX_FORCING_POINTS = 400


@dataclass(frozen=True)
class Gauge:
    """A hydrological gauge at a point of a true river, with its true catchment."""

    code: str
    name: str
    river_id: str
    river_name: str
    x: float
    y: float
    area_km2: float
    forcing_x: np.ndarray
    forcing_y: np.ndarray


def gauge_sites(rivers: list[River]) -> list[tuple[River, np.ndarray]]:
    """Two gauges on the main river (mid-course and near the outlet), one near each tributary's mouth
    (at most six tributaries)."""
    main = rivers[0]
    sites = [
        (main, main.points[int(0.6 * (len(main.points) - 1))]),
        (main, main.points[int(0.95 * (len(main.points) - 1))]),
    ]
    sites += [(river, river.points[int(0.8 * (len(river.points) - 1))]) for river in rivers[1:7]]
    return sites


def delineate_gauges(spec: RegionSpec, rivers: list[River], true_dtm: Path) -> list[Gauge]:
    """Snap each gauge to the D8 stream of the true DTM and take its upstream area and cells."""
    import pyflwdir
    import rasterio
    from rasterio.enums import Resampling

    cell = spec.cell_size if spec.cells <= 4000 else 10.0
    size = round(spec.extent_m / cell)
    with rasterio.open(true_dtm) as dataset:
        dem = dataset.read(1, out_shape=(size, size), resampling=Resampling.average)
        transform = dataset.transform * dataset.transform.scale(dataset.width / size, dataset.height / size)
    flw = pyflwdir.from_dem(dem, nodata=NODATA, transform=transform, latlon=False, outlets="edge")
    upstream_km2 = flw.upstream_area(unit="km2")
    rng = np.random.default_rng([spec.seed, 20])
    gauges = []
    for number, (river, point) in enumerate(gauge_sites(rivers)):
        snapped, _ = flw.snap(xy=(np.array([point[0]]), np.array([point[1]])), mask=upstream_km2 > 0.2)
        index = int(np.ravel(snapped)[0])
        basin = flw.basins(idxs=np.array([index])).ravel() > 0
        cells = np.flatnonzero(basin)
        chosen = rng.choice(cells, size=min(MAX_FORCING_POINTS, len(cells)), replace=False)
        rows, cols = np.unravel_index(chosen, dem.shape)
        gauges.append(
            Gauge(
                code=f"1501900{10 + number:02d}",
                name=GAUGE_NAMES[number % len(GAUGE_NAMES)],
                river_id=river.river_id,
                river_name=river.name,
                x=float(point[0]),
                y=float(point[1]),
                area_km2=float(upstream_km2.ravel()[index]),
                forcing_x=spec.west + (cols + 0.5) * cell,
                forcing_y=spec.north - (rows + 0.5) * cell,
            )
        )
    return gauges


def catchment_forcing(
    weather: WeatherGenerator, gauge: Gauge, elevations: np.ndarray
) -> dict[str, np.ndarray]:
    """Catchment-average daily value of every weather variable (the runoff model takes precipitation and
    temperature; the truth keeps them all for scoring catchment features)."""
    daily = weather.daily(gauge.forcing_x, gauge.forcing_y, elevations)
    return {name: values.mean(axis=1) for name, values in daily.items()}


def simulate_discharge(
    precipitation_mm: np.ndarray, temperature_c: np.ndarray, day_of_year: np.ndarray, area_km2: float
) -> np.ndarray:
    """Daily discharge (m3/s) from an HBV-like model with fixed, plausible lowland parameters."""
    snow, soil, upper, lower = 0.0, 100.0, 0.0, 40.0  # a moist start: no dry spin-up year
    field_capacity, beta, degree_day = 150.0, 2.0, 3.0
    runoff = np.zeros(len(precipitation_mm))
    for day, (rain, temperature) in enumerate(zip(precipitation_mm, temperature_c, strict=True)):
        if temperature < 0.0:
            snow += rain
            liquid = 0.0
        else:
            melt = min(snow, degree_day * temperature)
            snow -= melt
            liquid = rain + melt
        recharge = liquid * (soil / field_capacity) ** beta
        soil = min(field_capacity, soil + liquid - recharge)
        potential_et = max(0.0, 0.12 * (temperature + 5.0)) * (
            1.0 + 0.5 * np.sin(2 * np.pi * (day_of_year[day] - 80) / 365.25)
        )
        soil = max(0.0, soil - potential_et * min(1.0, soil / (0.7 * field_capacity)))
        upper += recharge
        percolation = min(upper, 1.2)
        upper -= percolation
        lower += percolation
        quick, slow = 0.15 * upper, 0.025 * lower
        upper -= quick
        lower -= slow
        runoff[day] = quick + slow
    return runoff * area_km2 / 86.4


def water_level_cm(discharge_m3s: np.ndarray) -> np.ndarray:
    """A power-law rating curve inverted: stage above the gauge zero for a discharge."""
    reference = max(float(np.median(discharge_m3s)), 1e-3)
    return 60.0 + 110.0 * (np.clip(discharge_m3s, 0.0, None) / reference) ** 0.45
