"""Kubernetes sizing for Dagster steps: the node-pool catalogue and the op tags derived from it."""

from shared.k8s.node_pools import (
    NODE_POOLS,
    POOL_LABEL,
    NodePool,
    Taint,
    TaintEffect,
    UnknownNodePoolError,
    get_pool,
)
from shared.k8s.op_tags import (
    DIVIDER_TAG,
    GPU_RESOURCE,
    K8S_CONFIG_TAG,
    SIZE_TAG,
    K8sOpTags,
    MissingSizeTagError,
    pool_of,
)

__all__ = [
    "DIVIDER_TAG",
    "GPU_RESOURCE",
    "K8S_CONFIG_TAG",
    "NODE_POOLS",
    "POOL_LABEL",
    "SIZE_TAG",
    "K8sOpTags",
    "MissingSizeTagError",
    "NodePool",
    "Taint",
    "TaintEffect",
    "UnknownNodePoolError",
    "get_pool",
    "pool_of",
]
