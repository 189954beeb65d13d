"""Typed access to what a Dagster run in these tests reports: the assets of domain definitions, the rows
a failed check found, a failed step's message."""

from __future__ import annotations

from typing import Any

import dagster as dg


def assets_of(*definitions: dg.Definitions) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """The assets and external asset specs of each domain's definitions, for ``dg.materialize``."""
    return [
        asset
        for defs in definitions
        for asset in defs.assets or []
        if isinstance(asset, dg.AssetsDefinition | dg.AssetSpec)
    ]


def offending_rows(evaluation: dg.AssetCheckEvaluation) -> list[dict[str, Any]]:
    """The rows a SQL check selected (its ``offending_values`` metadata)."""
    rows = evaluation.metadata["offending_values"].value
    assert isinstance(rows, list), rows
    return rows


def failure_message(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """The one failed step of the run and its error, class name included."""
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    error = failure.step_failure_data.error
    assert failure.step_key is not None and error is not None
    return failure.step_key, error.to_string()
