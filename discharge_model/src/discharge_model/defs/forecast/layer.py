"""The forecast as a map: the region's reaches with their discharge per lead day, as FlatGeobuf.

One feature per reach with ``q_lead{n}_m3s`` (progressive discharge) and ``local_lead{n}_m3s`` (local
inflow) per lead day, ``gauge`` where one is matched, the run time and the model run: wide columns, so a
QGIS style picks one lead day by field name without a filter.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from shared.vectors.formats import write_flatgeobuf
from shared.vectors.geoframe import GEOMETRY, GeoFrame

LAYER_NAME = "discharge_forecast"


def lead_columns(table: pl.DataFrame) -> pl.DataFrame:
    """``catchment_id`` and ``q_lead{n}_m3s``, ``local_lead{n}_m3s`` per lead day, one row per reach."""
    wide = table.select(
        "catchment_id",
        pl.format("q_lead{}_m3s", "lead_day").alias("q"),
        pl.format("local_lead{}_m3s", "lead_day").alias("local"),
        "discharge_m3s",
        "local_inflow_m3s",
    )
    discharge = wide.pivot("q", index="catchment_id", values="discharge_m3s")
    local = wide.pivot("local", index="catchment_id", values="local_inflow_m3s")
    leads = sorted(table["lead_day"].unique().to_list())
    ordered = [name for n in leads for name in (f"q_lead{n}_m3s", f"local_lead{n}_m3s")]
    return discharge.join(local, on="catchment_id").select("catchment_id", *ordered)


def write_reaches(reaches: GeoFrame, table: pl.DataFrame, path: Path) -> int:
    """Write the reaches that have a forecast with their per-lead columns; returns the feature count."""
    per_reach = table.group_by("catchment_id").agg(
        pl.col("gauge").first(),
        pl.col("run_time").first().dt.strftime("%Y-%m-%dT%H:%MZ"),
        pl.col("model_run").first(),
    )
    attributes = (
        reaches.frame.select("reach_id", "downstream_id", GEOMETRY)
        .join(per_reach, left_on="reach_id", right_on="catchment_id", how="inner")
        .join(lead_columns(table), left_on="reach_id", right_on="catchment_id", how="inner")
        .sort("reach_id")
    )
    write_flatgeobuf(GeoFrame(attributes, reaches.crs), path, LAYER_NAME)
    return attributes.height
