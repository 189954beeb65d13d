"""A human-readable listing of a code location's asset graph, committed and compared in a test.

One block per asset: its group, partitions, kinds, owners, node pool (from the Kubernetes size tag) and checks
(blocking or not). A change to the graph then shows in review as a diff of ``tests/snapshots/*.txt``.
Regenerate with ``UPDATE_SNAPSHOTS=1 .venv/bin/pytest tests/integration/test_asset_snapshot.py``.
"""

from __future__ import annotations

import dagster as dg

from shared.k8s import SIZE_TAG


def describe_partitions(partitions: dg.PartitionsDefinition | None) -> str:
    """The partitioning in words: kind, name or static keys, per dimension."""
    if partitions is None:
        return "none"
    if isinstance(partitions, dg.MultiPartitionsDefinition):
        dims = (f"{d.name}: {describe_partitions(d.partitions_def)}" for d in partitions.partitions_defs)
        return f"multi({', '.join(dims)})"
    if isinstance(partitions, dg.DynamicPartitionsDefinition):
        return f"dynamic {partitions.name}"
    if isinstance(partitions, dg.TimeWindowPartitionsDefinition):
        return f"time window {partitions.cron_schedule} from {partitions.start.isoformat()}"
    if isinstance(partitions, dg.StaticPartitionsDefinition):
        return f"static [{', '.join(partitions.get_partition_keys())}]"
    return type(partitions).__name__


def asset_snapshot(defs: dg.Definitions) -> str:
    """Every materialisable asset of ``defs``, sorted by key, one indented block each."""
    graph = defs.resolve_asset_graph()
    blocks = []
    for assets_def in graph.assets_defs:
        if not assets_def.is_executable:
            continue
        pool = assets_def.op.tags.get(SIZE_TAG, "none")
        for key in sorted(assets_def.keys, key=lambda k: k.to_user_string()):
            spec = assets_def.specs_by_key[key]
            checks = sorted(
                f"{check.name} ({'blocking' if check.blocking else 'warn'})"
                for check in [*assets_def.check_specs, *_separate_checks(defs, key)]
                if check.asset_key == key
            )
            blocks.append(
                "\n".join(
                    [
                        key.to_user_string(),
                        f"  group: {spec.group_name}",
                        f"  partitions: {describe_partitions(assets_def.partitions_def)}",
                        f"  kinds: {', '.join(sorted(spec.kinds)) or 'none'}",
                        f"  owners: {', '.join(spec.owners) or 'none'}",
                        f"  node pool: {pool}",
                        f"  checks: {', '.join(checks) or 'none'}",
                    ]
                )
            )
    return "\n".join(sorted(blocks)) + "\n"


def _separate_checks(defs: dg.Definitions, key: dg.AssetKey) -> list[dg.AssetCheckSpec]:
    """Checks defined apart from their asset (``@asset_check``), if a location has any."""
    return [
        spec
        for checks_def in defs.asset_checks or []
        if isinstance(checks_def, dg.AssetChecksDefinition)
        for spec in checks_def.check_specs
        if spec.asset_key == key
    ]
