"""Generate ``helm/node-pools.yaml`` (an eksctl ``ClusterConfig``) from the node-pool catalogue.

The catalogue in :mod:`shared.k8s.node_pools` is the one source of truth: op tags size pods from it and
this module writes the node groups those pods land on (instance type, pool label, taints, max pods), so
the two cannot drift. ``python -m shared.k8s.node_pool_manifest > helm/node-pools.yaml`` regenerates
it; a test fails when the committed file differs.
"""

from collections.abc import Mapping
from typing import Any

import yaml

from shared.k8s.node_pools import NODE_POOLS, NodePool

HEADER = (
    "# Generated from shared/k8s/node_pools.py by `python -m shared.k8s.node_pool_manifest`; do not edit.\n"
    "# Create with: eksctl create nodegroup -f helm/node-pools.yaml (cluster name/region: set yours).\n"
)

ALWAYS_ON = {"small": 1}
"""Pools that keep nodes when idle: the webserver, daemon and code servers live on ``small``."""

MAX_NODES = 10


def node_group(pool: NodePool) -> dict[str, Any]:
    """One eksctl managed node group for ``pool``; idle pools scale to zero."""
    group: dict[str, Any] = {
        "name": pool.name,
        "instanceType": pool.instance_type,
        "minSize": ALWAYS_ON.get(pool.name, 0),
        "maxSize": MAX_NODES,
        "desiredCapacity": ALWAYS_ON.get(pool.name, 0),
        "maxPodsPerNode": pool.max_pods,
        "labels": dict(pool.labels),
        # the autoscaler reads labels and taints from ASG tags to scale a pool up from zero nodes
        "propagateASGTags": True,
    }
    if pool.taints:
        group["taints"] = [{"key": t.key, "value": t.value, "effect": t.effect} for t in pool.taints]
    return group


def cluster_config(pools: Mapping[str, NodePool] = NODE_POOLS) -> dict[str, Any]:
    return {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": "water-platform", "region": "eu-central-1"},
        "managedNodeGroups": [node_group(pool) for pool in pools.values()],
    }


def render(pools: Mapping[str, NodePool] = NODE_POOLS) -> str:
    """The manifest text, exactly as committed."""
    return HEADER + yaml.safe_dump(cluster_config(pools), sort_keys=False)


if __name__ == "__main__":
    print(render(), end="")
