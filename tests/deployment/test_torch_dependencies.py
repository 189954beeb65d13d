"""torch and neuralhydrology: the CUDA build in the lock (the GPU image), the CPU wheel on local machines.

- uv.lock records no path of any machine (a lock resolved with a local wheel folder would, and the
  production image could not be built anywhere else).
- The discharge-model image's locked requirements hold torch's CUDA build on Linux x86_64; the other
  members hold no torch at all.
- ``make env`` substitutes the CPU wheel where pip's wheel folder holds it (skipping exactly the CUDA-only
  packages) and installs the locked build where it does not; uv never sees a local folder.
- This environment holds what the bootstrap promises: the CPU build and no CUDA package where the folder
  has the wheel.

Everything here runs uv on the real lock, offline.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.deployment.conftest import REPO

sys.path.insert(0, str(REPO / "devtools"))
import local_torch  # a standalone script of the development member (make env runs it), not a package

LOCK_TEXT = (REPO / "uv.lock").read_text()
LOCK = tomllib.loads(LOCK_TEXT)
TORCH = "2.13.0"
NEURALHYDROLOGY = "1.13.0"
# the GPU pool's nodes: Linux x86_64, the images' Python
GPU_NODE = {
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "python_version": "3.11",
    "python_full_version": "3.11.14",
}
CUDA_ONLY = re.compile(r"^(nvidia-.+|triton|cuda-.+)$")


def uv(*args: str, env: dict[str, str] | None = None) -> str:
    found = shutil.which("uv")
    command = [found] if found else [sys.executable, "-m", "uv"]
    result = subprocess.run(
        [*command, *args], cwd=REPO, capture_output=True, text=True, check=True, timeout=120, env=env
    )
    return result.stdout


def exported(package: str) -> dict[str, Requirement]:
    """What the image of ``package`` installs (``uv sync --locked --no-dev --package``), offline."""
    text = uv(
        "export", "--locked", "--offline", "--no-dev", "--package", package, "--no-hashes",
        "--no-emit-workspace", "--format", "requirements-txt",
    )  # fmt: skip
    lines = [line.strip() for line in text.splitlines() if line and not line.startswith(("#", " ", "-e "))]
    return {requirement.name: requirement for requirement in map(Requirement, lines)}


def on_gpu_node(requirements: dict[str, Requirement]) -> dict[str, str]:
    """Name and pinned version of each requirement installed on a GPU node."""
    return {
        name: str(requirement.specifier).removeprefix("==")
        for name, requirement in requirements.items()
        if requirement.marker is None or requirement.marker.evaluate(GPU_NODE)
    }


# ---- the lock ---------------------------------------------------------------------------------------


def test_the_lock_holds_no_path_of_any_machine():
    for needle in ("/opt/", "file://", 'registry = "/', "/root/", "/home/", "/tmp/", "/work/"):
        assert needle not in LOCK_TEXT, f"uv.lock holds {needle!r}: locked with a local wheel folder?"
    for package in LOCK["package"]:
        source = package["source"]
        if "registry" in source:
            assert source["registry"] == "https://pypi.org/simple", (package["name"], source)
        else:  # the workspace's own members, by relative path
            assert set(source) <= {"editable", "virtual"}, (package["name"], source)
            assert not Path(next(iter(source.values()))).is_absolute(), (package["name"], source)
        for wheel in package.get("wheels", []):
            assert wheel["url"].startswith("https://files.pythonhosted.org/"), (package["name"], wheel["url"])


def test_the_lock_holds_the_registry_build_of_the_pinned_torch():
    (torch,) = [p for p in LOCK["package"] if p["name"] == "torch"]
    assert torch["version"] == TORCH, "local machines substitute the CPU wheel of exactly this version"
    assert torch["source"] == {"registry": "https://pypi.org/simple"}
    names = [wheel["url"].rsplit("/", 1)[-1] for wheel in torch["wheels"]]
    assert f"torch-{TORCH}-cp311-cp311-manylinux_2_28_x86_64.whl" in names, names


# ---- what each image installs ------------------------------------------------------------------------


def test_the_discharge_model_image_installs_the_cuda_build():
    on_gpu = on_gpu_node(exported("discharge-model"))
    assert on_gpu["torch"] == TORCH and on_gpu["neuralhydrology"] == NEURALHYDROLOGY
    cuda = {name for name in on_gpu if CUDA_ONLY.match(name)}
    assert any(re.fullmatch(r"nvidia-cudnn-cu1\d", name) for name in cuda), sorted(on_gpu)
    assert {"triton", "nvidia-cublas", "nvidia-nccl-cu13"} <= cuda, sorted(cuda)
    for direct in ("xarray", "netcdf4", "pandas", "matplotlib", "pyyaml"):
        assert direct in on_gpu, direct


@pytest.mark.parametrize("package", ["landing-zone", "shared", "platform-dev"])
def test_no_other_member_installs_torch(package):
    requirements = exported(package)
    assert "polars" in requirements, "the export must list the member's dependencies"
    heavy = {name for name in requirements if name in {"torch", "neuralhydrology"} or CUDA_ONLY.match(name)}
    assert not heavy, f"{package} would install {sorted(heavy)}"


def test_the_members_declare_torch_in_the_discharge_model_only():
    pins = {}
    for pyproject in (REPO / "pyproject.toml", *REPO.glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for requirement in map(Requirement, project.get("dependencies", [])):
            if requirement.name in {"torch", "neuralhydrology"}:
                pins[(pyproject.parent.name, requirement.name)] = str(requirement.specifier)
    assert pins == {
        ("discharge_model", "torch"): f"=={TORCH}",
        ("discharge_model", "neuralhydrology"): f"=={NEURALHYDROLOGY}",
    }


def test_the_image_build_uses_no_local_wheel_and_skips_nothing():
    dockerfile = (REPO / "Dockerfile").read_text()
    stage = re.search(r"^FROM \S+ AS build-discharge-model$(.*?)(?=^FROM |\Z)", dockerfile, re.M | re.S)
    assert stage and "uv sync --locked --no-dev --package discharge-model" in stage.group(1)
    for local_only in ("find-links", "FIND_LINKS", "--no-install-package", "uv pip install", "+cpu"):
        assert local_only not in dockerfile, local_only


# ---- the bootstrap ----------------------------------------------------------------------------------


def fake_cpu_wheel(folder: Path) -> Path:
    """A wheel named and described as the CPU build (its METADATA's requirements copied from PyTorch's)."""
    wheel = folder / f"torch-{TORCH}+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    requires = ["filelock", "typing-extensions>=4.10.0", "setuptools>=77.0.3", "sympy>=1.13.3"]
    requires += ["networkx>=2.5.1", "jinja2", "fsspec>=0.8.5", 'optree>=0.13.0; extra == "optree"']
    metadata = f"Metadata-Version: 2.4\nName: torch\nVersion: {TORCH}+cpu\n"
    metadata += "".join(f"Requires-Dist: {requirement}\n" for requirement in requires)
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"torch-{TORCH}+cpu.dist-info/METADATA", metadata)
    return wheel


def test_the_cuda_only_packages_are_read_from_the_lock(tmp_path):
    packages = local_torch.locked_packages()
    skipped = set(local_torch.cuda_only_packages(packages, fake_cpu_wheel(tmp_path)))
    on_gpu = on_gpu_node(exported("discharge-model"))
    assert skipped == {name for name in on_gpu if CUDA_ONLY.match(name)}, "exactly the CUDA side"
    assert skipped.isdisjoint({"torch", "sympy", "networkx", "filelock", "jinja2", "numpy", "numba"})


def make_dry_run(env_overrides: dict[str, str], *targets: str) -> str:
    make = shutil.which("make")
    assert make, "make is the bootstrap"
    env = {**os.environ, **env_overrides}
    result = subprocess.run(
        [make, "--no-print-directory", "-n", *targets],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    return result.stdout


def test_the_bootstrap_substitutes_the_cpu_wheel_where_the_folder_holds_it(tmp_path):
    wheel = fake_cpu_wheel(tmp_path)
    commands = make_dry_run({"TORCH_WHEEL_FOLDER": str(tmp_path)}, "env")
    (sync,) = [line for line in commands.splitlines() if " sync " in line]
    assert "--locked" in sync and "--inexact" in sync, "the CPU torch must survive the next sync"
    skipped = set(re.findall(r"--no-install-package (\S+)", sync))
    assert {"torch", "triton", "nvidia-cudnn-cu13"} <= skipped
    assert re.search(rf" pip install --python \S+ --no-deps {re.escape(str(wheel))}$", commands, re.M)
    bench = make_dry_run({"TORCH_WHEEL_FOLDER": str(tmp_path)}, "bench")
    assert "--group bench" in bench and "--no-install-package torch" in bench


def test_the_bootstrap_installs_the_locked_build_without_the_folder(tmp_path):
    commands = make_dry_run({"TORCH_WHEEL_FOLDER": str(tmp_path)}, "env")  # an empty folder
    (sync,) = [line for line in commands.splitlines() if " sync " in line]
    assert sync.endswith("sync --locked --python 3.11"), sync
    assert "--no-deps" not in commands and "uninstall" not in commands


def test_uv_never_sees_a_local_wheel_folder():
    make = shutil.which("make")
    assert make
    result = subprocess.run(
        [make, "--no-print-directory", "--eval", 'probe: ; @echo "[$$UV_FIND_LINKS]"', "probe"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env={**os.environ, "UV_FIND_LINKS": "/opt/wheels", "PIP_FIND_LINKS": "/opt/wheels"},
    )
    assert result.stdout.strip() == "[]", "make must not hand a wheel folder to uv (it would enter uv.lock)"


# ---- this environment -------------------------------------------------------------------------------


def test_this_environment_holds_the_build_the_bootstrap_chose():
    installed = {
        re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() for d in importlib.metadata.distributions()
    }
    version = importlib.metadata.version("torch")
    if local_torch.cpu_wheel(TORCH) is not None:
        assert version == f"{TORCH}+cpu", "make env installs the local CPU wheel"
        cuda = sorted(name for name in installed if CUDA_ONLY.match(name))
        assert not cuda, f"CUDA-only packages installed next to the CPU build: {cuda}"
    else:
        assert version == TORCH, "without the wheel folder: the locked build"
    assert importlib.metadata.version("neuralhydrology") == NEURALHYDROLOGY


def test_neuralhydrology_loads_on_this_machine():
    probe = "from neuralhydrology.nh_run import start_run; import torch; print(torch.cuda.is_available())"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] in {"True", "False"}
