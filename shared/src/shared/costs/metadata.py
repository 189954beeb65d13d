"""Cost metadata of a materialisation: the keys, and reading a step's identity and node pool from Dagster.

Every output the platform's IO managers store carries these keys (see :mod:`shared.costs.meter` for
how they are measured), and so does every ``MaterializeResult`` of an asset that stores through the
storage itself (:func:`asset_cost_metadata`); the cost report (:mod:`shared.costs.report`) reads them
back and prices them with the node pool the step's op tags placed it on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    DagsterInvariantViolationError,
    InputContext,
    MetadataValue,
    OutputContext,
)

from shared.costs.meter import STEP_METER, StepCost
from shared.k8s.op_tags import DIVIDER_TAG, SIZE_TAG

CPU_S = "cost/cpu_s"
WALL_S = "cost/wall_s"
PEAK_RSS_MB = "cost/peak_rss_mb"
BYTES_READ = "cost/bytes_read"
BYTES_WRITTEN = "cost/bytes_written"
NODE_POOL = "cost/node_pool"
DIVIDER = "cost/divider"

DEFAULT_POOL = "small"
"""Where a step without a size tag runs: the untainted pool (:mod:`shared.k8s.node_pools`)."""


def begin_input(context: InputContext) -> None:
    """Start the consuming step's meter at its first input; nothing outside a real step (a test's
    ``build_input_context``), whose process may measure itself."""
    try:
        step = context.step_context
    except DagsterInvariantViolationError:
        return
    STEP_METER.begin(_identity(step.run_id, step.step.key))


def output_cost_metadata(context: OutputContext) -> dict[str, Any]:
    """The cost keys for the output being stored (empty outside a real step, as for inputs)."""
    try:
        step, tags = _identity(context.run_id, context.step_key), context.op_def.tags
    except DagsterInvariantViolationError:
        return {}
    return cost_metadata(STEP_METER.measure(step), tags)


def asset_cost_metadata(context: AssetExecutionContext) -> dict[str, Any]:
    """The cost keys for an asset that stores its objects through the storage itself and returns a
    ``MaterializeResult`` (no IO manager sees it): merge them into its metadata as the last thing it does."""
    return cost_metadata(STEP_METER.measure(None), context.assets_def.op.tags)


def cost_metadata(cost: StepCost, op_tags: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata values of a measured cost, with the node pool and share of it from ``op_tags``."""
    return {
        CPU_S: MetadataValue.float(round(cost.cpu_s, 3)),
        WALL_S: MetadataValue.float(round(cost.wall_s, 3)),
        PEAK_RSS_MB: MetadataValue.float(round(cost.peak_rss_mb, 1)),
        BYTES_READ: MetadataValue.int(cost.bytes_read),
        BYTES_WRITTEN: MetadataValue.int(cost.bytes_written),
        NODE_POOL: MetadataValue.text(str(op_tags.get(SIZE_TAG, DEFAULT_POOL))),
        DIVIDER: MetadataValue.int(int(op_tags.get(DIVIDER_TAG, 1))),
    }


def _identity(run_id: str, step_key: str) -> str:
    return f"{run_id}/{step_key}"
