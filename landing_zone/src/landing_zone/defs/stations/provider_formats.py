"""The providers' file formats, declared once each, and the strict parser that turns a file into a table.

Providers publish station series as CSV with their own conventions: a legacy encoding, decimal commas,
a units line under the header, local time. Declaring each format as a :class:`ProviderFormat` keeps the
parser free of per-provider branches and lets a reviewer compare one declaration with the provider's
documentation. The parser is strict about layout: a renamed, missing or new column, or a changed units
line, raises :class:`ProviderFormatError` naming exactly what changed, because a silent change of
meaning (kPa read as hPa, a dropped column) would poison every series downstream while a failed run
only delays it. Values are kept as published: duplicated and unsorted rows stay (polishing decides),
and each row keeps its line number for provenance.

A file written in another encoding than the declared one is named as such rather than parsed into
mojibake: when the header does not match under the declared encoding (or the bytes do not decode) but
does under another common one (UTF-8 for a cp1250 network, cp1250 for a UTF-8 one), the error names
the file, the declared encoding and the likely actual one.
"""

import codecs
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, Field, model_validator

Network = Literal["meteo", "hydro"]
"""The station networks whose provider formats are declared here."""
ColumnKind = Literal["text", "number", "time"]
_REPORTED_PROBLEMS = 5
_NUMBER = {False: r"^[+-]?\d+(\.\d+)?$", True: r"^[+-]?\d+(,\d+)?$"}
_LIKELY_ENCODINGS = ("utf-8-sig", "cp1250", "iso-8859-2")
"""Encodings a Polish provider's file may really be in, tried when the declared one does not fit."""


class ProviderFormatError(ValueError):
    """A provider file does not have the declared layout, or a value cannot be read; says exactly where."""


class ProviderColumn(BaseModel, frozen=True):
    """One column as the provider writes it, and what it becomes in our table."""

    header: str = Field(description="The column's name in the provider's header line.")
    name: str | None = Field(
        default=None, description="Our column name; None: checked as part of the layout, not kept."
    )
    kind: ColumnKind = Field(default="text", description="text (string), number (Float64) or time.")
    unit: str = Field(default="", description="The entry of the units line under this column.")
    description: str = Field(
        default="", description="What the kept column holds, for the catalogue (the unit is appended)."
    )


class ProviderFormat(BaseModel, frozen=True):
    """Encoding, separators, columns, units and time convention of one provider's files."""

    name: str = Field(description="Names the format in error messages (the network).")
    encoding: str = Field(description="Python codec; utf-8-sig also accepts a byte-order mark.")
    separator: str = Field(default=";", description="Field separator; fields are never quoted.")
    decimal_comma: bool = Field(description="Numbers are written 12,5 rather than 12.5.")
    units_line: bool = Field(default=True, description="A line of units follows the header.")
    columns: tuple[ProviderColumn, ...] = Field(description="Every column, in file order.")
    time_format: str | None = Field(default=None, description="strftime format of time columns.")
    time_zone: str | None = Field(default=None, description="IANA zone the times are written in.")

    @model_validator(mode="after")
    def _consistent(self) -> "ProviderFormat":
        """Refuse a declaration the parser could not honour, at import rather than mid-run."""
        kept = [column.name for column in self.columns if column.name]
        if len(set(kept)) != len(kept) or {"source", "line"} & set(kept):
            raise ValueError(f"{self.name}: our column names must be unique and not 'source' or 'line'")
        if any(c.kind == "time" for c in self.columns) and not (self.time_format and self.time_zone):
            raise ValueError(f"{self.name}: time columns need time_format and time_zone")
        return self

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def units(self) -> list[str]:
        return [column.unit for column in self.columns]

    @property
    def table_schema(self) -> dict[str, pl.DataType]:
        """The table :func:`parse_provider_csv` returns: kept columns in file order, then provenance."""
        types: dict[ColumnKind, pl.DataType] = {
            "text": pl.String(),
            "number": pl.Float64(),
            "time": pl.Datetime("us", "UTC"),
        }
        kept = {column.name: types[column.kind] for column in self.columns if column.name}
        return kept | {"source": pl.String(), "line": pl.Int64()}

    @property
    def column_descriptions(self) -> dict[str, str]:
        """The kept columns' descriptions with their units (provenance columns are described in
        :data:`shared.columns.COMMON`)."""
        return {
            column.name: f"{column.description} ({column.unit})"
            if column.kind == "number" and column.unit
            else column.description
            for column in self.columns
            if column.name and column.description
        }


