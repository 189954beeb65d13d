"""Real gauged catchments: the Delaware River Basin that pywatershed 2.0.4 ships (``data/drb_2yr``), composed
into per-gauge catchment forcings, static attributes and specific discharge, as the platform's progressive
catchments are. Real data for the LSTM's acceptance benchmark (``benchmarks/drb_lstm.py``) and its tests.

What the folder holds (inputs of the USGS National Hydrologic Model, daily, 1979-01-01..1980-12-31):

- ``prcp.nc``, ``tmax.nc``, ``tmin.nc``: one value per HRU (765 hydrologic response units, ``nhm_id``) and
  day. Their units are read from each variable's ``units`` attribute and converted explicitly
  (:data:`CONVERSIONS`): the files say inches and degrees Fahrenheit.
- ``parameters_dis_both.nc``: per HRU ``hru_area`` (acres), ``hru_lat``, ``hru_elev`` (in feet or metres
  as myparam.param's ``elev_units`` flag says: 0 feet, 1 metres; the netCDF only says "elev_units") and
  ``hru_slope`` (a fraction); per segment ``tosegment`` (1-based index of the downstream segment, 0 where the
  water leaves the network); per gauge ``poi_gage_id`` and ``poi_gage_segment`` (1-based segment index).
- ``parameters_PRMSChannel.nc``: ``hru_segment``, the segment an HRU drains into (1-based; 0: none, so
  the HRU is in no gauge's catchment).
- ``drb_2yr_gage_poi_obs.nc``: observed ``discharge`` (ft3 s-1) and the gauges' own ``drainage_area``
  (mi2, USGS's; kept to check the composed area against).

Composition is progressive, as the platform's catchments are (cumulative unions downstream): each
segment's local sums over the HRUs draining into it (area, and area x value per day) are accumulated down
the network in topological order, and a gauge's catchment is the accumulation at its segment. Means are
sums over area. So a gauge's area is exactly the sum of its upstream HRUs' areas and never shrinks
downstream, and forcings are area-weighted means of those HRUs. The daily mean temperature is the mean of
the composed maximum and minimum (the NHM's convention), PET is Oudin's from it at the catchment's
area-weighted latitude (the landing zone's formula), and discharge becomes specific discharge,
``Q [m3/s] * 86.4 / area [km2]`` in mm/day over the composed area (the training-data contract's).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import xarray as xr

from landing_zone.defs.features.climatic_indices import climatic_indices
from landing_zone.defs.features.zonal import extraterrestrial_radiation, oudin_pet

FORCING_FILES = {"prcp": "prcp.nc", "tmax": "tmax.nc", "tmin": "tmin.nc"}
PARAMETERS = "parameters_dis_both.nc"
CHANNEL = "parameters_PRMSChannel.nc"
OBSERVATIONS = "drb_2yr_gage_poi_obs.nc"
PARAMETER_FILE = "myparam.param"

PRECIPITATION = "precipitation_mm"
TEMPERATURE = "air_temperature_c"
TEMPERATURE_MAX = "air_temperature_max_c"
TEMPERATURE_MIN = "air_temperature_min_c"
PET = "pet_mm"
DISCHARGE = "discharge_mm"
FORCING_COLUMNS = (PRECIPITATION, TEMPERATURE, TEMPERATURE_MAX, TEMPERATURE_MIN, PET)
"""The dynamic inputs, named as the landing zone's catchment forcings name them (the LSTM's settings)."""

UNITS = {
    PRECIPITATION: "mm/day",
    TEMPERATURE: "degC",
    TEMPERATURE_MAX: "degC",
    TEMPERATURE_MIN: "degC",
    PET: "mm/day",
    DISCHARGE: "mm/day",
    "area_km2": "km2",
    "elev_mean": "m",
    "slope_mean": "m/km",
}

SECONDS_PER_DAY_KM2_TO_MM = 86.4
"""m3/s over km2 to mm/day: 86400 s x 1000 mm/m / 1e6 m2/km2."""


def _fahrenheit_to_celsius(values: np.ndarray) -> np.ndarray:
    return (values - 32.0) * 5.0 / 9.0


def _scale(factor: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda values: values * factor


CONVERSIONS: Mapping[str, Mapping[str, Callable[[np.ndarray], np.ndarray]]] = {
    "mm": {"in": _scale(25.4), "inches": _scale(25.4), "mm": _scale(1.0)},
    "degC": {
        "degree_fahrenheit": _fahrenheit_to_celsius,
        "degF": _fahrenheit_to_celsius,
        "degree_celsius": _scale(1.0),
        "degC": _scale(1.0),
    },
    "km2": {"acres": _scale(0.0040468564224), "mi2": _scale(2.589988110336), "km2": _scale(1.0)},
    "m3/s": {"ft3 s-1": _scale(0.028316846592), "cfs": _scale(0.028316846592), "m3 s-1": _scale(1.0)},
}
"""Per target unit, the source units this module accepts and how each converts (exact definitions: an
inch is 25.4 mm, an acre 4046.8564224 m2, a square mile 2.589988110336 km2, a cubic foot 0.028316846592
m3). Any other unit is refused: a silently wrong factor would pass every shape check."""

ELEVATION_UNITS = {0: 0.3048, 1: 1.0}
"""myparam.param's ``elev_units`` flag: 0 feet, 1 metres; the factor to metres."""


