"""The node-pool catalogue: the single source of truth for the cluster's node sizes.

Op tags (``shared.k8s.op_tags``) size pods from these numbers and a later step generates the
node-pool manifests from them, so the catalogue is plain data: if the two drifted apart, pods would
either not fit on their nodes (stuck ``Pending``) or waste most of them.

Allocatable numbers follow the EKS AMI's kubelet settings, because requests larger than allocatable
can never be scheduled:

* kube-reserved CPU: 6 % of the first core, 1 % of the second, 0.5 % of cores 3-4, 0.25 % of the rest;
* kube-reserved memory: ``255Mi + 11Mi * max_pods`` (max pods from the VPC CNI's ``eni-max-pods.txt``);
* eviction threshold ``memory.available<100Mi``;
* the kernel and hypervisor keep part of the nominal EC2 memory away from the kubelet's capacity;
  we assume Karpenter's default ``vmMemoryOverheadPercent`` of 7.5 % so the figures stay pessimistic.

So ``allocatable_memory_gib = memory_gib * 0.925 - (255 + 11 * max_pods + 100) / 1024``, rounded down.
"""

import re
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from types import MappingProxyType
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

POOL_LABEL = "platform.water/pool"
"""Node label (and dedicated-pool taint key) naming the pool a node belongs to."""

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_MILLICORES_PER_CORE = 1000
_MIB_PER_GIB = 1024

TaintEffect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class UnknownNodePoolError(KeyError):
    """A pool name that is not in the catalogue, e.g. a typo in an op tag.

    A ``KeyError`` because it is a failed lookup; the message lists the known pools so the fix is
    obvious from the error alone.
    """

    def __init__(self, name: str, known: Mapping[str, "NodePool"]) -> None:
        super().__init__(name)
        self.name = name
        self.known = tuple(known)

    def __str__(self) -> str:
        """Plain message: ``KeyError`` would otherwise show the repr of its argument."""
        return f"unknown node pool {self.name!r}; known pools: {', '.join(self.known)}"


class Taint(BaseModel, frozen=True, extra="forbid"):
    """A node taint; pods must tolerate it to be scheduled on (or stay on) the pool's nodes."""

    key: str
    value: str
    effect: TaintEffect

    def toleration(self) -> dict[str, str]:
        """The Kubernetes toleration that matches exactly this taint.

        ``Equal`` rather than ``Exists`` so a pod tolerates only the pool it was sized for.
        """
        return {"key": self.key, "operator": "Equal", "value": self.value, "effect": self.effect}


class NodePool(BaseModel, frozen=True, extra="forbid"):
    """One node size: what the EC2 instance has and how much of it pods can actually request."""

    name: str
    instance_type: str
    cpu: float = Field(gt=0, description="vCPUs of the instance.")
    memory_gib: float = Field(gt=0, description="Nominal EC2 memory of the instance.")
    allocatable_cpu: float = Field(gt=0, description="Cores left after kube-reserved.")
    allocatable_memory_gib: float = Field(gt=0, description="Memory left after kube-reserved/eviction.")
    max_pods: int = Field(gt=0, description="Kubelet max pods; drives the kube-reserved memory.")
    gpus: int = Field(default=0, ge=0)
    gpu_type: str | None = None
    labels: dict[str, str]
    taints: tuple[Taint, ...] = ()
    daemonset_reserve_cpu: float = Field(
        default=0.2, ge=0, description="Cores kept for per-node daemons (CNI, kube-proxy, log shipper)."
    )
    daemonset_reserve_memory_gib: float = Field(default=0.5, ge=0)

    @field_validator("name")
    @classmethod
    def _name_is_dns_label(cls, name: str) -> str:
        """The name becomes a label value and part of resource names in the generated manifests."""
        if not _DNS_LABEL.fullmatch(name):
            raise ValueError(f"pool name {name!r} must be a lowercase DNS label (a-z, 0-9, '-')")
        return name

    @model_validator(mode="after")
    def _allocatable_within_capacity(self) -> "NodePool":
        """A node cannot hand out more than it has; a typo here would leave pods unschedulable."""
        if self.allocatable_cpu > self.cpu:
            raise ValueError(f"{self.name}: allocatable_cpu {self.allocatable_cpu} > cpu {self.cpu}")
        if self.allocatable_memory_gib > self.memory_gib:
            raise ValueError(
                f"{self.name}: allocatable_memory_gib {self.allocatable_memory_gib} > "
                f"memory_gib {self.memory_gib}"
            )
        return self

    @model_validator(mode="after")
    def _daemonsets_leave_room(self) -> "NodePool":
        """Jobs size themselves from what daemons leave over, which must be something."""
        if self.daemonset_reserve_cpu >= self.allocatable_cpu:
            raise ValueError(f"{self.name}: daemonset_reserve_cpu leaves no CPU for jobs")
        if self.daemonset_reserve_memory_gib >= self.allocatable_memory_gib:
            raise ValueError(f"{self.name}: daemonset_reserve_memory_gib leaves no memory for jobs")
        return self

    @model_validator(mode="after")
    def _labelled_with_own_name(self) -> "NodePool":
        """Op tags select nodes by this label, so it must name the pool itself."""
        if self.labels.get(POOL_LABEL) != self.name:
            raise ValueError(f"{self.name}: labels must contain {POOL_LABEL}: {self.name}")
        return self

    @model_validator(mode="after")
    def _gpu_type_matches_count(self) -> "NodePool":
        """A GPU count without a type (or the reverse) is a half-edited catalogue entry."""
        if (self.gpus > 0) != (self.gpu_type is not None):
            raise ValueError(f"{self.name}: gpu_type must be set exactly when gpus > 0")
        return self

    @property
    def schedulable_millicpu(self) -> int:
        """CPU jobs may request on one node: allocatable minus the daemonset reserve, in millicores."""
        return _floor_units(self.allocatable_cpu, self.daemonset_reserve_cpu, _MILLICORES_PER_CORE)

    @property
    def schedulable_memory_mib(self) -> int:
        """Memory jobs may request on one node: allocatable minus the daemonset reserve, in MiB."""
        return _floor_units(self.allocatable_memory_gib, self.daemonset_reserve_memory_gib, _MIB_PER_GIB)

    def tolerations(self) -> list[dict[str, str]]:
        """Kubernetes tolerations that let a pod onto this pool's nodes (and only because of them)."""
        return [taint.toleration() for taint in self.taints]


