"""Station networks and their provider: a directory of zipped yearly CSV files per station.

Meteorological stations report daily precipitation, mean temperature, humidity, pressure and, in two
columns added at the end, maximum and minimum temperature (files in the legacy Windows-1250 encoding,
``;``-separated, decimal commas, a units line under the header, UTC days).
Hydrological gauges report daily water level and discharge at 06:00 local time (UTF-8). Files carry
duplicated and unsorted rows besides the artefacts of :mod:`observations`. Version 1 of the directory
covers the record but its last year; version 2 adds the last year's files and revises one earlier file.

The last meteo station stands on a hill ``HILL_M`` above the terrain around it (too narrow for the
DTM's smooth relief), so its temperature is correctly about 1 °C colder than its neighbours': a stable
difference that polishing must not take for drift.

The truth holds each gauge's catchment-mean daily weather (``truth/gauge_forcings.parquet``): exactly the
forcing its runoff model was driven by, so catchment features can be scored against it.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pyproj import Transformer

from platform_dev.sample_region.hydrology import Gauge, catchment_forcing, simulate_discharge, water_level_cm
from platform_dev.sample_region.observations import DECIMALS, gap_days, observe
from platform_dev.sample_region.spec import CRS, RegionSpec
from platform_dev.sample_region.terrain import elevation, region_model
from platform_dev.sample_region.weather import VARIABLES, WeatherGenerator

METEO_NAMES = (
    "Sulejów",
    "Opoczno",
    "Końskie",
    "Włoszczowa",
    "Piotrków Trybunalski",
    "Żarnów",
    "Łęczno",
    "Przysucha",
    "Drzewica",
    "Mniszków",
    "Białaczów",
    "Paradyż",
)
METEO_HEADER = (
    "Kod stacji",
    "Nazwa stacji",
    "Data",
    "Opad",
    "Temperatura powietrza",
    "Wilgotność względna",
    "Ciśnienie",
    "Temperatura maksymalna",
    "Temperatura minimalna",
)
METEO_UNITS = ("", "", "", "mm", "°C", "%", "hPa", "°C", "°C")
TEMPERATURE_FIELDS = tuple(
    METEO_HEADER.index(header)
    for header in ("Temperatura powietrza", "Temperatura maksymalna", "Temperatura minimalna")
)
LATER_VARIABLES = ("air_temperature_max_c", "air_temperature_min_c")
"""Variables added after the first release: each observed series draws from a stream of its own, so
adding them left the observations of every earlier series unchanged."""
HYDRO_HEADER = ("Kod", "Nazwa", "Rzeka", "Data pomiaru", "Stan wody", "Przepływ")
HYDRO_UNITS = ("", "", "", "Europe/Warsaw", "cm", "m3/s")
HYDRO_VARIABLES = ("water_level_cm", "discharge_m3s")
DUPLICATE_FRACTION = 0.003
HILL_M = 150.0


@dataclass(frozen=True)
class Station:
    code: str
    name: str
    x: float
    y: float
    elevation_m: float
    kind: str
    river: str = ""


def write_stations(spec: RegionSpec, out: Path, gauges: list[Gauge]) -> dict[str, Any]:
    """Simulate, observe and publish both networks; returns the truth entries and writes truth tables."""
    weather = WeatherGenerator(spec)
    meteo = _meteo_stations(spec)
    hydro = [
        Station(
            g.code,
            g.name,
            g.x,
            g.y,
            float(elevation(spec, np.array([g.x]), np.array([g.y]))[0]),
            "hydro",
            g.river_name,
        )
        for g in gauges
    ]
    clean_meteo = _clean_meteo(weather, meteo)
    forcings = _gauge_forcings(spec, weather, gauges)
    clean_hydro = _clean_hydro(weather, gauges, forcings)
    observed, artefacts = _observe_all(spec, {**clean_meteo, **clean_hydro})
    dates = weather.dates.astype("datetime64[D]").astype(dt.date)
    truth_dir = out / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    _long_frame(clean_meteo | clean_hydro, dates).write_parquet(truth_dir / "clean_series.parquet")
    pl.DataFrame(
        artefacts,
        schema={"station": pl.String, "date": pl.Date, "variable": pl.String, "kind": pl.String},
        orient="row",
    ).sort(["station", "variable", "date"]).write_parquet(truth_dir / "artefacts.parquet")
    _forcing_frame(forcings, dates).write_parquet(truth_dir / "gauge_forcings.parquet")
    revised = _publish(spec, out / "stations", meteo, hydro, observed, dates)
    return {
        "meteo_stations": [vars(s) for s in meteo],
        "hydro_stations": [vars(s) for s in hydro],
        "revised_in_v2": revised,
        "clean_series": "truth/clean_series.parquet",
        "artefacts": "truth/artefacts.parquet",
        "gauge_forcings": "truth/gauge_forcings.parquet",
    }


def _meteo_stations(spec: RegionSpec) -> list[Station]:
    rng = np.random.default_rng([spec.seed, 30])
    count = 4 if spec.size == "small" else 12
    model = region_model(spec)
    margin = 0.12 * spec.extent_m
    stations: list[Station] = []
    while len(stations) < count:
        x, y = (
            rng.uniform(spec.west + margin, spec.east - margin),
            rng.uniform(spec.south + margin, spec.north - margin),
        )
        if min(np.hypot(*(river.points - [x, y]).T).min() for river in model.rivers) < 150:
            continue
        number = len(stations)
        hill = HILL_M if number == count - 1 else 0.0
        stations.append(
            Station(
                f"2501903{90 + number:02d}",
                METEO_NAMES[number],
                x,
                y,
                float(elevation(spec, np.array([x]), np.array([y]))[0]) + hill,
                "meteo",
            )
        )
    return stations


def _clean_meteo(weather: WeatherGenerator, stations: list[Station]) -> dict[tuple[str, str], np.ndarray]:
    x = np.array([s.x for s in stations])
    y = np.array([s.y for s in stations])
    daily = weather.daily(x, y, np.array([s.elevation_m for s in stations]))
    return {
        (s.code, variable): daily[variable][:, i] for i, s in enumerate(stations) for variable in VARIABLES
    }


def _gauge_forcings(
    spec: RegionSpec, weather: WeatherGenerator, gauges: list[Gauge]
) -> dict[str, dict[str, np.ndarray]]:
    """Each gauge's catchment-mean daily weather, ``{code: {variable: (days,)}}``: its runoff model's
    forcing and the truth that catchment features are scored against."""
    return {
        gauge.code: catchment_forcing(weather, gauge, elevation(spec, gauge.forcing_x, gauge.forcing_y))
        for gauge in gauges
    }


def _clean_hydro(
    weather: WeatherGenerator, gauges: list[Gauge], forcings: dict[str, dict[str, np.ndarray]]
) -> dict[tuple[str, str], np.ndarray]:
    day_of_year = (weather.dates - weather.dates.astype("datetime64[Y]")).astype(int)
    series = {}
    for gauge in gauges:
        forcing = forcings[gauge.code]
        discharge = simulate_discharge(
            forcing["precipitation_mm"], forcing["air_temperature_c"], day_of_year, gauge.area_km2
        )
        series[(gauge.code, "discharge_m3s")] = discharge
        series[(gauge.code, "water_level_cm")] = water_level_cm(discharge)
    return series


def _observe_all(
    spec: RegionSpec, clean: dict[tuple[str, str], np.ndarray]
) -> tuple[dict[tuple[str, str], np.ndarray], list[tuple[str, dt.date, str, str]]]:
    rng = np.random.default_rng([spec.seed, 31])
    start = spec.start
    stations = sorted({station for station, _ in clean})
    drifting = min(station for station, variable in clean if variable == "air_temperature_c")
    gaps = {station: gap_days(spec.days, rng) for station in stations}
    observed, artefacts = {}, []
    for (station, variable), values in sorted(clean.items()):
        series = observe(
            values,
            variable,
            _series_rng(spec, station, variable, rng),
            drifting=station == drifting and variable == "air_temperature_c",
        )
        series.values[gaps[station]] = np.nan
        observed[(station, variable)] = series.values
        artefacts += [
            (station, start + dt.timedelta(days=a.day), variable, a.kind)
            for a in series.artefacts
            if not gaps[station][a.day]
        ]
        artefacts += [
            (station, start + dt.timedelta(days=int(d)), variable, "gap")
            for d in np.flatnonzero(gaps[station])
        ]
    return observed, artefacts


def _series_rng(
    spec: RegionSpec, station: str, variable: str, shared: np.random.Generator
) -> np.random.Generator:
    """The shared stream for the first release's variables, in their fixed order; a stream of its own
    for each series of a :data:`LATER_VARIABLES` variable."""
    if variable not in LATER_VARIABLES:
        return shared
    return np.random.default_rng([spec.seed, 33, int(station), LATER_VARIABLES.index(variable)])


def _forcing_frame(forcings: dict[str, dict[str, np.ndarray]], dates: np.ndarray) -> pl.DataFrame:
    """One row per gauge (``station``) and day, one Float64 column per weather variable."""
    day_series = pl.Series("date", list(dates), dtype=pl.Date)
    return pl.concat(
        pl.DataFrame(
            {
                "station": code,
                "date": day_series,
                **{variable: pl.Series(forcing[variable], dtype=pl.Float64) for variable in VARIABLES},
            }
        )
        for code, forcing in sorted(forcings.items())
    )


def _long_frame(series: dict[tuple[str, str], np.ndarray], dates: np.ndarray) -> pl.DataFrame:
    day_series = pl.Series("date", list(dates), dtype=pl.Date)
    frames = [
        pl.DataFrame({"station": station, "date": day_series, "variable": variable, "value": values})
        for (station, variable), values in sorted(series.items())
    ]
    return pl.concat(frames)


def _publish(
    spec: RegionSpec,
    root: Path,
    meteo: list[Station],
    hydro: list[Station],
    observed: dict[tuple[str, str], np.ndarray],
    dates: np.ndarray,
) -> list[str]:
    """Write station lists and yearly zipped CSVs for v1 and v2; returns the files revised in v2."""
    years = sorted({d.year for d in dates})
    revised_station, revised_year = meteo[1].code, years[len(years) // 2]
    revised = [f"meteo/v2/{revised_year}/{revised_station}_{revised_year}.zip"]
    for version in (1, 2):
        _station_list(root / "meteo" / f"v{version}" / "stations.csv", meteo)
        _station_list(root / "hydro" / f"v{version}" / "stations.csv", hydro)
        for year in years if version == 2 else years[:-1]:
            in_year = np.array([d.year == year for d in dates])
            for station in meteo:
                rows = _meteo_rows(
                    station, dates[in_year], {v: observed[(station.code, v)][in_year] for v in VARIABLES}
                )
                if version == 1 and (station.code, year) == (revised_station, revised_year):
                    rows = _corrupt_block(rows)
                _write_zip(
                    root / "meteo" / f"v{version}" / str(year) / f"{station.code}_{year}.zip",
                    _csv_text(
                        METEO_HEADER,
                        METEO_UNITS,
                        _shuffle(rows, _file_rng(spec, station, year), METEO_HEADER.index("Ciśnienie")),
                    ),
                    "cp1250",
                    year,
                )
            for station in hydro:
                rows = _hydro_rows(
                    station,
                    dates[in_year],
                    {v: observed[(station.code, v)][in_year] for v in HYDRO_VARIABLES},
                )
                _write_zip(
                    root / "hydro" / f"v{version}" / str(year) / f"{station.code}_{year}.zip",
                    _csv_text(
                        HYDRO_HEADER,
                        HYDRO_UNITS,
                        _shuffle(rows, _file_rng(spec, station, year), HYDRO_HEADER.index("Przepływ")),
                    ),
                    "utf-8-sig",
                    year,
                )
    return revised


def _file_rng(spec: RegionSpec, station: Station, year: int) -> np.random.Generator:
    """One random stream per file, so a file's quirks are the same in every version that carries it."""
    return np.random.default_rng([spec.seed, 32, int(station.code), year])