METEO_FORMAT = ProviderFormat(
    name="meteo",
    encoding="cp1250",
    decimal_comma=True,
    columns=(
        ProviderColumn(header="Kod stacji", name="station", description="Station code of the provider"),
        ProviderColumn(header="Nazwa stacji"),
        ProviderColumn(
            header="Data", name="time", kind="time", description="Observation day (UTC, midnight)"
        ),
        ProviderColumn(
            header="Opad",
            name="precipitation_mm",
            kind="number",
            unit="mm",
            description="Daily precipitation total",
        ),
        ProviderColumn(
            header="Temperatura powietrza",
            name="air_temperature_c",
            kind="number",
            unit="°C",
            description="Daily mean air temperature",
        ),
        ProviderColumn(
            header="Wilgotność względna",
            name="relative_humidity_pct",
            kind="number",
            unit="%",
            description="Daily mean relative humidity",
        ),
        ProviderColumn(
            header="Ciśnienie",
            name="air_pressure_hpa",
            kind="number",
            unit="hPa",
            description="Daily mean air pressure at the station",
        ),
        ProviderColumn(
            header="Temperatura maksymalna",
            name="air_temperature_max_c",
            kind="number",
            unit="°C",
            description="Daily maximum air temperature",
        ),
        ProviderColumn(
            header="Temperatura minimalna",
            name="air_temperature_min_c",
            kind="number",
            unit="°C",
            description="Daily minimum air temperature",
        ),
    ),
    time_format="%Y-%m-%d",
    time_zone="UTC",
)
"""Daily meteorological reports: Windows-1250, decimal commas, UTC days (the row's time is 00:00 UTC).
The day's mean, maximum and minimum air temperature are three columns (the extremes come last)."""

HYDRO_FORMAT = ProviderFormat(
    name="hydro",
    encoding="utf-8-sig",
    decimal_comma=True,
    columns=(
        ProviderColumn(header="Kod", name="station", description="Gauge's station code of the provider"),
        ProviderColumn(header="Nazwa"),
        ProviderColumn(header="Rzeka"),
        ProviderColumn(
            header="Data pomiaru",
            name="time",
            kind="time",
            unit="Europe/Warsaw",
            description="Reading time in UTC (the provider writes Europe/Warsaw local time)",
        ),
        ProviderColumn(
            header="Stan wody",
            name="water_level_cm",
            kind="number",
            unit="cm",
            description="Water level above the gauge datum",
        ),
        ProviderColumn(
            header="Przepływ",
            name="discharge_m3s",
            kind="number",
            unit="m3/s",
            description="Discharge",
        ),
    ),
    time_format="%Y-%m-%d %H:%M",
    time_zone="Europe/Warsaw",
)
"""Daily gauge readings at 06:00 local time (05:00 UTC in winter, 04:00 UTC in summer); UTF-8 with BOM."""

STATION_LIST_FORMAT = ProviderFormat(
    name="station list",
    encoding="cp1250",
    decimal_comma=False,
    units_line=False,
    columns=(
        ProviderColumn(header="Kod", name="code", description="Station code of the provider"),
        ProviderColumn(header="Nazwa", name="name", description="Station name"),
        ProviderColumn(
            header="Rzeka", name="river", description="River the station lies on (empty for meteo)"
        ),
        ProviderColumn(
            header="Długość", name="lon", kind="number", unit="degrees", description="WGS84 longitude"
        ),
        ProviderColumn(
            header="Szerokość", name="lat", kind="number", unit="degrees", description="WGS84 latitude"
        ),
        ProviderColumn(
            header="Wysokość",
            name="elevation_m",
            kind="number",
            description="Station elevation above sea level (m)",
        ),
    ),
)
"""``stations.csv`` of either network: code, name, river, WGS84 longitude and latitude, elevation."""

