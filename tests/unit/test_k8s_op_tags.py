"""K8s op tags: sizes derived from the node-pool catalogue, and dagster-k8s really applies them."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from dagster import asset
from dagster_k8s.job import (
    DagsterK8sJobConfig,
    UserDefinedDagsterK8sConfig,
    construct_dagster_k8s_job,
    get_user_defined_k8s_config,
)
from pydantic import ValidationError

from shared.k8s import (
    DIVIDER_TAG,
    GPU_RESOURCE,
    K8S_CONFIG_TAG,
    NODE_POOLS,
    POOL_LABEL,
    SIZE_TAG,
    K8sOpTags,
    MissingSizeTagError,
    NodePool,
    Taint,
    UnknownNodePoolError,
    get_pool,
    pool_of,
)

SIZES: list[tuple[Callable[..., dict[str, Any]], str]] = [
    (K8sOpTags.small, "small"),
    (K8sOpTags.medium, "medium"),
    (K8sOpTags.large, "large"),
    (K8sOpTags.xlarge, "xlarge"),
    (K8sOpTags.memory_heavy, "memory-heavy"),
    (K8sOpTags.gpu, "gpu"),
]
CPU_POOLS = [name for name, pool in NODE_POOLS.items() if not pool.gpus]


def _config(tags: dict[str, Any]) -> dict[str, Any]:
    return tags[K8S_CONFIG_TAG]


def _resources(tags: dict[str, Any]) -> dict[str, dict[str, str]]:
    return _config(tags)["container_config"]["resources"]


def _millicores(quantity: str) -> int:
    assert quantity.endswith("m"), quantity
    return int(quantity[:-1])


def _mib(quantity: str) -> int:
    assert quantity.endswith("Mi"), quantity
    return int(quantity[:-2])


def _pool_kwargs(**overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "name": "test",
        "instance_type": "m6i.large",
        "cpu": 2,
        "memory_gib": 8,
        "allocatable_cpu": 1.93,
        "allocatable_memory_gib": 6.74,
        "max_pods": 29,
        "labels": {POOL_LABEL: "test"},
    }
    return kwargs | overrides


# --- sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_each_size_selects_its_pool_and_tolerates_its_taints(factory, pool_name):
    pool = NODE_POOLS[pool_name]
    tags = factory()

    pod_spec = _config(tags)["pod_spec_config"]
    assert pod_spec["node_selector"] == pool.labels
    assert pod_spec["tolerations"] == [
        {"key": t.key, "operator": "Equal", "value": t.value, "effect": t.effect} for t in pool.taints
    ]
    assert tags[SIZE_TAG] == pool_name
    assert tags[DIVIDER_TAG] == "1"


@pytest.mark.parametrize(
    ("factory", "pool_name", "divider"),
    [
        (factory, pool_name, divider)
        for factory, pool_name in SIZES
        for divider in range(1, 5)
        if divider <= (NODE_POOLS[pool_name].gpus or divider)
    ],
)
def test_requests_are_the_schedulable_share(factory, pool_name, divider):
    pool = NODE_POOLS[pool_name]
    resources = _resources(factory(divider=divider))

    requests, limits = resources["requests"], resources["limits"]
    assert _millicores(requests["cpu"]) == pool.schedulable_millicpu // divider
    assert _mib(requests["memory"]) == pool.schedulable_memory_mib // divider
    assert limits["memory"] == requests["memory"]
    assert _millicores(limits["cpu"]) == pool.schedulable_millicpu
    # `divider` such jobs fit on one node next to the daemonsets.
    assert divider * _millicores(requests["cpu"]) <= pool.schedulable_millicpu
    assert divider * _mib(requests["memory"]) <= pool.schedulable_memory_mib


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_requests_and_limits_never_exceed_allocatable(factory, pool_name):
    pool = NODE_POOLS[pool_name]
    resources = _resources(factory())

    for quantities in (resources["requests"], resources["limits"]):
        assert _millicores(quantities["cpu"]) <= pool.allocatable_cpu * 1000
        assert _mib(quantities["memory"]) <= pool.allocatable_memory_gib * 1024


@pytest.mark.parametrize("pool_name", CPU_POOLS)
def test_divider_two_halves_requests(pool_name):
    whole = _resources(K8sOpTags.for_pool(pool_name))["requests"]
    half = _resources(K8sOpTags.for_pool(pool_name, divider=2))

    assert _millicores(half["requests"]["cpu"]) == _millicores(whole["cpu"]) // 2
    assert _mib(half["requests"]["memory"]) == _mib(whole["memory"]) // 2
    assert half["limits"]["memory"] == half["requests"]["memory"]
    assert GPU_RESOURCE not in half["requests"]
    assert GPU_RESOURCE not in half["limits"]


def test_shares_are_exact_despite_binary_floats():
    # 1.93 - 0.2 is 1.7299999... in binary floating point; the share must still be 1730m.
    assert NODE_POOLS["small"].schedulable_millicpu == 1730
    assert NODE_POOLS["small"].schedulable_memory_mib == int((6.74 - 0.5) * 1024)


def test_gpu_takes_the_whole_gpu_and_tolerates_the_gpu_taint():
    tags = K8sOpTags.gpu()
    resources = _resources(tags)

    assert resources["limits"][GPU_RESOURCE] == "1"
    assert resources["requests"][GPU_RESOURCE] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"} in (
        _config(tags)["pod_spec_config"]["tolerations"]
    )


def test_gpu_divider_larger_than_gpu_count_raises():
    with pytest.raises(ValueError, match="GPU cannot be split"):
        K8sOpTags.gpu(divider=2)


@pytest.mark.parametrize("divider", [0, -1])
def test_divider_below_one_raises(divider):
    with pytest.raises(ValueError, match="divider must be >= 1"):
        K8sOpTags.large(divider=divider)


def test_unknown_pool_raises_listing_known_pools():
    with pytest.raises(UnknownNodePoolError) as excinfo:
        K8sOpTags.for_pool("huge")

    assert isinstance(excinfo.value, KeyError)
    message = str(excinfo.value)
    assert "'huge'" in message
    for name in NODE_POOLS:
        assert name in message


def test_returned_tags_do_not_share_state_with_the_catalogue():
    tags = K8sOpTags.medium()
    _config(tags)["pod_spec_config"]["node_selector"]["extra"] = "x"
    _config(tags)["pod_spec_config"]["tolerations"].clear()

    assert NODE_POOLS["medium"].labels == {POOL_LABEL: "medium"}
    assert _config(K8sOpTags.medium())["pod_spec_config"]["tolerations"]


# --- env ---------------------------------------------------------------------------------------


def test_env_passes_into_container_config():
    tags = K8sOpTags.large(env={"GDAL_CACHEMAX": "2048", "GDAL_NUM_THREADS": "ALL_CPUS"})

    assert _config(tags)["container_config"]["env"] == [
        {"name": "GDAL_CACHEMAX", "value": "2048"},
        {"name": "GDAL_NUM_THREADS", "value": "ALL_CPUS"},
    ]


@pytest.mark.parametrize("env", [None, {}])
def test_no_env_key_without_env(env):
    assert "env" not in _config(K8sOpTags.small(env=env))["container_config"]


@pytest.mark.parametrize(
    "name", ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "DB_PASSWORD", "github_token", "MySecret"]
)
def test_secret_like_env_name_raises(name):
    with pytest.raises(ValueError, match="Kubernetes secrets"):
        K8sOpTags.small(env={name: "x"})


@pytest.mark.parametrize("name", ["GDAL_CACHEMAX", "S3_KEY_PREFIX", "CPL_VSIL_CURL_ALLOWED_EXTENSIONS"])
def test_non_secret_env_names_pass(name):
    assert _config(K8sOpTags.small(env={name: "x"}))["container_config"]["env"] == [
        {"name": name, "value": "x"}
    ]


# --- serialisation and dagster-k8s -------------------------------------------------------------


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_tags_survive_a_json_round_trip(factory, pool_name):
    tags = factory(env={"GDAL_CACHEMAX": "512"})

    assert json.loads(json.dumps(tags)) == tags


def _dagster_step_tags(op_tags: dict[str, Any]) -> dict[str, str]:
    """The op tags as Dagster stores them on the step: non-string values JSON-encoded."""

    @asset(op_tags=op_tags)
    def sized_asset() -> None: ...

    return dict(sized_asset.op.tags)


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_dagster_k8s_parses_the_tags(factory, pool_name):
    tags = factory(env={"GDAL_CACHEMAX": "512"})

    config = get_user_defined_k8s_config(_dagster_step_tags(tags))

    assert isinstance(config, UserDefinedDagsterK8sConfig)
    assert config.pod_spec_config["node_selector"] == NODE_POOLS[pool_name].labels
    assert config.pod_spec_config["tolerations"] == NODE_POOLS[pool_name].tolerations()
    assert config.container_config["resources"] == _resources(tags)


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_dagster_k8s_builds_a_job_pod_with_the_tags(factory, pool_name):
    """End to end through dagster-k8s's own Job construction (real Kubernetes client models)."""
    tags = factory(env={"GDAL_CACHEMAX": "512"})
    config = get_user_defined_k8s_config(_dagster_step_tags(tags))

    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image="water/platform:test"),
        args=None,
        job_name="step",
        user_defined_k8s_config=config,
    )

    pod_spec = job.spec.template.spec
    (container,) = pod_spec.containers
    assert pod_spec.node_selector == NODE_POOLS[pool_name].labels
    assert [
        {"key": t.key, "operator": t.operator, "value": t.value, "effect": t.effect}
        for t in pod_spec.tolerations or []
    ] == NODE_POOLS[pool_name].tolerations()
    assert container.resources.requests == _resources(tags)["requests"]
    assert container.resources.limits == _resources(tags)["limits"]
    assert {"name": "GDAL_CACHEMAX", "value": "512"} in [
        {"name": e.name, "value": e.value} for e in container.env
    ]


