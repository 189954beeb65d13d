"""Stored forecasts scored against the observed discharge, per gauge and lead day.

Three forecasts of the same days: the one issued (``corrected_m3s``, the model updated with the last
observation), the open-loop model (``discharge_m3s``) and persistence (``last_observed_m3s``, the last
observation carried forward), each scored only on forecast days with a valid observation, so the three
are compared on the same days. NSE and volume bias are the evaluation's own definitions
(:mod:`discharge_model.defs.lstm.metrics`); NSE over the forecasts of one lead day measures how well the
forecasts follow the observed variation between those days, which is what persistence is judged by too.
"""

from __future__ import annotations

import polars as pl

from discharge_model.defs.lstm.metrics import nse, percent_bias

FORECASTS = {"": "corrected_m3s", "model_": "discharge_m3s", "persistence_": "last_observed_m3s"}
"""Column prefix of each scored forecast in the verification table, and the forecast column scored."""

SCHEMA = pl.Schema(
    {
        "gauge": pl.String,
        "lead_day": pl.Int32,
        "forecasts": pl.Int64,
        "first_date": pl.Date,
        "last_date": pl.Date,
        **{f"{prefix}{name}": pl.Float64 for prefix in FORECASTS for name in ("nse", "bias_pct")},
    }
)

_SCORED = {
    "": "the forecast issued to users (corrected_m3s)",
    "model_": "the uncorrected model",
    "persistence_": "the last observation carried forward",
}
DESCRIPTIONS = {
    "lead_day": "Forecast day: 1 = the run's own UTC day",
    "forecasts": "Scored forecast days (those with a valid observation)",
    "first_date": "First scored day",
    "last_date": "Last scored day",
    **{
        f"{prefix}nse": f"Nash-Sutcliffe efficiency of {what} (dimensionless; NaN when undefined)"
        for prefix, what in _SCORED.items()
    },
    **{
        f"{prefix}bias_pct": f"Volume bias of {what}, 100 x (sum forecast - sum observed) / sum observed (%)"
        for prefix, what in _SCORED.items()
    },
}
"""Descriptions, with units, of :data:`SCHEMA`'s columns."""


def verification_table(forecasts: pl.DataFrame, observed: pl.DataFrame) -> pl.DataFrame:
    """One row per gauge and lead day (:data:`SCHEMA`) from the gauges' forecast rows and observations."""
    scored = forecasts.filter(pl.col("gauge").is_not_null()).join(observed, on=["gauge", "date"], how="inner")
    rows = []
    for (gauge, lead), days in scored.sort("date").group_by("gauge", "lead_day", maintain_order=True):
        obs = days["observed_m3s"].to_numpy()
        row = {
            "gauge": gauge,
            "lead_day": lead,
            "forecasts": days.height,
            "first_date": days["date"].min(),
            "last_date": days["date"].max(),
        }
        for prefix, column in FORECASTS.items():
            simulated = days[column].cast(pl.Float64).fill_null(float("nan")).to_numpy()
            row[f"{prefix}nse"] = nse(obs, simulated)
            row[f"{prefix}bias_pct"] = percent_bias(obs, simulated)
        rows.append(row)
    return pl.DataFrame(rows, schema=SCHEMA).sort("gauge", "lead_day") if rows else SCHEMA.to_frame()


def median_nse(table: pl.DataFrame) -> dict[str, dict[str, float | None]]:
    """``{forecast: {lead day: median NSE over the gauges}}`` (NaN scores left out)."""
    names = {"": "issued", "model_": "model", "persistence_": "persistence"}
    medians: dict[str, dict[str, float | None]] = {}
    for prefix, name in names.items():
        per_lead = (
            table.group_by("lead_day").agg(pl.col(f"{prefix}nse").fill_nan(None).median()).sort("lead_day")
        )
        medians[name] = {
            str(lead): None if value is None else round(float(value), 4)
            for lead, value in per_lead.iter_rows()
        }
    return medians