class DrbDataError(ValueError):
    """The DRB files are not what this module reads; the message names the file and the variable."""


def pywatershed_drb_folder() -> Path:
    """pywatershed's ``data/drb_2yr``, found without importing pywatershed (its import is slow and heavy)."""
    spec = importlib.util.find_spec("pywatershed")
    if spec is None or not spec.submodule_search_locations:
        raise DrbDataError("pywatershed (a locked dev dependency) is not installed: run `make env`")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "drb_2yr"


def convert(values: np.ndarray, unit: str, target: str, where: str) -> np.ndarray:
    """``values`` in ``unit`` converted to ``target``; a :class:`DrbDataError` naming ``where`` otherwise."""
    accepted = CONVERSIONS[target]
    if unit not in accepted:
        raise DrbDataError(
            f"{where}: unit {unit!r} is not one this reader converts to {target} ({list(accepted)})"
        )
    return accepted[unit](np.asarray(values, dtype=np.float64))


@dataclass(frozen=True)
class Network:
    """The segment network and where each HRU drains (0-based indices; -1: none)."""

    downstream: np.ndarray
    """Per segment, the index of the segment its water flows into; -1 where it leaves the network."""
    hru_segment: np.ndarray
    """Per HRU, the segment it drains into; -1 for an HRU draining into none."""

    def order(self) -> np.ndarray:
        """Segments in topological order (every segment before the one it flows into); a cycle is refused."""
        count = len(self.downstream)
        inflows = np.bincount(self.downstream[self.downstream >= 0], minlength=count)
        ready = [int(segment) for segment in np.flatnonzero(inflows == 0)]
        order: list[int] = []
        while ready:
            segment = ready.pop()
            order.append(segment)
            below = int(self.downstream[segment])
            if below >= 0:
                inflows[below] -= 1
                if inflows[below] == 0:
                    ready.append(below)
        if len(order) < count:
            stuck = sorted(set(range(count)) - set(order))[:10]
            raise DrbDataError(f"tosegment forms a cycle: segments {stuck} never reach an outlet")
        return np.asarray(order)

    def accumulate(self, hru_values: np.ndarray) -> np.ndarray:
        """Per segment, the sum of ``hru_values`` (HRUs x ...) over every HRU upstream of and at it: the
        local sums (HRUs draining into the segment) carried down the network."""
        drains = self.hru_segment >= 0
        totals = np.zeros((len(self.downstream), *hru_values.shape[1:]), dtype=np.float64)
        np.add.at(totals, self.hru_segment[drains], hru_values[drains])
        for segment in self.order():
            below = self.downstream[segment]
            if below >= 0:
                totals[below] += totals[segment]
        return totals


@dataclass(frozen=True)
class Hrus:
    """Per HRU: static properties (SI units) and daily forcings (days x HRUs)."""

    ids: np.ndarray
    area_km2: np.ndarray
    latitude: np.ndarray
    elevation_m: np.ndarray
    slope_m_km: np.ndarray
    dates: pd.DatetimeIndex
    precipitation_mm: np.ndarray
    tmax_c: np.ndarray
    tmin_c: np.ndarray