@pytest.mark.parametrize(("factory", "pool_name"), SIZES)
def test_pool_of_reads_the_size_back(factory, pool_name):
    tags = factory()

    assert pool_of(tags) is NODE_POOLS[pool_name]
    assert pool_of(_dagster_step_tags(tags)) is NODE_POOLS[pool_name]


def test_pool_of_without_size_tag_raises():
    with pytest.raises(MissingSizeTagError, match=SIZE_TAG):
        pool_of({"dagster/priority": "1"})


# --- catalogue ---------------------------------------------------------------------------------


def test_catalogue_has_the_expected_instance_types():
    assert {name: pool.instance_type for name, pool in NODE_POOLS.items()} == {
        "small": "m6i.large",
        "medium": "m6i.2xlarge",
        "large": "m6i.4xlarge",
        "xlarge": "m6i.8xlarge",
        "memory-heavy": "r6i.4xlarge",
        "gpu": "g5.2xlarge",
    }
    assert (NODE_POOLS["gpu"].gpus, NODE_POOLS["gpu"].gpu_type) == (1, "nvidia-a10g")


def test_catalogue_is_keyed_by_pool_name_and_read_only():
    assert all(name == pool.name for name, pool in NODE_POOLS.items())
    assert get_pool("large") is NODE_POOLS["large"]
    with pytest.raises(TypeError):
        NODE_POOLS["huge"] = NODE_POOLS["large"]  # type: ignore[index]