FORMATS: dict[Network, ProviderFormat] = {"meteo": METEO_FORMAT, "hydro": HYDRO_FORMAT}
"""The observation format of each network."""


def parse_provider_csv(data: Path | bytes, fmt: ProviderFormat, source: str) -> pl.DataFrame:
    """The file as a typed table (``fmt.table_schema``): one row per data line, in file order.

    ``source`` names the file in messages and fills the ``source`` column. Empty fields become null.
    Raises :class:`ProviderFormatError` for a changed header or units line and for a value that cannot
    be read (naming the line and the column).
    """
    where = f"{fmt.name} {source}"
    raw = data.read_bytes() if isinstance(data, Path) else data
    lines = _decode(raw, fmt, where).split("\n")
    body_start = 2 if fmt.units_line else 1
    try:
        _check_layout([line.removesuffix("\r") for line in lines[:body_start]], fmt, where)
    except ProviderFormatError:
        _refuse_if_other_encoding(raw, fmt, where)
        raise
    fields = _fields(lines[body_start:], body_start + 1, fmt, where)
    return _typed(fields, fmt, where).with_columns(source=pl.lit(source)).select(fmt.table_schema.keys())


def _decode(raw: bytes, fmt: ProviderFormat, where: str) -> str:
    try:
        return raw.decode(fmt.encoding)
    except UnicodeDecodeError as error:
        _refuse_if_other_encoding(raw, fmt, where)
        raise ProviderFormatError(f"{where}: not {fmt.encoding} text (byte {error.start})") from None


def _refuse_if_other_encoding(raw: bytes, fmt: ProviderFormat, where: str) -> None:
    """Raise naming the likely encoding when the header matches the declaration only under another one."""
    actual = _likely_encoding(raw, fmt)
    if actual is not None:
        raise ProviderFormatError(
            f"{where}: the file is declared {fmt.encoding} but looks like {actual}: its header matches "
            f"the declared columns only when read as {actual} (read as {fmt.encoding} the column names "
            "come out garbled); the provider changed the encoding"
        )


def _likely_encoding(raw: bytes, fmt: ProviderFormat) -> str | None:
    """The first other common encoding under which the header line is exactly the declared one."""
    declared = codecs.lookup(fmt.encoding).name
    for encoding in _LIKELY_ENCODINGS:
        if codecs.lookup(encoding).name == declared:
            continue
        try:
            header = raw.split(b"\n", 1)[0].decode(encoding).removesuffix("\r")
        except UnicodeDecodeError:
            continue
        if header.split(fmt.separator) == fmt.headers:
            return encoding.removesuffix("-sig").upper()
    return None


def _check_layout(head: list[str], fmt: ProviderFormat, where: str) -> None:
    """Compare the header (and units line) with the declaration; one error listing every difference."""
    found = head[0].split(fmt.separator) if head and head[0] else []
    problems = _header_problems(fmt.headers, found)
    if not problems and fmt.units_line:
        problems = _units_problems(fmt, head[1].split(fmt.separator) if len(head) > 1 else None)
    if problems:
        raise ProviderFormatError(f"{where}: {'; '.join(problems)}")


def _header_problems(expected: list[str], found: list[str]) -> list[str]:
    if not found:
        return ["no header line"]
    problems = [f"column {name!r} renamed or missing" for name in expected if name not in found]
    problems += [f"unexpected column {name!r}" for name in found if name not in expected]
    problems += [
        f"column {name!r} appears more than once" for name in sorted(set(found)) if found.count(name) > 1
    ]
    if not problems and found != expected:
        problems.append(f"columns reordered: expected {expected}, found {found}")
    return problems


