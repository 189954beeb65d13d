"""Per-gauge catchments of the Delaware River Basin (:mod:`platform_dev.drb`) on the real data pywatershed
2.0.4 ships, at two sizes: every gauge (up to the basin's 17 560 km2 at Trenton) and the headwater gauges
(no gauge upstream, composed on their own).

The reference here is computed independently from the raw files: each gauge's upstream HRUs found by
walking the network *upstream* from its segment (the module accumulates *downstream*), units converted by
this file's own constants, means taken with ``np.average``. Independent data check it too: the network's
own cumulative segment areas and USGS's drainage areas of the gauges.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from platform_dev.drb import (
    PRECIPITATION,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    DrbDataError,
    GaugeCatchments,
    Network,
    compose,
    headwater_gauges,
    read_drb,
)
from platform_dev.drb import pywatershed_drb_folder as drb_folder

KM2_PER_ACRE = 4046.8564224e-6
KM2_PER_MI2 = 2.589988110336
MM_PER_INCH = 25.4
M3_PER_FT3 = 0.3048**3


@dataclass(frozen=True)
class Raw:
    """The files' own values, read here without the module."""

    tosegment: np.ndarray  # 1-based, 0: outlet
    hru_segment: np.ndarray  # 1-based, 0: none
    hru_area_acres: np.ndarray
    seg_cum_area_acres: np.ndarray
    gauge_ids: list[str]
    gauge_segment: np.ndarray  # 1-based
    prcp_in: np.ndarray  # days x HRUs
    tmax_f: np.ndarray
    tmin_f: np.ndarray
    discharge_cfs: dict[str, np.ndarray]
    drainage_area_mi2: dict[str, float]

    def upstream_hrus(self, gauge: str) -> np.ndarray:
        """Indices of the HRUs draining to the gauge's segment or any segment above it."""
        outlet = int(self.gauge_segment[self.gauge_ids.index(gauge)])
        found, frontier = {outlet}, [outlet]
        while frontier:
            segment = frontier.pop()
            for above in np.flatnonzero(self.tosegment == segment) + 1:
                if int(above) not in found:
                    found.add(int(above))
                    frontier.append(int(above))
        return np.flatnonzero(np.isin(self.hru_segment, list(found)))


@pytest.fixture(scope="module")
def raw() -> Raw:
    folder = drb_folder()
    with (
        xr.open_dataset(folder / "parameters_dis_both.nc") as parameters,
        xr.open_dataset(folder / "parameters_PRMSChannel.nc") as channel,
        xr.open_dataset(folder / "drb_2yr_gage_poi_obs.nc") as observed,
    ):
        assert parameters["hru_area"].attrs["units"] == "acres"
        assert observed["discharge"].attrs["units"] == "ft3 s-1"
        gauge_ids = [str(gauge) for gauge in parameters["poi_gage_id"].values]
        ids = [str(gauge) for gauge in observed["poi_id"].values]
        discharge = observed["discharge"].values
        drainage = observed["drainage_area"].values
        raw = {
            "tosegment": parameters["tosegment"].values,
            "hru_segment": channel["hru_segment"].values,
            "hru_area_acres": parameters["hru_area"].values,
            "seg_cum_area_acres": parameters["seg_cum_area"].values,
            "gauge_ids": gauge_ids,
            "gauge_segment": parameters["poi_gage_segment"].values,
            "discharge_cfs": {gauge: discharge[ids.index(gauge)].astype(np.float64) for gauge in gauge_ids},
            "drainage_area_mi2": {gauge: float(drainage[ids.index(gauge)]) for gauge in gauge_ids},
        }
    for name, variable in (("prcp_in", "prcp"), ("tmax_f", "tmax"), ("tmin_f", "tmin")):
        with xr.open_dataset(folder / f"{variable}.nc") as dataset:
            raw[name] = dataset[variable].transpose("time", "nhm_id").values.astype(np.float64)
    return Raw(**raw)


@pytest.fixture(scope="module")
def drb():
    return read_drb(drb_folder())


@pytest.fixture(scope="module", params=["all gauges", "headwater gauges"])
def catchments(request, drb) -> GaugeCatchments:
    if request.param == "all gauges":
        return compose(drb)
    return compose(drb, headwater_gauges(drb))


def test_a_gauges_area_is_the_sum_of_its_upstream_hrus_and_the_networks_cumulative_area(catchments, raw):
    for row, gauge in enumerate(catchments.gauges):
        upstream = raw.upstream_hrus(gauge)
        assert catchments.hru_count[row] == len(upstream) > 0, gauge
        expected = raw.hru_area_acres[upstream].sum() * KM2_PER_ACRE
        assert catchments.area_km2[row] == pytest.approx(expected, rel=1e-9), gauge
        segment = int(raw.gauge_segment[raw.gauge_ids.index(gauge)])
        network_area = raw.seg_cum_area_acres[segment - 1] * KM2_PER_ACRE
        assert catchments.area_km2[row] == pytest.approx(network_area, rel=1e-6), gauge