def test_only_small_is_untainted():
    assert NODE_POOLS["small"].taints == ()
    for name, pool in NODE_POOLS.items():
        if name != "small":
            assert Taint(key=POOL_LABEL, value=name, effect="NoSchedule") in pool.taints


def _eks_kube_reserved_millicores(cpus: float) -> float:
    """EKS AMI: 6% of the first core, 1% of the second, 0.5% of cores 3-4, 0.25% of the rest."""
    return 60 + 10 * min(max(cpus - 1, 0), 1) + 5 * min(max(cpus - 2, 0), 2) + 2.5 * max(cpus - 4, 0)


@pytest.mark.parametrize("pool", NODE_POOLS.values(), ids=list(NODE_POOLS))
def test_allocatable_is_no_more_than_eks_leaves(pool):
    reserved_memory_mib = 255 + 11 * pool.max_pods + 100  # kube-reserved + eviction threshold

    assert pool.allocatable_cpu * 1000 <= pool.cpu * 1000 - _eks_kube_reserved_millicores(pool.cpu)
    assert pool.allocatable_memory_gib * 1024 <= pool.memory_gib * 1024 - reserved_memory_mib


@pytest.mark.parametrize(
    "overrides",
    [
        {"allocatable_cpu": 2.5},
        {"allocatable_memory_gib": 9},
    ],
    ids=["cpu", "memory"],
)
def test_catalogue_validation_rejects_allocatable_above_capacity(overrides):
    with pytest.raises(ValidationError, match="allocatable"):
        NodePool(**_pool_kwargs(**overrides))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": "Big_Pool", "labels": {POOL_LABEL: "Big_Pool"}}, "DNS label"),
        ({"labels": {POOL_LABEL: "other"}}, POOL_LABEL),
        ({"labels": {}}, POOL_LABEL),
        ({"gpus": 1}, "gpu_type"),
        ({"gpu_type": "nvidia-a10g"}, "gpu_type"),
        ({"daemonset_reserve_cpu": 2}, "no CPU"),
        ({"daemonset_reserve_memory_gib": 7}, "no memory"),
        ({"taints": ({"key": "k", "value": "v", "effect": "Sometimes"},)}, "effect"),
    ],
)
def test_catalogue_validation_rejects_inconsistent_pools(overrides, message):
    with pytest.raises(ValidationError, match=message):
        NodePool(**_pool_kwargs(**overrides))


def test_a_valid_pool_builds():
    pool = NodePool(**_pool_kwargs())

    assert pool.schedulable_millicpu == 1730
    assert pool.tolerations() == []
