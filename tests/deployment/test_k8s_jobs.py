"""The Kubernetes Job of every asset step, as dagster-k8s builds it under the Helm values, is valid
Kubernetes and lands on (and fits) the node pool its size tag names."""

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import dagster as dg
import kubernetes_validate
import pytest

from shared.k8s import GPU_RESOURCE, SIZE_TAG, K8sOpTags, UnknownNodePoolError
from tests.support.k8s_jobs import (
    PodSizingError,
    check_pod_fits,
    location_run,
    run_job,
    run_launcher,
    step_job,
)

KUBERNETES_VERSION = "1.31.0"


def steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(location, step, op tags) of every asset and check node of both code locations."""
    from discharge_model.definitions import defs as discharge_defs
    from landing_zone.definitions import defs as landing_defs

    for location, defs in (("landing-zone", landing_defs), ("discharge-model", discharge_defs)):
        nodes = [*(defs.assets or []), *(defs.asset_checks or [])]
        for node in nodes:
            if isinstance(node, dg.AssetsDefinition | dg.AssetChecksDefinition) and node.is_executable:
                yield location, node.node_def.name, dict(node.node_def.tags)


STEPS = sorted(steps())


@pytest.fixture(scope="module")
def launcher(values, tmp_path_factory):
    return run_launcher(values, tmp_path_factory.mktemp("kube"))


def deployment_of(values: dict[str, Any], location: str) -> dict[str, Any]:
    (deployment,) = [d for d in values["dagster-user-deployments"]["deployments"] if d["name"] == location]
    return deployment


def image_of(values: dict[str, Any], location: str) -> str:
    deployment = deployment_of(values, location)
    return f"{deployment['image']['repository']}:{deployment['image']['tag']}"


def test_both_locations_have_steps():
    locations = {location for location, _, _ in STEPS}
    assert locations == {"landing-zone", "discharge-model"} and len(STEPS) >= 20


@pytest.mark.parametrize(("location", "step", "tags"), STEPS, ids=[f"{loc}:{step}" for loc, step, _ in STEPS])
def test_every_step_job_is_valid_kubernetes_and_fits_its_pool(launcher, values, location, step, tags):
    assert SIZE_TAG in tags, f"{location}:{step} has no explicit size tag"
    job = step_job(launcher, location_run(values, location), tags, step)
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    pool = check_pod_fits(job, tags, step)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image_of(values, location)
    assert pod["serviceAccountName"] == values["serviceAccount"]["name"]
    assert job["spec"]["ttlSecondsAfterFinished"] == 86400, "the launcher's job spec reaches step jobs"
    assert pod["nodeSelector"] == pool.labels, "the op tag's pool replaces the run pod's small pool"
    assert container["securityContext"]["runAsNonRoot"]
    env = {entry["name"]: entry.get("value") for entry in container["env"]}
    assert env["PLATFORM_ENV"] == "production"
    assert not any("SECRET" in name or "PASSWORD" in name for name, value in env.items() if value)


@pytest.mark.parametrize("location", ["landing-zone", "discharge-model"])
def test_the_run_pod_orchestrates_on_the_small_pool_with_the_location_image_and_resources(
    launcher, values, location
):
    job = run_job(launcher, location_run(values, location))
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image_of(values, location)
    assert pod["nodeSelector"] == {"platform.water/pool": "small"} and not pod.get("tolerations")
    assert container["resources"] == deployment_of(values, location)["resources"]
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["runAsNonRoot"]
    env_from = {source["configMapRef"]["name"] for source in container["envFrom"] if "configMapRef" in source}
    assert {"water-platform-env", f"dagster-{location}-user-env"} <= env_from
    assert {"name": "PLATFORM_ENV", "value": "production"} in container["env"]


def test_a_gpu_step_gets_the_gpu_pool_and_one_gpu(launcher, values):
    tags = K8sOpTags.gpu()
    job = step_job(launcher, location_run(values, "discharge-model"), tags, "train_lstm")
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    pool = check_pod_fits(job, tags, "train_lstm")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert pool.name == "gpu"
    assert (
        container["resources"]["limits"][GPU_RESOURCE]
        == container["resources"]["requests"][GPU_RESOURCE]
        == "1"
    )
    tolerated = {(t["key"], t["value"]) for t in job["spec"]["template"]["spec"]["tolerations"]}
    assert ("nvidia.com/gpu", "present") in tolerated


def test_an_unknown_pool_fails_naming_the_known_ones(launcher, values):
    tags = {**K8sOpTags.small(), SIZE_TAG: "huge"}
    job = step_job(launcher, location_run(values, "landing-zone"), tags, "some_asset")
    with pytest.raises(UnknownNodePoolError, match=r"huge.*small"):
        check_pod_fits(job, tags, "some_asset")


def test_a_request_above_the_node_capacity_fails_with_the_numbers(launcher, values):
    tags = K8sOpTags.medium()
    config = tags["dagster-k8s/config"]["container_config"]
    config["resources"]["requests"]["memory"] = "64Gi"
    job = step_job(launcher, location_run(values, "landing-zone"), tags, "too_big")
    with pytest.raises(PodSizingError, match=r"'too_big' \(pool 'medium'.*requests memory 64Gi, more than"):
        check_pod_fits(job, tags, "too_big")


def test_a_pod_outside_its_pool_fails(launcher, values):
    tags = K8sOpTags.large()
    tags["dagster-k8s/config"]["pod_spec_config"]["node_selector"] = {"platform.water/pool": "small"}
    job = step_job(launcher, location_run(values, "landing-zone"), tags, "misplaced")
    with pytest.raises(PodSizingError, match="does not select the pool"):
        check_pod_fits(job, tags, "misplaced")


@pytest.mark.parametrize("module", ["landing_zone.definitions", "discharge_model.definitions"])
def test_production_runs_each_step_as_its_own_job(module):
    """Under PLATFORM_ENV=production both locations use k8s_job_executor, so op tags take effect."""
    probe = f"import {module} as m; print(m.defs.resolve_implicit_global_asset_job_def().executor_def.name)"
    environment = {**os.environ, "PLATFORM_ENV": "production", "PLATFORM_STORAGE_URL": "s3://platform/data"}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "k8s"