def test_areas_never_shrink_downstream(drb):
    catchments = compose(drb)
    segment_of = dict(zip(catchments.gauges, catchments.segment.tolist(), strict=True))
    area_of = dict(zip(catchments.gauges, catchments.area_km2, strict=True))
    gauge_at = {segment: gauge for gauge, segment in segment_of.items()}
    pairs = 0
    for gauge, segment in segment_of.items():
        below = int(drb.network.downstream[segment])
        while below >= 0:
            if below in gauge_at:
                assert area_of[gauge_at[below]] >= area_of[gauge], (gauge, gauge_at[below])
                pairs += 1
            below = int(drb.network.downstream[below])
    assert pairs > len(segment_of), "too few nested gauges for the check to mean anything"


def test_forcings_are_the_area_weighted_means_of_the_upstream_hrus(catchments, raw):
    for row, gauge in enumerate(catchments.gauges):
        upstream = raw.upstream_hrus(gauge)
        weights = raw.hru_area_acres[upstream]
        precipitation = np.average(raw.prcp_in[:, upstream], axis=1, weights=weights) * MM_PER_INCH
        np.testing.assert_allclose(
            catchments.forcings[PRECIPITATION][row], precipitation, rtol=1e-9, atol=1e-9
        )
        for column, values in ((TEMPERATURE_MAX, raw.tmax_f), (TEMPERATURE_MIN, raw.tmin_f)):
            celsius = (np.average(values[:, upstream], axis=1, weights=weights) - 32) / 1.8
            np.testing.assert_allclose(catchments.forcings[column][row], celsius, rtol=1e-9, atol=1e-9)


def test_specific_discharge_is_the_gauges_discharge_over_its_composed_area(catchments, raw):
    for row, gauge in enumerate(catchments.gauges):
        expected = raw.discharge_cfs[gauge] * M3_PER_FT3 * 86400 * 1000 / (catchments.area_km2[row] * 1e6)
        np.testing.assert_allclose(catchments.discharge_mm[row], expected, rtol=1e-9, equal_nan=True)


def test_the_headwater_gauges_have_no_gauge_upstream_and_compose_alone_as_within_the_basin(drb, raw):
    headwaters = headwater_gauges(drb)
    every = compose(drb)
    alone = compose(drb, headwaters)
    assert 0 < len(headwaters) < len(every.gauges)
    gauged_segments = set(raw.gauge_segment.tolist())
    for row, gauge in enumerate(alone.gauges):
        upstream_segments = set(raw.hru_segment[raw.upstream_hrus(gauge)].tolist())
        own = int(raw.gauge_segment[raw.gauge_ids.index(gauge)])
        assert not (upstream_segments - {own}) & gauged_segments, gauge
        full = every.index(gauge)
        assert alone.area_km2[row] == every.area_km2[full]
        np.testing.assert_array_equal(alone.forcings[PRECIPITATION][row], every.forcings[PRECIPITATION][full])


def test_composed_areas_agree_with_the_gauges_reported_drainage_areas(catchments, raw):
    """USGS measured the gauges' areas on finer maps than the HRUs: most agree within a few per cent."""
    reported = np.array([raw.drainage_area_mi2[gauge] * KM2_PER_MI2 for gauge in catchments.gauges])
    ratio = catchments.area_km2 / reported
    assert np.median(np.abs(ratio - 1)) < 0.05, np.quantile(ratio, [0.1, 0.5, 0.9])
    assert np.mean((ratio > 1 / 1.2) & (ratio < 1.2)) > 0.8
    np.testing.assert_allclose(catchments.area_ratio, ratio, rtol=1e-6)


def test_runoff_is_a_humid_basins_share_of_precipitation(catchments):
    """Over two years a humid basin returns roughly half its precipitation as runoff (USGS: about 0.5 for
    the Delaware); a unit slip (inches, cubic feet, acres) would put the ratio far outside 0.25..0.8."""
    observed = ~np.isnan(catchments.discharge_mm).any(axis=1)
    assert observed.sum() >= 10
    runoff = catchments.discharge_mm[observed].mean(axis=1)
    precipitation = catchments.forcings[PRECIPITATION][observed].mean(axis=1)
    assert 0.25 < np.median(runoff / precipitation) < 0.8, np.quantile(
        runoff / precipitation, [0.1, 0.5, 0.9]
    )


def test_a_unit_the_reader_does_not_know_is_refused_naming_the_file(tmp_path: Path):
    folder = tmp_path / "drb_2yr"
    folder.mkdir()
    for path in drb_folder().iterdir():
        (folder / path.name).symlink_to(path)
    (folder / "prcp.nc").unlink()
    with xr.open_dataset(drb_folder() / "prcp.nc") as dataset:
        renamed = dataset.load()
    renamed["prcp"].attrs["units"] = "cm"
    renamed.to_netcdf(folder / "prcp.nc")
    with pytest.raises(DrbDataError, match=r"prcp\.nc prcp: unit 'cm'"):
        read_drb(folder)


def test_a_cycle_in_the_network_is_refused():
    network = Network(downstream=np.array([1, 2, 1, -1]), hru_segment=np.array([0, 3]))
    with pytest.raises(DrbDataError, match=r"cycle: segments \[1, 2\]"):
        network.order()
