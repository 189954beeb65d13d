"""The cross-variable test: a station-day's daily minimum, mean and maximum temperature stay in order."""

from datetime import UTC, datetime

import polars as pl

from landing_zone.defs.stations.polishing import polish
from landing_zone.defs.stations.rules import ORDERED, RULES


def day(number: int) -> datetime:
    return datetime(2024, 1, number, tzinfo=UTC)


def station_days(**columns: list[float | None]) -> pl.DataFrame:
    """Five days of one station with the given variables."""
    return pl.DataFrame({"station": ["s1"] * 5, "time": [day(n) for n in range(1, 6)], **columns})


def verdicts(polished: pl.DataFrame, variable: str) -> list[tuple[str, str | None]]:
    series = polished.filter(pl.col("variable") == variable).sort("time")
    return list(zip(series["flag"], series["test"], strict=True))


def test_a_maximum_below_both_mean_and_minimum_is_rejected_alone():
    polished = polish(
        station_days(
            air_temperature_min_c=[1.0, 1.5, 2.0, 2.5, 3.0],
            air_temperature_c=[5.0, 5.5, 6.0, 6.5, 7.0],
            air_temperature_max_c=[9.0, 9.5, 0.5, 10.5, 11.0],  # a spike smaller than the spike step
        )
    )
    assert verdicts(polished, "air_temperature_max_c")[2] == ("imputed", "consistency")
    assert (
        polished.filter((pl.col("variable") == "air_temperature_max_c") & (pl.col("time") == day(3)))[
            "value"
        ].item()
        == 10.0
    )
    for variable in ("air_temperature_min_c", "air_temperature_c"):
        assert {flag for flag, _ in verdicts(polished, variable)} == {"ok"}


def test_a_pair_out_of_order_is_rejected_whole_when_neither_stands_out():
    polished = polish(
        station_days(
            air_temperature_min_c=[1.0, 1.5, 6.3, 2.5, 3.0],  # above the mean, below the maximum
            air_temperature_c=[5.0, 5.5, 6.0, 6.5, 7.0],
            air_temperature_max_c=[9.0, 9.5, 10.0, 10.5, 11.0],
        )
    )
    for variable in ("air_temperature_min_c", "air_temperature_c"):
        assert verdicts(polished, variable)[2] == ("imputed", "consistency")
    assert {flag for flag, _ in verdicts(polished, "air_temperature_max_c")} == {"ok"}


def test_extremes_are_ordered_without_a_mean_and_other_variables_are_untouched():
    wide = station_days(
        air_temperature_min_c=[1.0, 1.5, 12.0, 2.5, 3.0],
        air_temperature_max_c=[9.0, 9.5, 10.0, 10.5, 11.0],
        air_pressure_hpa=[1000.0, 1001.0, 1002.0, 1003.0, 1004.0],
    )
    polished = polish(wide)
    assert verdicts(polished, "air_temperature_min_c")[2] == ("imputed", "consistency")
    assert verdicts(polished, "air_temperature_max_c")[2] == ("imputed", "consistency")
    assert {flag for flag, _ in verdicts(polished, "air_pressure_hpa")} == {"ok"}
    assert polish(wide, ordered=()).filter(pl.col("test").is_not_null()).is_empty()


def test_every_ordered_variable_has_a_rule_in_the_same_unit():
    for lower, upper in ORDERED:
        assert RULES[lower].unit == RULES[upper].unit