def _station_list(path: Path, stations: list[Station]) -> None:
    """The provider's station list: code, name, river, WGS84 position, elevation (cp1250 like its data)."""
    to_wgs84 = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    lines = ["Kod;Nazwa;Rzeka;Długość;Szerokość;Wysokość"]
    for station in stations:
        lon, lat = to_wgs84.transform(station.x, station.y)
        lines.append(
            f"{station.code};{station.name};{station.river};{lon:.6f};{lat:.6f};{station.elevation_m:.1f}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1250"))


def _meteo_rows(station: Station, dates: np.ndarray, values: dict[str, np.ndarray]) -> list[list[str]]:
    rows = []
    for i, day in enumerate(dates):
        if np.isnan(values["air_temperature_c"][i]):
            continue
        rows.append(
            [
                station.code,
                station.name.upper(),
                day.isoformat(),
                *(_number(values[v][i], DECIMALS[v]) for v in VARIABLES),
            ]
        )
    return rows


def _hydro_rows(station: Station, dates: np.ndarray, values: dict[str, np.ndarray]) -> list[list[str]]:
    rows = []
    for i, day in enumerate(dates):
        if np.isnan(values["discharge_m3s"][i]):
            continue
        rows.append(
            [
                station.code,
                station.name,
                station.river,
                f"{day.isoformat()} 06:00",
                _number(values["water_level_cm"][i], 0),
                _number(values["discharge_m3s"][i], 3),
            ]
        )
    return rows