@dataclass(frozen=True)
class Gauges:
    """The gauges (points of interest) with their segment, observed discharge and reported area."""

    ids: tuple[str, ...]
    segment: np.ndarray
    discharge_m3s: np.ndarray
    """(gauges x days), NaN where not observed."""
    reported_area_km2: np.ndarray


@dataclass(frozen=True)
class Drb:
    """Everything read from the folder, in SI units, HRUs and gauges in the parameter files' order."""

    network: Network
    hrus: Hrus
    gauges: Gauges


def read_drb(folder: Path) -> Drb:
    """Read and check the DRB folder: units converted, ids and dates consistent across its files."""
    with xr.open_dataset(folder / PARAMETERS) as parameters, xr.open_dataset(folder / CHANNEL) as channel:
        network = _network(parameters, channel, folder)
        hru_ids = parameters["nhm_id"].to_numpy()
        if not np.array_equal(channel["nhm_id"].to_numpy(), hru_ids):
            raise DrbDataError(f"{folder / CHANNEL}: nhm_id differs from {PARAMETERS}'s")
        elevation_factor = ELEVATION_UNITS.get(prms_scalar(folder / PARAMETER_FILE, "elev_units"))
        if elevation_factor is None:
            raise DrbDataError(f"{folder / PARAMETER_FILE}: elev_units is not 0 (feet) or 1 (metres)")
        hru_static = {
            "area_km2": convert(
                parameters["hru_area"].to_numpy(),
                _unit(parameters, "hru_area", folder / PARAMETERS),
                "km2",
                f"{folder / PARAMETERS} hru_area",
            ),
            "latitude": parameters["hru_lat"].to_numpy().astype(np.float64),
            "elevation_m": parameters["hru_elev"].to_numpy() * elevation_factor,
            "slope_m_km": parameters["hru_slope"].to_numpy() * 1000.0,
        }
        gauge_ids = tuple(str(gauge) for gauge in parameters["poi_gage_id"].to_numpy())
        gauge_segment = parameters["poi_gage_segment"].to_numpy().astype(np.int64) - 1
    dates, forcings = _forcings(folder, hru_ids)
    if (gauge_segment < 0).any() or (gauge_segment >= len(network.downstream)).any():
        raise DrbDataError(f"{folder / PARAMETERS}: poi_gage_segment outside 1..{len(network.downstream)}")
    discharge, reported = _observations(folder, gauge_ids, dates)
    hrus = Hrus(ids=hru_ids, dates=dates, **hru_static, **forcings)
    return Drb(network, hrus, Gauges(gauge_ids, gauge_segment, discharge, reported))


def prms_scalar(path: Path, name: str) -> int:
    """An integer parameter of a PRMS parameter file: ``####``, name, dimension count, dimension name,
    value count, type, value."""
    lines = path.read_text().splitlines()
    for index, line in enumerate(lines[:-6]):
        if line.strip() == "####" and re.fullmatch(rf"{name}(\s.*)?", lines[index + 1].strip()):
            return int(lines[index + 6].strip())
    raise DrbDataError(f"{path}: no parameter {name!r}")


def _unit(dataset: xr.Dataset, variable: str, path: Path) -> str:
    unit = dataset[variable].attrs.get("units")
    if not unit:
        raise DrbDataError(f"{path}: variable {variable!r} has no units attribute")
    return str(unit)


def _network(parameters: xr.Dataset, channel: xr.Dataset, folder: Path) -> Network:
    downstream = parameters["tosegment"].to_numpy().astype(np.int64) - 1
    hru_segment = channel["hru_segment"].to_numpy().astype(np.int64) - 1
    segments = len(downstream)
    if (downstream < -1).any() or (downstream >= segments).any():
        raise DrbDataError(f"{folder / PARAMETERS}: tosegment outside 0..{segments}")
    if (hru_segment < -1).any() or (hru_segment >= segments).any():
        raise DrbDataError(f"{folder / CHANNEL}: hru_segment outside 0..{segments}")
    return Network(np.where(downstream < 0, -1, downstream), hru_segment)


