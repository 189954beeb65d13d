"""The Dockerfile builds what Helm runs: both targets, paths that exist, the modules Helm serves."""

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deployment.conftest import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def stage_body(stage: str) -> str:
    """The instructions of one stage (up to the next FROM)."""
    match = re.search(rf"^FROM \S+ AS {re.escape(stage)}$(.*?)(?=^FROM |\Z)", DOCKERFILE, re.M | re.S)
    assert match, f"no stage {stage}"
    return match.group(1)


def test_both_code_location_targets_exist():
    targets = {stage for _, stage in re.findall(r"^FROM (\S+) AS (\S+)$", DOCKERFILE, flags=re.MULTILINE)}
    assert {"landing-zone", "discharge-model"} <= targets


def test_every_copied_path_exists():
    for line in re.findall(r"^COPY (?!--from)(.+)$", DOCKERFILE, flags=re.MULTILINE):
        *sources, _ = [part for part in shlex.split(line) if not part.startswith("--")]
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such path in the repository"


@pytest.mark.parametrize(
    ("target", "member", "other"),
    [
        ("landing-zone", "landing_zone", "discharge_model"),
        ("discharge-model", "discharge_model", "landing_zone"),
    ],
)
def test_each_image_holds_its_member_and_shared_only_and_runs_as_non_root(values, target, member, other):
    build = stage_body(f"build-{target}")
    assert f"COPY {member}/src" in build and "COPY shared/src" in build
    assert f"COPY {other}/src" not in build, f"{target} must not contain {other}"
    assert f"--package {target}" in build and "--locked" in build and "--no-dev" in build
    runtime = stage_body(target)
    assert f"--from=build-{target}" in runtime
    assert re.search(r"^USER 10001", runtime, flags=re.MULTILINE), "non-root user"
    (cmd,) = re.findall(r"^CMD (\[.*\])$", runtime, flags=re.MULTILINE)
    args = json.loads(cmd)
    deployment = next(d for d in values["dagster-user-deployments"]["deployments"] if d["name"] == target)
    assert args[:3] == ["dagster", "api", "grpc"], "the gRPC server the chart's code servers run"
    assert args[-2:] == deployment["dagsterApiGrpcArgs"] == ["-m", f"{member}.definitions"]
    assert args[args.index("-p") + 1] == str(deployment["port"])


def test_hadolint_finds_nothing():
    """Dockerfile best practices (pinned bases, no root, shell form pitfalls), by the standard linter."""
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--failure-threshold", "info", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_secrets_in_the_image():
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "PASSWORD", "TOKEN"):
        assert name not in DOCKERFILE.replace("No secrets", "")
    assert not re.search(r"^(ENV|ARG) .*(KEY|SECRET)", DOCKERFILE, flags=re.MULTILINE)


def locked_requirements(package: str) -> set[str]:
    """Names of what ``uv sync --locked --no-dev --package X`` installs (the image's environment)."""
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    result = subprocess.run(
        [
            *command,
            "export",
            "--locked",
            "--no-dev",
            "--package",
            package,
            "--no-hashes",
            "--format",
            "requirements-txt",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    lines = [line.strip() for line in result.stdout.splitlines() if line and not line.startswith(("#", " "))]
    return {re.split(r"[=; ]", line.removeprefix("-e ./"))[0].replace("_", "-") for line in lines}


def test_each_image_environment_holds_only_its_own_stack():
    landing, discharge = locked_requirements("landing-zone"), locked_requirements("discharge-model")
    assert {"landing-zone", "shared"} <= landing and "discharge-model" not in landing
    assert {"discharge-model", "shared"} <= discharge and "landing-zone" not in discharge
    for runtime in ("dagster-k8s", "dagster-postgres"):  # run and step pods load the chart's instance
        assert runtime in landing and runtime in discharge, runtime
    for geo_only in ("pyflwdir", "whitebox-workflows", "cfgrib", "eccodes", "pystac", "pyogrio"):
        assert geo_only in landing and geo_only not in discharge, geo_only
    for dev_tool in ("pytest", "mypy", "ruff", "kubernetes-validate"):
        assert dev_tool not in landing | discharge, f"{dev_tool} would ship in an image"
