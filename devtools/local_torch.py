"""The CPU wheel of torch in place of the locked CUDA build: what ``make env`` asks before it syncs.

uv.lock resolves torch from the registry: the CUDA build the GPU pool runs, with its nvidia-*, cuda-* and
triton wheels (gigabytes). A machine whose pip wheel folder holds the CPU wheel of exactly the locked torch
version installs that wheel instead, and none of the CUDA-only packages. Standard library only: this runs
before the environment exists.

    python3 devtools/local_torch.py wheel            the CPU wheel to install; nothing: use the locked build
    python3 devtools/local_torch.py skip-args        ``--no-install-package NAME`` for torch and each
                                                     CUDA-only package, read from uv.lock
    python3 devtools/local_torch.py leftovers VENV   the CUDA-only packages installed in VENV (left there
                                                     by a plain ``uv sync``), to uninstall

The wheel folder: ``TORCH_WHEEL_FOLDER`` when set (set and empty: none, the locked build), otherwise pip's
find-links (``PIP_FIND_LINKS``, else pip's configuration files). uv reads neither of pip's, and the Makefile
keeps ``UV_FIND_LINKS`` away from uv: a lock resolved with a local folder records its path.

The CUDA-only packages are those the locked torch requires and its CPU wheel does not (read from the wheel's
METADATA), with everything they pull in, less whatever another locked package also needs.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "uv.lock"
# pip's configuration files, lowest precedence first (pip's own order: site-wide, then the user's)
PIP_CONFIG_FILES = (
    *(Path(d) / "pip" / "pip.conf" for d in os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")),
    Path("/etc/pip.conf"),
    Path.home() / ".pip" / "pip.conf",
    Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "pip" / "pip.conf",
)


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_packages() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads(LOCK.read_text())
    return {normalized(package["name"]): package for package in lock["package"]}


def find_links() -> list[str]:
    """pip's find-links entries: the environment's, else the last configuration file that sets them."""
    if "PIP_FIND_LINKS" in os.environ:
        return os.environ["PIP_FIND_LINKS"].split()
    entries: list[str] = []
    for path in (*PIP_CONFIG_FILES, Path(os.environ.get("PIP_CONFIG_FILE", "/nonexistent"))):
        config = configparser.ConfigParser()
        try:
            config.read(path)
        except (OSError, configparser.Error):
            continue
        for section in ("global", "install"):
            if config.has_option(section, "find-links"):
                entries = config.get(section, "find-links").split()
    return entries


def wheel_folders() -> list[Path]:
    chosen = os.environ.get("TORCH_WHEEL_FOLDER")
    entries = chosen.split() if chosen is not None else find_links()
    local = [entry for entry in entries if not re.match(r"(?!file:)\w+://", entry)]  # no index URLs
    folders = [Path(entry.removeprefix("file://")) for entry in local]
    return [folder for folder in folders if folder.is_dir()]


def cpu_wheel(version: str) -> Path | None:
    """The CPU wheel of torch ``version`` for this interpreter and platform, if a wheel folder holds one."""
    python = f"cp{sys.version_info.major}{sys.version_info.minor}"
    machine = sysconfig.get_platform().rsplit("-", 1)[-1]  # linux-x86_64 -> x86_64
    for folder in wheel_folders():
        found = sorted(folder.glob(f"torch-{version}+cpu-{python}-{python}-*_{machine}.whl"))
        if found:
            return found[0].resolve()
    return None


def wheel_requirements(wheel: Path) -> set[str]:
    """The names a wheel requires whatever extras are asked for."""
    with zipfile.ZipFile(wheel) as archive:
        (metadata,) = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        text = archive.read(metadata).decode()
    return {
        normalized(re.split(r"[\s;<>=!~\[(]", line.removeprefix("Requires-Dist:").strip())[0])
        for line in text.splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    }


def edges(package: dict[str, Any]) -> list[str]:
    """The names a locked package depends on, through its extras and dependency groups too."""
    dependencies = list(package.get("dependencies", []))
    for field in ("optional-dependencies", "dev-dependencies"):
        for group in (package.get(field) or {}).values():
            dependencies += group
    return [normalized(dependency["name"]) for dependency in dependencies]


def reachable(packages: dict[str, dict[str, Any]], roots: set[str], cut: set[tuple[str, str]]) -> set[str]:
    """Every locked package reachable from ``roots``, not following the ``cut`` edges."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in packages:
            continue
        seen.add(name)
        todo += [target for target in edges(packages[name]) if (name, target) not in cut]
    return seen


def cuda_only_packages(packages: dict[str, dict[str, Any]], wheel: Path) -> list[str]:
    """The locked packages that only torch's CUDA build needs."""
    cuda_edges = {("torch", name) for name in edges(packages["torch"])} - {
        ("torch", name) for name in wheel_requirements(wheel)
    }
    cuda_side = reachable(packages, {name for _, name in cuda_edges}, set())
    members = {name for name, package in packages.items() if {"editable", "virtual"} & set(package["source"])}
    return sorted(cuda_side - reachable(packages, members, cuda_edges))


def installed(venv: Path) -> set[str]:
    """The names of the distributions installed in a virtual environment."""
    return {
        normalized(info.name.split("-")[0]) for info in venv.glob("lib/python*/site-packages/*.dist-info")
    }


def main(argv: list[str]) -> int:
    command, *rest = argv[1:] or [""]
    if command not in {"wheel", "skip-args", "leftovers"} or len(rest) != (command == "leftovers"):
        print(__doc__, file=sys.stderr)
        return 2
    packages = locked_packages()
    wheel = cpu_wheel(str(packages["torch"]["version"]))
    if wheel is None:
        return 0  # no CPU wheel of the locked version here: the caller installs the locked build
    if command == "wheel":
        print(wheel)
    elif command == "skip-args":
        skipped = ["torch", *cuda_only_packages(packages, wheel)]
        print(" ".join(f"--no-install-package {name}" for name in skipped))
    else:
        print(" ".join(sorted(set(cuda_only_packages(packages, wheel)) & installed(Path(rest[0])))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
