"""Stand-ins for automation tests: assets that record what a real materialisation records for the
automation daemon (a materialisation of the key's partition and a result per check) without doing the
work, so the real conditions can be evaluated over the real graph in seconds."""

from typing import Any

import dagster as dg


def stand_in(graph: Any, key: dg.AssetKey, failing: set[str]) -> dg.AssetsDefinition:
    """An asset with the key, partitions and checks of ``key``'s node in ``graph``, recording a result for
    each check: passed unless named in ``failing``. ``graph`` is ``Definitions.resolve_asset_graph()``'s
    (its class is not public API)."""
    node = graph.get(key)
    specs = [graph.get_check_spec(check) for check in node.check_keys]

    @dg.asset(
        key=key,
        partitions_def=node.partitions_def,
        check_specs=[
            dg.AssetCheckSpec(s.name, asset=key, blocking=s.blocking, partitions_def=s.partitions_def)
            for s in specs
        ],
    )
    def recorded() -> dg.MaterializeResult:
        return dg.MaterializeResult(
            check_results=[
                dg.AssetCheckResult(check_name=s.name, passed=s.name not in failing) for s in specs
            ]
        )

    return recorded
