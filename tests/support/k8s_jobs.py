"""Build the Kubernetes Job dagster-k8s would launch for a step, and check it fits its node pool.

No cluster here, so the job is built by dagster-k8s's own code: a real ``K8sRunLauncher`` configured from
the Helm values (as the chart renders them into the instance), its ``K8sContainerContext`` merged with the
step's op tags the way ``k8s_job_executor`` merges them, then ``construct_dagster_k8s_job``.
"""

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from shared.k8s import GPU_RESOURCE, NodePool, pool_of

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:6443"}}]
users: [{name: offline, user: {token: not-used}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
"""


class PodSizingError(AssertionError):
    """A step's pod does not match the node pool its size tag names."""


def run_launcher(values: Mapping[str, Any], workdir: Path) -> Any:
    """``K8sRunLauncher`` with the ``runLauncher.config.k8sRunLauncher`` values, as the chart passes them.

    A kubeconfig for an unreachable server satisfies the client's start-up; nothing connects.
    """
    from dagster_k8s import K8sRunLauncher

    config = values["runLauncher"]["config"]["k8sRunLauncher"]
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return K8sRunLauncher(
        service_account_name=values["serviceAccount"]["name"],
        instance_config_map="dagster-instance",
        postgres_password_secret=values["global"]["postgresqlSecretName"],
        dagster_home="/opt/dagster/dagster_home",
        job_image=None,
        load_incluster_config=False,
        kubeconfig_file=str(kubeconfig),
        image_pull_policy=config.get("imagePullPolicy"),
        env_config_maps=[entry["name"] for entry in config.get("envConfigMaps", [])],
        env_secrets=[entry["name"] for entry in config.get("envSecrets", [])],
        env_vars=config.get("envVars", []),
        labels=config.get("labels", {}),
        security_context=config.get("securityContext"),
        run_k8s_config=_snake_case_keys(config.get("runK8sConfig", {})),
    )


RELEASE, NAMESPACE = "dagster", "water-platform"


def location_run(values: Mapping[str, Any], location: str) -> Any:
    """A run of ``location``'s asset job carrying the container context the chart gives the location
    (``includeConfigInLaunchedRuns``: its image, env, config maps and resources reach run and step pods),
    written as the chart's ``dagsterUserDeployments.k8sContainerContext`` template writes it."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun

    (deployment,) = [d for d in values["dagster-user-deployments"]["deployments"] if d["name"] == location]
    context = {
        "image_pull_policy": deployment["image"]["pullPolicy"],
        "env_config_maps": [f"{RELEASE}-{location}-user-env"]
        + [entry["name"] for entry in deployment.get("envConfigMaps", [])],
        "env_secrets": [entry["name"] for entry in deployment.get("envSecrets", [])],
        "resources": deployment.get("resources", {}),
        "namespace": NAMESPACE,
        "service_account_name": values["global"]["serviceAccountName"],
        "env": deployment.get("env", []),
    }
    module = deployment["dagsterApiGrpcArgs"][-1]
    included = deployment.get("includeConfigInLaunchedRuns", {}).get("enabled", True)
    repository = RepositoryPythonOrigin(
        executable_path="/app/.venv/bin/python",
        code_pointer=ModuleCodePointer(module, "defs", working_directory=None),
        container_image=f"{deployment['image']['repository']}:{deployment['image']['tag']}",
        container_context={"k8s": context} if included else None,
    )
    return DagsterRun(
        job_name="__ASSET_JOB",
        run_id="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
        job_code_origin=JobPythonOrigin("__ASSET_JOB", repository),
    )


def run_job(launcher: Any, run: Any) -> dict[str, Any]:
    """The serialised Job of the run pod, built like ``K8sRunLauncher.launch_run`` builds it."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id

    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=True)
    image = run.job_code_origin.repository_origin.container_image
    job_name = get_job_name_from_run_id(run.run_id)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(image, launcher),
        args=["dagster", "api", "execute_run"],
        job_name=job_name,
        pod_name=job_name,
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id},
    )
    return _serialised(job)