def _units_problems(fmt: ProviderFormat, found: list[str] | None) -> list[str]:
    if found is None:
        return ["no units line"]
    if len(found) != len(fmt.columns):
        return [
            f"units line has {len(found)} fields, expected {len(fmt.columns)}: {fmt.separator.join(found)!r}"
        ]
    return [
        f"units line changed for {column.header!r}: expected {column.unit!r}, found {unit!r}"
        for column, unit in zip(fmt.columns, found, strict=True)
        if unit != column.unit
    ]


def _fields(lines: list[str], first_line: int, fmt: ProviderFormat, where: str) -> pl.DataFrame:
    """The 1-based ``line`` and one string cell per declared column (stripped, empty as null)."""
    rows = pl.DataFrame(
        {"line": range(first_line, first_line + len(lines)), "text": lines},
        schema={"line": pl.Int64, "text": pl.String},
    ).with_columns(pl.col("text").str.strip_suffix("\r"))
    rows = rows.filter(pl.col("text").str.strip_chars() != "").with_columns(
        fields=pl.col("text").str.split(fmt.separator)
    )
    wrong = rows.filter(pl.col("fields").list.len() != len(fmt.columns))
    problems = _problems(
        wrong, lambda row: f"line {row['line']}: {len(row['fields'])} fields, expected {len(fmt.columns)}"
    )
    if problems:
        raise ProviderFormatError(f"{where}: {problems}")
    cells = [
        pl.col("fields").list.get(index).str.strip_chars().replace("", None).alias(_cell(index))
        for index in range(len(fmt.columns))
    ]
    return rows.select("line", *cells)


def _cell(index: int) -> str:
    """Internal name of a column's raw text, which no provider header or our name can collide with."""
    return f"__cell{index}"


def _typed(fields: pl.DataFrame, fmt: ProviderFormat, where: str) -> pl.DataFrame:
    """Each kept column converted to its type; every value that does not convert is reported at once."""
    kept = [(index, column) for index, column in enumerate(fmt.columns) if column.name]
    converted = fields.with_columns(
        _convert(pl.col(_cell(index)), column, fmt).alias(str(column.name)) for index, column in kept
    )
    problems = [
        _problems(
            converted.filter(_unreadable(index, column)),
            partial(_describe_unreadable, index=index, column=column, fmt=fmt),
        )
        for index, column in kept
    ]
    if any(problems):
        raise ProviderFormatError(f"{where}: {'; '.join(problem for problem in problems if problem)}")
    return converted


def _unreadable(index: int, column: ProviderColumn) -> pl.Expr:
    """A value that did not convert; an empty field is a null value, except where a time is due."""
    return pl.col(str(column.name)).is_null() & (
        pl.col(_cell(index)).is_not_null() | pl.lit(column.kind == "time")
    )


def _convert(text: pl.Expr, column: ProviderColumn, fmt: ProviderFormat) -> pl.Expr:
    if column.kind == "number":
        readable = text.str.contains(_NUMBER[fmt.decimal_comma])
        return pl.when(readable).then(text.str.replace(",", ".", literal=True)).cast(pl.Float64)
    if column.kind == "time":
        local = text.str.to_datetime(fmt.time_format, time_unit="us", strict=False)
        zoned = local.dt.replace_time_zone(fmt.time_zone, ambiguous="null", non_existent="null")
        return zoned.dt.convert_time_zone("UTC")
    return text


def _describe_unreadable(row: dict[str, Any], index: int, column: ProviderColumn, fmt: ProviderFormat) -> str:
    value = row[_cell(index)]
    shown = "an empty field" if value is None else repr(value)
    if column.kind == "time":
        expected = f"a time {fmt.time_format!r} in {fmt.time_zone}"
    else:
        expected = "a number with a decimal comma" if fmt.decimal_comma else "a number"
    return f"line {row['line']}, column {column.header!r}: {shown} is not {expected}"


def _problems(bad: pl.DataFrame, describe: Callable[[dict[str, Any]], str]) -> str:
    """The first few offending rows described, and how many there are in all; empty when none."""
    shown = [describe(row) for row in bad.head(_REPORTED_PROBLEMS).iter_rows(named=True)]
    more = f" (and {bad.height - len(shown)} more)" if bad.height > len(shown) else ""
    return "; ".join(shown) + more
