"""The Delaware gauges as the training-data contract's zip (:mod:`platform_dev.drb_dataset`), read back by
the LSTM's own reader of the contract; and the sequence length two years of record allow."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from discharge_model.defs.lstm.training_data import unpack
from platform_dev.drb import FORCING_COLUMNS, compose, read_drb
from platform_dev.drb import pywatershed_drb_folder as drb_folder
from platform_dev.drb_dataset import (
    DRB_PERIODS,
    MAX_AREA_RATIO,
    MAX_WARMUP_SHARE,
    MIN_SEQ_LENGTH_DAYS,
    MIN_TARGET_COVERAGE,
    Periods,
    fitting_seq_length,
    select_gauges,
    source_versions,
    target_coverage,
    write_training_dataset,
)

RECORD = pd.date_range("1979-01-01", "1980-12-31", freq="D")


@pytest.fixture(scope="module")
def catchments():
    return compose(read_drb(drb_folder()))


def test_the_selection_keeps_matching_gauges_with_enough_target_and_says_why_it_left_others_out(catchments):
    selected, rejected = select_gauges(catchments, DRB_PERIODS)
    assert selected and rejected
    assert set(selected) | set(rejected) == set(catchments.gauges)
    for gauge in selected:
        row = catchments.index(gauge)
        assert 1 / MAX_AREA_RATIO <= catchments.area_ratio[row] <= MAX_AREA_RATIO
        assert min(target_coverage(catchments, row, DRB_PERIODS).values()) >= MIN_TARGET_COVERAGE
    reasons = " ".join(rejected.values())
    assert "composed area / reported area" in reasons and "target coverage" in reasons


def test_the_zip_follows_the_contract_and_holds_the_composed_series(catchments, tmp_path):
    selected, _ = select_gauges(catchments, DRB_PERIODS)
    gauges = selected[:6]
    versions = source_versions(drb_folder())
    archive = write_training_dataset(
        catchments, gauges, DRB_PERIODS, tmp_path / "d.zip", "delaware", versions
    )

    data = unpack(archive, tmp_path / "data")
    assert data.basins == tuple(sorted(gauges))
    assert data.periods == {name: getattr(DRB_PERIODS, name) for name in ("train", "validation", "test")}
    assert data.dynamic_inputs == FORCING_COLUMNS and data.target == "discharge_mm"
    assert data.input_versions == versions and len(versions) == 7
    attributes = data.attributes()
    assert {"area_km2", "p_mean", "pet_mean", "aridity", "frac_snow"} <= set(data.static_attributes)
    for gauge in gauges:
        row = catchments.index(gauge)
        assert attributes["area_km2"][gauge] == pytest.approx(catchments.area_km2[row])
        train = slice(0, DRB_PERIODS.days("train"))
        expected_p_mean = catchments.forcings["precipitation_mm"][row][train].mean()
        assert attributes["p_mean"][gauge] == pytest.approx(expected_p_mean)
        with xr.open_dataset(data.time_series(gauge)) as series:
            assert pd.DatetimeIndex(series["date"].values).equals(RECORD)
            for column in FORCING_COLUMNS:
                assert not np.isnan(series[column].values).any(), (gauge, column)
            np.testing.assert_allclose(
                series["discharge_mm"].values, catchments.discharge_mm[row], rtol=1e-6, equal_nan=True
            )


def test_the_sequence_length_is_the_settings_unless_the_record_is_shorter():
    longest = int(DRB_PERIODS.days("train") * MAX_WARMUP_SHARE)
    assert fitting_seq_length(DRB_PERIODS, RECORD, 365) == longest
    assert fitting_seq_length(DRB_PERIODS, RECORD, MIN_SEQ_LENGTH_DAYS) == MIN_SEQ_LENGTH_DAYS


def test_a_record_too_short_for_the_shortest_sequence_is_refused():
    short = Periods(
        train=(dt.date(1979, 1, 1), dt.date(1979, 6, 30)),
        validation=(dt.date(1979, 7, 1), dt.date(1979, 9, 30)),
        test=(dt.date(1979, 10, 1), dt.date(1979, 12, 31)),
    )
    with pytest.raises(ValueError, match=r"181 days .* at most 45 days"):
        fitting_seq_length(short, RECORD, 180)
    with pytest.raises(ValueError, match="outside the record"):
        fitting_seq_length(DRB_PERIODS, RECORD[30:], 180)


def test_overlapping_periods_are_refused():
    with pytest.raises(ValueError, match="'validation' starts"):
        Periods(
            train=(dt.date(1979, 1, 1), dt.date(1979, 12, 31)),
            validation=(dt.date(1979, 12, 1), dt.date(1980, 3, 31)),
            test=(dt.date(1980, 4, 1), dt.date(1980, 12, 31)),
        )
