"""The provider formats on the sample region's real files: types, time zones, and every format change."""

import zipfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from landing_zone.defs.stations.provider_formats import (
    HYDRO_FORMAT,
    METEO_FORMAT,
    STATION_LIST_FORMAT,
    ProviderFormatError,
    parse_provider_csv,
)

METEO_FILE = "250190391_2019"
HYDRO_FILE = "150190010_2021"


def provider_csv(region: Path, network: str, stem: str) -> bytes:
    """The CSV inside one v1 provider zip, as the provider's bytes."""
    year = stem.rsplit("_", 1)[1]
    with zipfile.ZipFile(region / "stations" / network / "v1" / year / f"{stem}.zip") as archive:
        return archive.read(f"{stem}.csv")


def meteo_lines(region: Path) -> list[str]:
    return provider_csv(region, "meteo", METEO_FILE).decode("cp1250").split("\r\n")


def reencoded(lines: list[str]) -> bytes:
    return "\r\n".join(lines).encode("cp1250")


def test_meteo_file_is_typed_with_decimal_commas_and_utc_days(small_region):
    lines = [line for line in meteo_lines(small_region) if line]
    table = parse_provider_csv(provider_csv(small_region, "meteo", METEO_FILE), METEO_FORMAT, METEO_FILE)

    assert table.schema == pl.Schema(METEO_FORMAT.table_schema)
    assert table.height == len(lines) - 2  # every data line, duplicates and all
    assert table["line"].to_list() == list(range(3, len(lines) + 1))
    assert table.select(pl.struct("station", "time").is_duplicated().any()).item()
    code, _, day, *values = lines[2].split(";")
    first = table.row(0, named=True)
    assert first["station"] == code and first["source"] == METEO_FILE
    assert first["time"] == datetime.fromisoformat(day).replace(tzinfo=UTC)
    assert [
        first[name]
        for name in (
            "precipitation_mm",
            "air_temperature_c",
            "relative_humidity_pct",
            "air_pressure_hpa",
            "air_temperature_max_c",
            "air_temperature_min_c",
        )
    ] == [float(value.replace(",", ".")) for value in values]
    assert table.select((pl.col("time").dt.time() == pl.time(0)).all()).item()


def test_hydro_readings_at_six_local_time_become_utc(small_region):
    raw = provider_csv(small_region, "hydro", HYDRO_FILE)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with a byte-order mark
    table = parse_provider_csv(raw, HYDRO_FORMAT, HYDRO_FILE)

    assert table.schema == pl.Schema(HYDRO_FORMAT.table_schema)
    assert table["station"].unique().to_list() == ["150190010"]
    month_hours = table.group_by(pl.col("time").dt.month().alias("month")).agg(
        pl.col("time").dt.hour().unique().alias("hours")
    )
    hours = {row["month"]: row["hours"] for row in month_hours.iter_rows(named=True)}
    assert hours[1] == [5] and hours[12] == [5]  # 06:00 CET
    assert hours[7] == [4]  # 06:00 CEST
    lines = raw.decode("utf-8-sig").split("\r\n")
    for month, utc_hour in (("01", 5), ("07", 4)):
        number, line = next((n, line) for n, line in enumerate(lines, 1) if f"-{month}-15 06:00" in line)
        day = datetime.fromisoformat(line.split(";")[3][:10])
        assert table.filter(pl.col("line") == number)["time"].item() == day.replace(hour=utc_hour, tzinfo=UTC)


def test_empty_fields_become_null(small_region):
    lines = meteo_lines(small_region)
    code, name, day, _, temperature, _, _, maximum, _ = lines[2].split(";")
    lines[2] = ";".join([code, name, day, "", temperature, " ", "", maximum, ""])
    row = parse_provider_csv(reencoded(lines), METEO_FORMAT, METEO_FILE).row(0, named=True)
    assert row["precipitation_mm"] is None and row["relative_humidity_pct"] is None
    assert row["air_pressure_hpa"] is None and row["air_temperature_min_c"] is None
    assert row["air_temperature_c"] == float(temperature.replace(",", "."))
    assert row["air_temperature_max_c"] == float(maximum.replace(",", "."))


def drop_column(lines: list[str], index: int) -> list[str]:
    return [
        ";".join(f for i, f in enumerate(line.split(";")) if i != index) if line else line for line in lines
    ]


def add_column(lines: list[str], header: str, unit: str) -> list[str]:
    extra = [header, unit]
    return [f"{line};{extra[i] if i < 2 else '1,0'}" if line else line for i, line in enumerate(lines)]


def replace_in_line(lines: list[str], index: int, old: str, new: str) -> list[str]:
    return [line.replace(old, new) if i == index else line for i, line in enumerate(lines)]


def swap_columns(lines: list[str], a: int, b: int) -> list[str]:
    swapped = []
    for line in lines:
        fields = line.split(";")
        if line:
            fields[a], fields[b] = fields[b], fields[a]
        swapped.append(";".join(fields))
    return swapped


def set_field(lines: list[str], index: int, field: int, value: str) -> list[str]:
    fields = lines[index].split(";")
    fields[field] = value
    return [*lines[:index], ";".join(fields), *lines[index + 1 :]]