def _forcings(folder: Path, hru_ids: np.ndarray) -> tuple[pd.DatetimeIndex, dict[str, np.ndarray]]:
    """(days x HRUs) precipitation in mm and temperatures in C, aligned on the parameter files' HRUs."""
    targets = {"prcp": ("precipitation_mm", "mm"), "tmax": ("tmax_c", "degC"), "tmin": ("tmin_c", "degC")}
    dates: pd.DatetimeIndex | None = None
    values = {}
    for variable, file_name in FORCING_FILES.items():
        path = folder / file_name
        with xr.open_dataset(path) as dataset:
            if not np.array_equal(dataset["nhm_id"].to_numpy(), hru_ids):
                raise DrbDataError(f"{path}: its nhm_id are not the parameter files' HRUs in their order")
            here = pd.DatetimeIndex(dataset["time"].to_numpy())
            if dates is not None and not here.equals(dates):
                raise DrbDataError(f"{path}: its days differ from {FORCING_FILES['prcp']}'s")
            dates = here
            name, unit = targets[variable]
            raw = dataset[variable].transpose("time", "nhm_id").to_numpy()
            values[name] = convert(raw, _unit(dataset, variable, path), unit, f"{path} {variable}")
            if np.isnan(values[name]).any():
                raise DrbDataError(f"{path}: {variable} has missing values")
    assert dates is not None
    if len(dates) < 2 or (np.diff(dates.to_numpy()) != np.timedelta64(1, "D")).any():
        raise DrbDataError(f"{folder / FORCING_FILES['prcp']}: the days are not a contiguous daily series")
    return dates, values


def _observations(
    folder: Path, gauge_ids: Sequence[str], dates: pd.DatetimeIndex
) -> tuple[np.ndarray, np.ndarray]:
    """Observed discharge (m3/s, gauges x days) and reported drainage area (km2), in the gauges' order."""
    path = folder / OBSERVATIONS
    with xr.open_dataset(path) as observed:
        ids = [str(gauge) for gauge in observed["poi_id"].to_numpy()]
        missing = sorted(set(gauge_ids) - set(ids))
        if missing:
            raise DrbDataError(f"{path}: no record for gauge(s) {missing[:10]} of {PARAMETERS}")
        if not pd.DatetimeIndex(observed["time"].to_numpy()).equals(dates):
            raise DrbDataError(f"{path}: its days differ from the forcings'")
        rows = observed.sel(poi_id=np.asarray(gauge_ids, dtype=object))
        discharge = rows["discharge"].transpose("poi_id", "time").to_numpy()
        discharge = convert(discharge, _unit(observed, "discharge", path), "m3/s", f"{path} discharge")
        area = rows["drainage_area"].to_numpy()
        reported = convert(area, _unit(observed, "drainage_area", path), "km2", f"{path} drainage_area")
    return discharge, reported


