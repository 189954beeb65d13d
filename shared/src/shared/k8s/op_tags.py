"""Kubernetes sizing of Dagster assets, expressed as op tags.

``@asset(op_tags=K8sOpTags.large(divider=2))`` puts a ``dagster-k8s/config`` tag on the step;
dagster-k8s's ``k8s_job_executor`` (and ``K8sRunLauncher``) turn it into the step pod's node selector,
tolerations and resources. Sizes are derived from the node-pool catalogue rather than written by
hand, so a request always fits on the node it targets: ``divider=n`` means "n such jobs share one
node".
"""

import re
from collections.abc import Mapping
from typing import Any

from shared.k8s.node_pools import NodePool, get_pool

K8S_CONFIG_TAG = "dagster-k8s/config"
"""The tag dagster-k8s reads (``dagster_k8s.job.USER_DEFINED_K8S_CONFIG_KEY``)."""

SIZE_TAG = "platform.water/size"
"""Names the pool a step was sized for, so sensors/reports can read it back without parsing resources."""

DIVIDER_TAG = "platform.water/divider"
"""How many such steps share one node (a string: plain tag values should be strings)."""

GPU_RESOURCE = "nvidia.com/gpu"
"""Extended resource advertised by the NVIDIA device plugin."""

_SECRET_LIKE_NAME = re.compile(r"(SECRET|PASSWORD|TOKEN|ACCESS_KEY)")


class MissingSizeTagError(LookupError):
    """Tags that carry no :data:`SIZE_TAG`, i.e. were not produced by :class:`K8sOpTags`."""


class K8sOpTags:
    """Op-tag factories, one per node pool.

    Each returns a fresh, JSON-serialisable dict (Dagster stores tags as JSON and rejects values that
    do not survive a round trip), so callers may extend it with their own tags.
    """

    @classmethod
    def for_pool(cls, pool: str, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Tags that place a step on ``pool`` and give it ``1/divider`` of a node.

        Memory is requested and limited at the same value: memory is never overcommitted, so
        neighbours cannot OOM each other and an OOM kill is the job's own doing. CPU is requested at
        the share but limited at the whole schedulable node, so a job may burst into CPU that its
        neighbours leave idle (CPU contention only slows down, it never kills).

        ``env`` holds plain, non-secret settings (e.g. ``GDAL_CACHEMAX``); it is omitted when empty.
        """
        node_pool = get_pool(pool)
        _check_divider(node_pool, divider)
        container_config: dict[str, Any] = {"resources": _resources(node_pool, divider)}
        if env:
            container_config["env"] = _env_vars(env)
        return {
            K8S_CONFIG_TAG: {
                "container_config": container_config,
                "pod_spec_config": _placement(node_pool),
            },
            SIZE_TAG: node_pool.name,
            DIVIDER_TAG: str(divider),
        }

    @classmethod
    def small(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A share of a ``small`` (m6i.large) node: light glue and bookkeeping steps."""
        return cls.for_pool("small", divider, env)

    @classmethod
    def medium(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A share of a ``medium`` (m6i.2xlarge) node."""
        return cls.for_pool("medium", divider, env)

    @classmethod
    def large(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A share of a ``large`` (m6i.4xlarge) node."""
        return cls.for_pool("large", divider, env)

    @classmethod
    def xlarge(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A share of an ``xlarge`` (m6i.8xlarge) node: wide parallel raster work."""
        return cls.for_pool("xlarge", divider, env)

    @classmethod
    def memory_heavy(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A share of a ``memory-heavy`` (r6i.4xlarge, 8 GiB per core) node: large in-memory joins."""
        return cls.for_pool("memory-heavy", divider, env)

    @classmethod
    def gpu(cls, divider: int = 1, env: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A ``gpu`` (g5.2xlarge, one A10G) node; it has one GPU, so only ``divider=1`` is valid."""
        return cls.for_pool("gpu", divider, env)


def pool_of(tags: Mapping[str, Any]) -> NodePool:
    """The pool that ``tags`` (from :class:`K8sOpTags`, raw or as Dagster stored them) size for."""
    try:
        name = tags[SIZE_TAG]
    except KeyError:
        raise MissingSizeTagError(
            f"tags have no {SIZE_TAG!r} tag; size the op with K8sOpTags (e.g. op_tags=K8sOpTags.small())"
        ) from None
    return get_pool(name)


def _check_divider(pool: NodePool, divider: int) -> None:
    """Reject dividers that cannot describe a share of one node."""
    if divider < 1:
        raise ValueError(f"divider must be >= 1 (jobs per node), got {divider}")
    if pool.gpus and divider > pool.gpus:
        raise ValueError(
            f"divider {divider} exceeds the {pool.gpus} GPU(s) of a {pool.name!r} node; a GPU cannot be split"
        )


def _resources(pool: NodePool, divider: int) -> dict[str, dict[str, str]]:
    """Container requests/limits for ``1/divider`` of ``pool``, rounded down to whole m/Mi."""
    memory = f"{pool.schedulable_memory_mib // divider}Mi"
    requests = {"cpu": f"{pool.schedulable_millicpu // divider}m", "memory": memory}
    limits = {"cpu": f"{pool.schedulable_millicpu}m", "memory": memory}
    if pool.gpus:
        # Extended resources are not overcommittable: Kubernetes requires requests == limits.
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(pool.gpus // divider)
    return {"requests": requests, "limits": limits}


def _placement(pool: NodePool) -> dict[str, Any]:
    """Pod-spec fields that pin the pod to ``pool``: select its label and tolerate its taints.

    Copies, so that mutating returned tags can never alter the catalogue.
    """
    return {"node_selector": dict(pool.labels), "tolerations": pool.tolerations()}


def _env_vars(env: Mapping[str, str]) -> list[dict[str, str]]:
    """Kubernetes ``env`` entries for plain settings.

    Op tags are stored in clear text in the run storage and shown in the Dagster UI, so anything
    secret-looking is refused: secrets come from Kubernetes secrets (``env_secrets`` /
    ``secretKeyRef``), not op tags.
    """
    for name in env:
        if _SECRET_LIKE_NAME.search(name.upper()):
            raise ValueError(
                f"env var {name!r} looks like a secret; secrets come from Kubernetes secrets "
                "(env_secrets / secretKeyRef), not op tags, which Dagster shows in plain text"
            )
    return [{"name": name, "value": value} for name, value in env.items()]