def _number(value: float, decimals: int) -> str:
    """Polish number format: decimal comma; empty for a missing value."""
    return "" if np.isnan(value) else f"{value:.{decimals}f}".replace(".", ",")


def _corrupt_block(rows: list[list[str]]) -> list[list[str]]:
    """Version 1 of the revised file: ten days of temperatures in tenths of a degree (a unit error)."""
    fixed = [list(row) for row in rows]
    for row in fixed[100:110]:
        for field in TEMPERATURE_FIELDS:
            if row[field]:
                row[field] = _number(float(row[field].replace(",", ".")) * 10, 1)
    return fixed


def _shuffle(rows: list[list[str]], rng: np.random.Generator, reread: int) -> list[list[str]]:
    """Duplicate a few rows (some with a different reading in field ``reread``) and swap two blocks out
    of order."""
    result = list(rows)
    for index in sorted(
        rng.choice(len(rows), size=max(1, int(DUPLICATE_FRACTION * len(rows))), replace=False), reverse=True
    ):
        duplicate = list(rows[index])
        if rng.uniform() < 0.5 and duplicate[reread]:
            duplicate[reread] = _number(float(duplicate[reread].replace(",", ".")) * 1.01, 3)
        result.insert(int(index) + 1, duplicate)
    if len(result) > 60:
        a, b = sorted(rng.choice(len(result) - 10, size=2, replace=False))
        result[a : a + 10], result[b : b + 10] = result[b : b + 10], result[a : a + 10]
    return result


def _csv_text(header: tuple[str, ...], units: tuple[str, ...], rows: list[list[str]]) -> str:
    return "\r\n".join(";".join(fields) for fields in [list(header), list(units), *rows]) + "\r\n"


def _write_zip(path: Path, text: str, encoding: str, year: int) -> None:
    """One CSV per zip, with a fixed member timestamp so that builds are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        member = zipfile.ZipInfo(path.with_suffix(".csv").name, date_time=(year + 1, 1, 2, 0, 0, 0))
        member.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(member, text.encode(encoding))
    path.write_bytes(buffer.getvalue())