@dataclass(frozen=True)
class GaugeCatchments:
    """Each gauge's progressive catchment: static properties, daily forcings and specific discharge."""

    gauges: tuple[str, ...]
    segment: np.ndarray
    """The segment (0-based) each gauge sits on: its catchment's outlet."""
    dates: pd.DatetimeIndex
    area_km2: np.ndarray
    reported_area_km2: np.ndarray
    hru_count: np.ndarray
    latitude: np.ndarray
    elevation_m: np.ndarray
    slope_m_km: np.ndarray
    forcings: Mapping[str, np.ndarray]
    """Column -> (gauges x days), the columns of :data:`FORCING_COLUMNS`."""
    discharge_mm: np.ndarray
    """(gauges x days) specific discharge over the composed area, NaN where not observed."""

    @property
    def area_ratio(self) -> np.ndarray:
        """Composed area over the gauge's reported drainage area (the platform's gauge-match evidence)."""
        return self.area_km2 / self.reported_area_km2

    def index(self, gauge: str) -> int:
        """The row of ``gauge``; a clear error for one not composed."""
        if gauge not in self.gauges:
            raise KeyError(f"gauge {gauge!r} is not among the composed gauges")
        return self.gauges.index(gauge)

    def frame(self, gauge: str) -> pd.DataFrame:
        """The gauge's daily forcings and target, indexed by ``date``."""
        row = self.index(gauge)
        columns = {name: values[row] for name, values in self.forcings.items()}
        columns[DISCHARGE] = self.discharge_mm[row]
        return pd.DataFrame(columns, index=pd.DatetimeIndex(self.dates, name="date"))

    def static_attributes(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One row per gauge (``gauge_id`` first): area, mean elevation and slope, and the CAMELS climatic
        indices of the landing zone over ``start``..``end`` (the training period: a test-period mean would
        leak what the model is scored on)."""
        indices = climatic_indices(self.forcing_table(), start, end).rename({"catchment_id": "gauge_id"})
        static = pl.DataFrame(
            {
                "gauge_id": list(self.gauges),
                "area_km2": self.area_km2,
                "elev_mean": self.elevation_m,
                "slope_mean": self.slope_m_km,
            }
        )
        return static.join(indices, on="gauge_id", how="left", validate="1:1").sort("gauge_id")

    def forcing_table(self) -> pl.DataFrame:
        """The forcings as the landing zone's catchment-forcings rows (long: catchment, date, columns)."""
        days = len(self.dates)
        return pl.DataFrame(
            {
                "catchment_id": np.repeat(np.asarray(self.gauges, dtype=object), days),
                "catchment_kind": "progressive",
                "date": np.tile(self.dates.to_numpy().astype("datetime64[D]"), len(self.gauges)),
                **{name: values.ravel() for name, values in self.forcings.items()},
            }
        )


def compose(drb: Drb, gauges: Sequence[str] | None = None) -> GaugeCatchments:
    """Each gauge's progressive catchment (all gauges, or ``gauges`` in that order); a gauge with no HRU
    upstream is refused, as its forcings would be undefined."""
    wanted = list(drb.gauges.ids if gauges is None else gauges)
    unknown = sorted(set(wanted) - set(drb.gauges.ids))
    if unknown:
        raise DrbDataError(f"gauge(s) {unknown} are not in {PARAMETERS}")
    rows = np.asarray([drb.gauges.ids.index(gauge) for gauge in wanted], dtype=np.int64)
    segments = drb.gauges.segment[rows]
    hrus, network = drb.hrus, drb.network
    area = network.accumulate(hrus.area_km2)[segments]
    empty = [gauge for gauge, value in zip(wanted, area, strict=True) if not value > 0]
    if empty:
        raise DrbDataError(f"gauge(s) {empty}: no HRU drains to or above their segment")

    def mean(values: np.ndarray) -> np.ndarray:
        """Area-weighted mean over each gauge's upstream HRUs; ``values`` is HRUs x ..."""
        weighted = values * hrus.area_km2.reshape(-1, *([1] * (values.ndim - 1)))
        totals = network.accumulate(weighted)[segments]
        return totals / area.reshape(-1, *([1] * (values.ndim - 1)))

    tmax, tmin = mean(hrus.tmax_c.T), mean(hrus.tmin_c.T)
    temperature = (tmax + tmin) / 2.0
    latitude = mean(hrus.latitude)
    days = [day.date() for day in hrus.dates]
    forcings = {
        PRECIPITATION: mean(hrus.precipitation_mm.T),
        TEMPERATURE: temperature,
        TEMPERATURE_MAX: tmax,
        TEMPERATURE_MIN: tmin,
        PET: oudin_pet(temperature, extraterrestrial_radiation(latitude, days)),
    }
    discharge = drb.gauges.discharge_m3s[rows] * SECONDS_PER_DAY_KM2_TO_MM / area[:, None]
    return GaugeCatchments(
        gauges=tuple(wanted),
        segment=segments,
        dates=hrus.dates,
        area_km2=area,
        reported_area_km2=drb.gauges.reported_area_km2[rows],
        hru_count=network.accumulate(np.ones(len(hrus.ids)))[segments].astype(np.int64),
        latitude=latitude,
        elevation_m=mean(hrus.elevation_m),
        slope_m_km=mean(hrus.slope_m_km),
        forcings=forcings,
        discharge_mm=discharge,
    )


def headwater_gauges(drb: Drb) -> list[str]:
    """Gauges with no other gauge upstream: the smallest catchments, each composed independently."""
    gauged = set(drb.gauges.segment.tolist())
    downstream = drb.network.downstream
    below_a_gauge: set[int] = set()
    for segment in gauged:
        below = int(downstream[segment])
        while below >= 0 and below not in below_a_gauge:
            below_a_gauge.add(below)
            below = int(downstream[below])
    return [
        gauge
        for gauge, segment in zip(drb.gauges.ids, drb.gauges.segment.tolist(), strict=True)
        if segment not in below_a_gauge
    ]
