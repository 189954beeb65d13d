"""The forecast's plain computations on hand-made tables: local inflow at a confluence and along a chain,
the network mismatches it refuses, and the updating of the model with the last observation."""

import datetime as dt
import logging

import polars as pl
import pytest

from discharge_model.defs.forecast.correction import corrected, last_observations
from discharge_model.defs.forecast.network import NetworkMismatchError, local_inflow

DAY = dt.date(2023, 3, 10)
REACHES = pl.DataFrame(
    {
        "reach_id": ["a", "b", "c", "d"],
        "downstream_id": ["c", "c", "d", None],
    }
)
"""``a`` and ``b`` meet in ``c``, which flows into the outlet ``d``."""


def discharge(values: dict[str, float]) -> pl.DataFrame:
    return pl.DataFrame(
        {"catchment_id": list(values), "date": [DAY] * len(values), "discharge_m3s": list(values.values())}
    )


def test_local_inflow_subtracts_every_direct_upstream_reach_and_sums_back_to_the_outlet() -> None:
    table = local_inflow(discharge({"a": 1.0, "b": 2.5, "c": 4.0, "d": 4.75}), REACHES)
    local = dict(zip(table["catchment_id"], table["local_inflow_m3s"], strict=True))
    assert local == pytest.approx({"a": 1.0, "b": 2.5, "c": 0.5, "d": 0.75})
    assert sum(local.values()) == pytest.approx(4.75)


def test_a_reach_without_forecast_upstream_of_a_forecast_one_is_refused() -> None:
    with pytest.raises(NetworkMismatchError, match=r"\['b'\] flow into forecast reaches"):
        local_inflow(discharge({"a": 1.0, "c": 4.0, "d": 4.75}), REACHES)
    with pytest.raises(NetworkMismatchError, match=r"\['x'\] are not reaches"):
        local_inflow(discharge({"x": 1.0}), REACHES)


def polished(rows: list[tuple[str, dt.date, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "station": [r[0] for r in rows],
            "time": [dt.datetime.combine(r[1], dt.time()) for r in rows],
            "variable": ["discharge_m3s"] * len(rows),
            "value": [r[2] for r in rows],
            "flag": [r[3] for r in rows],
        }
    )


def test_the_last_valid_observation_within_the_age_limit_is_taken() -> None:
    series = polished(
        [
            ("g1", DAY - dt.timedelta(days=2), 3.0, "ok"),
            ("g1", DAY - dt.timedelta(days=1), 9.0, "rejected"),
            ("g1", DAY, 5.0, "ok"),  # the run's own day: not observed yet when it is issued
            ("g2", DAY - dt.timedelta(days=4), 1.0, "ok"),  # too old
        ]
    )
    found = last_observations(series, ["g1", "g2"], DAY, max_age_days=3)
    assert found.rows() == [("g1", DAY - dt.timedelta(days=2), 3.0)]


def test_the_models_error_is_carried_over_the_horizon_and_decays_with_k() -> None:
    forecast = pl.DataFrame(
        {
            "catchment_id": ["c1", "c1", "c2", "c3"],
            "gauge": ["g1", "g1", "g2", None],
            "date": [DAY, DAY + dt.timedelta(days=1), DAY, DAY],
            "discharge_m3s": [2.0, 3.0, 7.0, 1.0],
        }
    )
    before = discharge({"c1": 1.5, "c2": 6.0}).with_columns(date=pl.lit(DAY - dt.timedelta(days=1)))
    observed = pl.DataFrame(
        {
            "gauge": ["g1"],
            "last_observed_date": [DAY - dt.timedelta(days=1)],
            "last_observed_m3s": [2.5],
            "catchment_id": ["c1"],
        }
    )
    whole = corrected(forecast, before, observed, k=1.0)
    assert whole["corrected_m3s"].to_list() == pytest.approx([3.0, 4.0, 7.0, None], nan_ok=True)
    assert whole["last_observed_m3s"].to_list() == [2.5, 2.5, None, None]
    halved = corrected(forecast, before, observed, k=0.5)
    assert halved["corrected_m3s"].to_list()[:2] == pytest.approx([2.5, 3.25])
    below = corrected(forecast, before, observed.with_columns(last_observed_m3s=pl.lit(0.5)), k=1.0)
    assert below["corrected_m3s"].to_list()[:2] == pytest.approx([1.0, 2.0])
    clipped = corrected(forecast, before.with_columns(discharge_m3s=pl.lit(6.0)), observed, k=1.0)
    assert clipped["corrected_m3s"].to_list()[:2] == [0.0, 0.0]


def test_the_no_target_warning_of_each_forecast_catchment_stays_out_of_the_log(caplog) -> None:
    """Every catchment of a forecast's dataset lacks a target; NeuralHydrology would warn once per basin."""
    from discharge_model.defs.forecast.simulation import NO_TARGET_WARNING, without_target_warnings

    logger = logging.getLogger("neuralhydrology.datasetzoo.basedataset")
    with caplog.at_level(logging.WARNING), without_target_warnings():
        logger.warning(f"The following basins had {NO_TARGET_WARNING}: t3-0019.")
        logger.warning("another warning")
    logger.warning(f"after: {NO_TARGET_WARNING}")
    assert [record.getMessage() for record in caplog.records] == [
        "another warning",
        f"after: {NO_TARGET_WARNING}",
    ]
