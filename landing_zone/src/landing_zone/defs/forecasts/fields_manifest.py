"""The publication unit of ``forecast/grib/fields``: a run's COGs and, written last, its manifest.

A run's fields are two COGs (:mod:`.grib_fields`) uploaded one after the other, so a reader listing the
partition folder could find one new COG beside an old one, or one COG of a run whose other upload
failed. The manifest (``part.parquet`` in the run's folder, one row per variable and band: which COG,
which band, its lead and valid time) is removed before the COGs are replaced and written after all of
them are stored, as ``meteo/daily_grids`` writes its month's manifest after the month's COGs: a reader
that finds the manifest finds the whole run, and readers (the catchment forecast forcings) open the
fields only through it.

Plain (no Dagster, so the forecast forcings' plain module can read runs): the fields asset's key path is
passed in, the partition folder is the run partition's (``partition={YYYY-MM-DD-HH:MM}``).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence

import polars as pl

from landing_zone.defs.forecasts.grib_fields import LeadFields
from shared.storage import Storage
from shared.storage.layout import PARQUET, SINGLE_DIMENSION, AssetLocation

UTC_TIME = pl.Datetime("us", "UTC")
MANIFEST_SCHEMA = pl.Schema(
    {
        "run_time": UTC_TIME,
        "region": pl.String(),
        "variable": pl.String(),
        "cog_key": pl.String(),
        "band": pl.Int32(),
        "lead_h": pl.Int32(),
        "valid_time": UTC_TIME,
        "interval_start": UTC_TIME,
    }
)
"""One row per variable and band (1-based). ``interval_start``: where the band's amount starts
accumulating (precipitation; null for the instantaneous temperature)."""

MANIFEST_DESCRIPTIONS = {
    "variable": "Forecast variable of the COG (unit in its name's suffix)",
    "cog_key": "Storage key of the variable's COG of the run",
    "band": "Band of the COG holding the lead time (1-based)",
    "lead_h": "Hours from the run's reference time to valid_time (h)",
    "valid_time": "Time the band's value is valid at (UTC); for an amount, the end of its interval",
    "interval_start": "Where the band's amount starts accumulating (UTC); null for instantaneous values",
}
"""Descriptions, with units, of :data:`MANIFEST_SCHEMA`'s columns."""


class FieldsManifestError(ValueError):
    """A stored manifest that does not describe a run's fields; the message names the object."""


def manifest_key(fields_path: Sequence[str], partition_key: str) -> str:
    """The manifest's object key in the run's folder of the fields asset (its key path)."""
    return AssetLocation(fields_path, {SINGLE_DIMENSION: partition_key}).key(PARQUET)


def fields_manifest(
    run_time: dt.datetime, region: str, fields: Mapping[str, LeadFields], cog_keys: Mapping[str, str]
) -> pl.DataFrame:
    """The manifest of a run's COGs, written from ``fields`` band for band (``cog_keys``: where each
    variable's COG is stored)."""
    rows = []
    for name, field in sorted(fields.items()):
        starts = field.interval_start_h or (None,) * len(field.leads_h)
        for band, (lead, start) in enumerate(zip(field.leads_h, starts, strict=True), start=1):
            rows.append(
                {
                    "run_time": run_time,
                    "region": region,
                    "variable": name,
                    "cog_key": cog_keys[name],
                    "band": band,
                    "lead_h": lead,
                    "valid_time": run_time + dt.timedelta(hours=lead),
                    "interval_start": None if start is None else run_time + dt.timedelta(hours=start),
                }
            )
    return pl.DataFrame(rows, schema=MANIFEST_SCHEMA)


def write_manifest(
    store: Storage, fields_path: Sequence[str], partition_key: str, manifest: pl.DataFrame
) -> str:
    """Store the manifest (the run's last object written); returns its key."""
    buffer = io.BytesIO()
    manifest.write_parquet(buffer, compression="zstd")
    key = manifest_key(fields_path, partition_key)
    store.put_bytes(buffer.getvalue(), key)
    return key


def read_manifest(store: Storage, fields_path: Sequence[str], partition_key: str) -> pl.DataFrame | None:
    """A run's published manifest, None where the run has none (not published, or being replaced)."""
    key = manifest_key(fields_path, partition_key)
    if not store.exists(key):
        return None
    manifest = pl.read_parquet(io.BytesIO(store.get_bytes(key)))
    if manifest.schema != MANIFEST_SCHEMA:
        raise FieldsManifestError(
            f"{store.uri(key)}: columns {dict(manifest.schema)} are not the fields manifest's "
            f"{dict(MANIFEST_SCHEMA)}"
        )
    return manifest