def _floor_units(total: float, reserved: float, units_per_whole: int) -> int:
    """``(total - reserved) * units_per_whole``, rounded down.

    Decimal on the floats' shortest repr, because binary floats would turn e.g. ``1.93 - 0.2`` into
    ``1.7299999...`` and lose a whole millicore/MiB at the floor. Rounding down keeps requests within
    what the node really has.
    """
    share = (Decimal(str(total)) - Decimal(str(reserved))) * units_per_whole
    return int(share.to_integral_value(rounding=ROUND_FLOOR))


def _catalogue(*pools: NodePool) -> Mapping[str, NodePool]:
    """Read-only name -> pool mapping, so no caller can resize the cluster at runtime."""
    return MappingProxyType({pool.name: pool for pool in pools})


NODE_POOLS: Mapping[str, NodePool] = _catalogue(
    # General-purpose default: untainted, so anything without a size tag runs here.
    NodePool(
        name="small",
        instance_type="m6i.large",
        cpu=2,
        memory_gib=8,
        allocatable_cpu=1.93,
        allocatable_memory_gib=6.74,
        max_pods=29,
        labels={POOL_LABEL: "small"},
    ),
    NodePool(
        name="medium",
        instance_type="m6i.2xlarge",
        cpu=8,
        memory_gib=32,
        allocatable_cpu=7.91,
        allocatable_memory_gib=28.63,
        max_pods=58,
        labels={POOL_LABEL: "medium"},
        taints=(Taint(key=POOL_LABEL, value="medium", effect="NoSchedule"),),
    ),
    NodePool(
        name="large",
        instance_type="m6i.4xlarge",
        cpu=16,
        memory_gib=64,
        allocatable_cpu=15.89,
        allocatable_memory_gib=56.33,
        max_pods=234,
        labels={POOL_LABEL: "large"},
        taints=(Taint(key=POOL_LABEL, value="large", effect="NoSchedule"),),
    ),
    NodePool(
        name="xlarge",
        instance_type="m6i.8xlarge",
        cpu=32,
        memory_gib=128,
        allocatable_cpu=31.85,
        allocatable_memory_gib=115.53,
        max_pods=234,
        labels={POOL_LABEL: "xlarge"},
        taints=(Taint(key=POOL_LABEL, value="xlarge", effect="NoSchedule"),),
    ),
    NodePool(
        name="memory-heavy",
        instance_type="r6i.4xlarge",
        cpu=16,
        memory_gib=128,
        allocatable_cpu=15.89,
        allocatable_memory_gib=115.53,
        max_pods=234,
        labels={POOL_LABEL: "memory-heavy"},
        taints=(Taint(key=POOL_LABEL, value="memory-heavy", effect="NoSchedule"),),
    ),
    # The NVIDIA device plugin and DCGM exporter run on every GPU node, hence the larger reserve.
    NodePool(
        name="gpu",
        instance_type="g5.2xlarge",
        cpu=8,
        memory_gib=32,
        allocatable_cpu=7.91,
        allocatable_memory_gib=28.63,
        max_pods=58,
        gpus=1,
        gpu_type="nvidia-a10g",
        labels={POOL_LABEL: "gpu"},
        taints=(
            Taint(key=POOL_LABEL, value="gpu", effect="NoSchedule"),
            Taint(key="nvidia.com/gpu", value="present", effect="NoSchedule"),
        ),
        daemonset_reserve_cpu=0.3,
        daemonset_reserve_memory_gib=1.0,
    ),
)


def get_pool(name: str) -> NodePool:
    """The pool called ``name``; raises :class:`UnknownNodePoolError` listing the known pools."""
    try:
        return NODE_POOLS[name]
    except KeyError:
        raise UnknownNodePoolError(name, NODE_POOLS) from None