FORMAT_CHANGES = {
    "renamed column": (
        lambda lines: replace_in_line(lines, 0, "Temperatura powietrza", "Temperatura"),
        "column 'Temperatura powietrza' renamed or missing; unexpected column 'Temperatura'",
    ),
    "missing column": (
        lambda lines: drop_column(lines, 6),
        "column 'Ciśnienie' renamed or missing",
    ),
    "new column": (
        lambda lines: add_column(lines, "Usłonecznienie", "h"),
        "unexpected column 'Usłonecznienie'",
    ),
    "changed units": (
        lambda lines: replace_in_line(lines, 1, "hPa", "kPa"),
        "units line changed for 'Ciśnienie': expected 'hPa', found 'kPa'",
    ),
    "missing extreme": (
        lambda lines: drop_column(lines, 8),
        "column 'Temperatura minimalna' renamed or missing",
    ),
    "extreme in Fahrenheit": (
        lambda lines: replace_in_line(lines, 1, ";°C;°C", ";°F;°C"),
        "units line changed for 'Temperatura maksymalna': expected '°C', found '°F'",
    ),
    "reordered columns": (
        lambda lines: swap_columns(lines, 3, 4),
        "columns reordered: expected ['Kod stacji', 'Nazwa stacji', 'Data', 'Opad', 'Temperatura powietrza',"
        " 'Wilgotność względna', 'Ciśnienie', 'Temperatura maksymalna', 'Temperatura minimalna'], found "
        "['Kod stacji', 'Nazwa stacji', 'Data', 'Temperatura powietrza', 'Opad', 'Wilgotność względna', "
        "'Ciśnienie', 'Temperatura maksymalna', 'Temperatura minimalna']",
    ),
}


@pytest.mark.parametrize("change", FORMAT_CHANGES)
def test_a_format_change_fails_naming_exactly_what_changed(small_region, change):
    edit, problem = FORMAT_CHANGES[change]
    with pytest.raises(ProviderFormatError) as raised:
        parse_provider_csv(reencoded(edit(meteo_lines(small_region))), METEO_FORMAT, METEO_FILE)
    assert str(raised.value) == f"meteo {METEO_FILE}: {problem}"


def test_a_changed_time_zone_in_the_units_line_fails(small_region):
    lines = provider_csv(small_region, "hydro", HYDRO_FILE).decode("utf-8-sig").split("\r\n")
    lines[1] = lines[1].replace("Europe/Warsaw", "UTC")
    with pytest.raises(ProviderFormatError) as raised:
        parse_provider_csv("\r\n".join(lines).encode("utf-8-sig"), HYDRO_FORMAT, HYDRO_FILE)
    assert str(raised.value) == (
        f"hydro {HYDRO_FILE}: units line changed for 'Data pomiaru': expected 'Europe/Warsaw', found 'UTC'"
    )


def test_unreadable_values_name_their_line_and_column(small_region):
    lines = meteo_lines(small_region)
    lines = set_field(lines, 4, 6, "1013.2")  # a decimal point, not a comma
    lines = set_field(lines, 6, 2, "2019-02-30")
    lines[7] = ";".join(lines[7].split(";")[:5])
    with pytest.raises(ProviderFormatError, match=r"^meteo \S+: line 8: 5 fields, expected 9$"):
        parse_provider_csv(reencoded(lines), METEO_FORMAT, METEO_FILE)
    del lines[7]
    with pytest.raises(ProviderFormatError) as raised:
        parse_provider_csv(reencoded(lines), METEO_FORMAT, METEO_FILE)
    assert str(raised.value) == (
        f"meteo {METEO_FILE}: line 7, column 'Data': '2019-02-30' is not a time '%Y-%m-%d' in UTC; "
        "line 5, column 'Ciśnienie': '1013.2' is not a number with a decimal comma"
    )


@pytest.mark.hostile
def test_a_utf8_file_in_a_cp1250_network_names_both_encodings(small_region):
    utf8 = "\r\n".join(meteo_lines(small_region)).encode("utf-8")
    with pytest.raises(ProviderFormatError) as raised:
        parse_provider_csv(utf8, METEO_FORMAT, METEO_FILE)
    message = str(raised.value)
    assert message.startswith(f"meteo {METEO_FILE}: the file is declared cp1250 but looks like UTF-8")
    assert "Ã" not in message and "Å" not in message  # no mojibake column names


@pytest.mark.hostile
def test_a_cp1250_file_in_a_utf8_network_names_both_encodings(small_region):
    lines = provider_csv(small_region, "hydro", HYDRO_FILE).decode("utf-8-sig").split("\r\n")
    with pytest.raises(ProviderFormatError, match="declared utf-8-sig but looks like CP1250"):
        parse_provider_csv("\r\n".join(lines).encode("cp1250"), HYDRO_FORMAT, HYDRO_FILE)


def test_a_renamed_column_in_the_declared_encoding_is_still_reported_as_renamed(small_region):
    lines = meteo_lines(small_region)
    lines[0] = lines[0].replace("Wilgotność względna", "Wilgotność")
    with pytest.raises(ProviderFormatError, match="column 'Wilgotność względna' renamed or missing"):
        parse_provider_csv(reencoded(lines), METEO_FORMAT, METEO_FILE)


def test_station_list_keeps_polish_names_and_positions(small_region, manifest):
    path = small_region / "stations" / "meteo" / "v1" / "stations.csv"
    table = parse_provider_csv(path, STATION_LIST_FORMAT, "stations.csv")
    expected = {station["code"]: station for station in manifest["stations"]["meteo_stations"]}
    assert dict(zip(table["code"], table["name"], strict=True)) == {
        code: station["name"] for code, station in expected.items()
    }
    assert "Końskie" in table["name"].to_list()
    assert table["river"].null_count() == table.height  # meteorological stations lie on no river
    assert table.select(pl.col("lon").is_between(14, 25).all(), pl.col("lat").is_between(49, 55).all()).row(
        0
    ) == (
        True,
        True,
    )
