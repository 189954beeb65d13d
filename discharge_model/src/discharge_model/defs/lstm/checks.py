"""The evaluation's checks: DuckDB SQL over the per-basin metrics table, each selecting the offending rows
so a failure's metadata shows the basins and scores found.

None blocks: the evaluation is a report, stored whatever it found, and the run that trained the model
succeeded. Together they decide promotion instead (:mod:`.promotion`): only an evaluation that passes
both points ``promoted.json`` at its model, so a model worse than the climatology, or one that cannot be
scored at some basin, is never used for predictions.
"""

import dagster as dg

from shared.assets.discharge_model import MODEL_EVALUATION
from shared.assets.landing_zone import REGIONS
from shared.resources.duckdb_checks import SqlCheck

EVALUATION_CHECKS = [
    SqlCheck(
        name="lstm_beats_climatology",
        severity=dg.AssetCheckSeverity.WARN,
        description="The LSTM's median test NSE over the basins exceeds the day-of-year climatology's: a "
        "model that does not is no better than the calendar.",
        sql="SELECT median(lstm_nse) AS median_lstm_nse, median(climatology_nse) AS median_climatology_nse, "
        "count(*) AS basins FROM {table} HAVING NOT (median(lstm_nse) > median(climatology_nse))",
    ),
    SqlCheck(
        name="every_basin_scored",
        severity=dg.AssetCheckSeverity.WARN,
        description="Every evaluated basin has a finite LSTM NSE and KGE on the test period (a NaN means no "
        "test-period observations, or no variation in them).",
        sql="SELECT basin, valid_days, lstm_nse, lstm_kge FROM {table} "
        "WHERE lstm_nse IS NULL OR isnan(lstm_nse) OR lstm_kge IS NULL OR isnan(lstm_kge)",
    ),
]

EVALUATION_CHECK_SPECS = [check.spec(MODEL_EVALUATION, REGIONS) for check in EVALUATION_CHECKS]
