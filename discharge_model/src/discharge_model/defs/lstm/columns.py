"""The columns of ``discharge_model/evaluation``'s ``part.parquet``, described with units.

The table is built in :mod:`.evaluation` (pandas and xarray, imported by the step only); the columns are
declared here so the catalogue describes them.
"""

import polars as pl

SCORES = {
    "nse": (pl.Float64(), "Nash-Sutcliffe efficiency (dimensionless; NaN when undefined)"),
    "kge": (pl.Float64(), "Kling-Gupta efficiency (dimensionless)"),
    "kge_r": (pl.Float64(), "KGE's correlation term r (dimensionless)"),
    "kge_alpha": (pl.Float64(), "KGE's variability ratio alpha, std sim / std obs (dimensionless)"),
    "kge_beta": (pl.Float64(), "KGE's bias ratio beta, mean sim / mean obs (dimensionless)"),
    "bias_pct": (pl.Float64(), "Volume bias, 100 x (sum sim - sum obs) / sum obs (%)"),
    "peak_timing_days": (
        pl.Float64(),
        "Mean absolute lag of the largest observed peaks within a 3-day window (days)",
    ),
}
"""Each score computed for the LSTM (``lstm_``) and the climatology baseline (``climatology_``)."""
MODELS = {"lstm_": "the LSTM", "climatology_": "the day-of-year climatology baseline"}

EVALUATION_SCHEMA = (
    {
        "basin": pl.String(),
        "catchment_id": pl.String(),
        "model_run": pl.String(),
        "test_start": pl.Date(),
        "test_end": pl.Date(),
    }
    | {f"lstm_{name}": dtype for name, (dtype, _) in SCORES.items()}
    | {"valid_days": pl.Int64()}
    | {f"climatology_{name}": dtype for name, (dtype, _) in SCORES.items()}
    | {"nse_gain": pl.Float64()}
)

EVALUATION_DESCRIPTIONS = {
    "model_run": "Run id of the published LSTM scored",
    "test_start": "First day of the test period",
    "test_end": "Last day of the test period",
    "valid_days": "Test days with a valid observed discharge",
    "nse_gain": "LSTM NSE minus climatology NSE (dimensionless; > 0: the LSTM is better)",
    **{
        f"{prefix}{name}": f"{text} of {model}"
        for prefix, model in MODELS.items()
        for name, (_, text) in SCORES.items()
    },
}