def step_job(launcher: Any, run: Any, tags: Mapping[str, Any], step_key: str) -> dict[str, Any]:
    """The serialised Job of one step, built like ``k8s_job_executor.launch_step`` builds it."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job, get_k8s_job_name, get_user_defined_k8s_config

    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False)
    # Dagster stores op tags as strings (JSON for dicts); raw K8sOpTags are stored the same way here
    stored = {name: value if isinstance(value, str) else json.dumps(value) for name, value in tags.items()}
    context = context.merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(stored)))
    job_name = f"dagster-step-{get_k8s_job_name(run.run_id, step_key)}"
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(
            run.job_code_origin.repository_origin.container_image, launcher
        ),
        args=["dagster", "api", "execute_step"],
        job_name=job_name,
        pod_name=job_name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/op": step_key, "dagster/run-id": run.run_id},
        env_vars=[{"name": "DAGSTER_RUN_STEP_KEY", "value": step_key}],
    )
    return _serialised(job)


def _serialised(job: Any) -> dict[str, Any]:
    from kubernetes.client import ApiClient

    return ApiClient().sanitize_for_serialization(job)  # type: ignore[no-any-return]


def check_pod_fits(job: Mapping[str, Any], tags: Mapping[str, Any], step: str) -> NodePool:
    """Raise :class:`PodSizingError` naming the step unless its pod targets, tolerates and fits its pool."""
    from kubernetes.utils import parse_quantity

    pool = pool_of(tags)
    pod = job["spec"]["template"]["spec"]
    where = f"step {step!r} (pool {pool.name!r}, {pool.instance_type})"
    selector = pod.get("nodeSelector", {})
    if any(selector.get(label) != value for label, value in pool.labels.items()):
        raise PodSizingError(f"{where}: node selector {selector} does not select the pool {pool.labels}")
    tolerations = pod.get("tolerations", [])
    for toleration in pool.tolerations():
        if toleration not in tolerations:
            raise PodSizingError(f"{where}: does not tolerate the pool's taint {toleration}")
    (container,) = pod["containers"]
    requests = container.get("resources", {}).get("requests", {})
    limits = container.get("resources", {}).get("limits", {})
    capacity = {
        "cpu": Decimal(pool.schedulable_millicpu) / 1000,
        "memory": Decimal(pool.schedulable_memory_mib) * 1024 * 1024,
    }
    for resource, available in capacity.items():
        if resource not in requests:
            raise PodSizingError(f"{where}: no {resource} request")
        if parse_quantity(requests[resource]) > available:
            raise PodSizingError(
                f"{where}: requests {resource} {requests[resource]}, more than the node's schedulable "
                f"{available if resource == 'cpu' else f'{pool.schedulable_memory_mib}Mi'}"
            )
    gpus = int(parse_quantity(limits.get(GPU_RESOURCE, "0")))
    if pool.gpus and not (1 <= gpus <= pool.gpus and requests.get(GPU_RESOURCE) == limits[GPU_RESOURCE]):
        raise PodSizingError(
            f"{where}: a GPU pool step needs 1..{pool.gpus} {GPU_RESOURCE} (limit = request)"
        )
    if not pool.gpus and gpus:
        raise PodSizingError(f"{where}: asks for {gpus} {GPU_RESOURCE} on a pool without GPUs")
    return pool


def _snake_case_keys(config: Mapping[str, Any]) -> dict[str, Any]:
    """The chart writes ``runK8sConfig`` keys in camelCase; dagster-k8s accepts its own snake_case names."""
    names = {
        "containerConfig": "container_config",
        "podSpecConfig": "pod_spec_config",
        "podTemplateSpecMetadata": "pod_template_spec_metadata",
        "jobSpecConfig": "job_spec_config",
        "jobMetadata": "job_metadata",
    }
    return {names.get(key, key): value for key, value in config.items()}
