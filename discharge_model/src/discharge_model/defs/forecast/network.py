"""A reach's local inflow: its progressive discharge minus that of the reaches flowing into it.

The model predicts the discharge leaving each progressive catchment (everything upstream of the reach's
pour point). What the reach itself adds, the flow a routing model or an operator wants per reach, is that
minus what enters from its direct upstream reaches (``downstream_id`` of the reaches layer names where
each reach flows). The local inflows of a basin therefore sum back to the discharge at its outlet. A
local inflow can be negative where the model's upstream catchments together predict more than the
catchment containing them: it is kept as computed (the sum must hold), not clipped.
"""

from __future__ import annotations

import polars as pl


class NetworkMismatchError(ValueError):
    """The forecast's catchments and the reaches layer disagree; the message names the reaches."""


def local_inflow(discharge: pl.DataFrame, reaches: pl.DataFrame) -> pl.DataFrame:
    """``discharge`` (``catchment_id``, ``date``, ``discharge_m3s``) with ``local_inflow_m3s``.

    ``reaches`` has ``reach_id`` and ``downstream_id``. Every forecast catchment must be a reach, and
    every reach flowing into a forecast reach must be forecast too: a missing one would put its water
    into its downstream reach's local inflow.
    """
    forecast = set(discharge["catchment_id"].unique().to_list())
    known = set(reaches["reach_id"].to_list())
    unknown = sorted(forecast - known)
    if unknown:
        raise NetworkMismatchError(
            f"forecast catchment(s) {unknown[:10]} are not reaches of the reaches layer"
        )
    feeding = reaches.filter(pl.col("downstream_id").is_in(list(forecast)))
    unforecast = sorted(set(feeding["reach_id"].to_list()) - forecast)
    if unforecast:
        raise NetworkMismatchError(
            f"reach(es) {unforecast[:10]} flow into forecast reaches but have no forecast forcings"
        )
    upstream = (
        discharge.join(
            feeding.select("reach_id", "downstream_id"), left_on="catchment_id", right_on="reach_id"
        )
        .group_by("downstream_id", "date")
        .agg(pl.col("discharge_m3s").sum().alias("upstream_m3s"))
    )
    return (
        discharge.join(
            upstream, left_on=["catchment_id", "date"], right_on=["downstream_id", "date"], how="left"
        )
        .with_columns(local_inflow_m3s=pl.col("discharge_m3s") - pl.col("upstream_m3s").fill_null(0.0))
        .drop("upstream_m3s")
    )
