"""Generate ``helm/node-pools.yaml`` (an eksctl ``ClusterConfig``) from the node-pool catalogue.

The catalogue in :mod:`shared.k8s.node_pools` is the one source of truth: op tags size pods from it and
this module writes the node groups those pods land on (instance type, pool label, taints, max pods), so
the two cannot drift. ``python -m shared.k8s.node_pool_manifest > helm/node-pools.yaml`` regenerates
it (a test fails when the committed file differs); ``--cluster`` and ``--region`` render it for a real
cluster instead of editing the generated file.
"""

import argparse
from collections.abc import Mapping
from typing import Any

import yaml

from shared.k8s.node_pools import NODE_POOLS, NodePool

HEADER = (
    "# Generated from shared/k8s/node_pools.py by `python -m shared.k8s.node_pool_manifest`; do not edit.\n"
    "# Your cluster: python -m shared.k8s.node_pool_manifest --cluster NAME --region REGION > pools.yaml\n"
    "# then: eksctl create nodegroup -f pools.yaml\n"
)
DEFAULT_CLUSTER, DEFAULT_REGION = "water-platform", "eu-central-1"

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


def cluster_config(
    pools: Mapping[str, NodePool] = NODE_POOLS, cluster: str = DEFAULT_CLUSTER, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    """An eksctl ``ClusterConfig`` holding one managed node group per pool."""
    return {
        "apiVersion": "eksctl.io/v1alpha5",
        "kind": "ClusterConfig",
        "metadata": {"name": cluster, "region": region},
        "managedNodeGroups": [node_group(pool) for pool in pools.values()],
    }


def render(cluster: str = DEFAULT_CLUSTER, region: str = DEFAULT_REGION) -> str:
    """The manifest text; with the defaults, exactly as committed in ``helm/node-pools.yaml``."""
    return HEADER + yaml.safe_dump(cluster_config(NODE_POOLS, cluster, region), sort_keys=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cluster", default=DEFAULT_CLUSTER, help="the EKS cluster's name")
    parser.add_argument("--region", default=DEFAULT_REGION, help="the cluster's AWS region")
    args = parser.parse_args()
    print(render(args.cluster, args.region), end="")


if __name__ == "__main__":
    main()
