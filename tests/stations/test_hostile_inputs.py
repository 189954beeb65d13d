"""Station inputs crafted by a hostile tester: empty zips, duplicate readings, escaping listings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from landing_zone.defs.stations.polishing import duplicate_summary, polish
from landing_zone.defs.stations.provider_formats import ProviderFormatError
from landing_zone.defs.stations.provider_listing import provider_files
from landing_zone.defs.stations.raw_layer import read_provider_zip
from landing_zone.sources import SourceUrlRefused

pytestmark = pytest.mark.hostile


def test_a_zero_byte_zip_names_the_file_and_says_it_is_empty(tmp_path: Path) -> None:
    empty = tmp_path / "250190391_2019.zip"
    empty.write_bytes(b"")
    with pytest.raises(ProviderFormatError) as raised:
        read_provider_zip(empty, "meteo", "250190391_2019", tmp_path / "work")
    assert str(raised.value) == (
        "meteo 250190391_2019: 250190391_2019.zip: not a zip archive: it is empty (0 bytes)"
    )


def test_a_file_that_is_not_a_zip_names_the_file(tmp_path: Path) -> None:
    page = tmp_path / "250190391_2019.zip"
    page.write_bytes(b"<html>502 Bad Gateway</html>")
    with pytest.raises(ProviderFormatError, match=r"250190391_2019.zip: not a zip archive: .*\(28 bytes\)"):
        read_provider_zip(page, "meteo", "250190391_2019", tmp_path / "work")


def day(number: int, hour: int = 0) -> datetime:
    return datetime(2024, 1, number, hour, tzinfo=UTC)


def test_duplicate_readings_are_flagged_and_disagreeing_ones_rejected() -> None:
    wide = pl.DataFrame(
        {
            "station": ["s1"] * 7,
            "time": [day(1), day(2), day(2), day(3), day(3, 6), day(4), day(5)],
            "air_pressure_hpa": [1000.0, 1001.0, 1001.0, 1002.0, 1010.0, 1003.0, 1004.0],
            "precipitation_mm": [0.0, 1.0, None, 2.0, 2.0, 0.5, 0.0],
        }
    )
    polished = polish(wide).sort("variable", "time")
    pressure = polished.filter(pl.col("variable") == "air_pressure_hpa")
    assert pressure["flag"].to_list() == ["ok", "duplicate", "imputed", "ok", "ok"]
    assert pressure["test"].to_list() == [None, None, "duplicate", None, None]
    assert pressure["raw_value"][2] == 1010.0  # the last reading is kept as the raw value
    assert pressure["value"][1] == 1001.0 and pressure["value"][2] == pytest.approx(1002.0)
    rain = polished.filter(pl.col("variable") == "precipitation_mm")
    assert rain["flag"].to_list() == ["ok", "duplicate", "duplicate", "ok", "ok"]
    assert rain["value"][1] == 1.0  # a null reading does not disagree with a value
    assert duplicate_summary(polished) == {"agreeing": 3, "conflicting": 1}
    assert polished.height == 10  # one row per day and variable, duplicates and all


def test_a_listed_file_linking_out_of_the_provider_directory_fails_the_listing(tmp_path: Path) -> None:
    provider = tmp_path / "meteo"
    (provider / "2019").mkdir(parents=True)
    (tmp_path / "secret.zip").write_bytes(b"not for the raw layer")
    (provider / "2019" / "250190391_2019.zip").symlink_to(tmp_path / "secret.zip")
    with pytest.raises(SourceUrlRefused, match=r"listed file '2019/250190391_2019.zip'.*refused"):
        provider_files(provider.as_uri() + "/")
