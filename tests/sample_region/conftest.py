"""The small sample region, built once per test session through the command-line contract."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SEED = 7


def build(out: Path, seed: int = SEED) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "landing_zone.sample_region",
            "build",
            "--out",
            str(out),
            "--size",
            "small",
            "--seed",
            str(seed),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out


@pytest.fixture(scope="session")
def small_region(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("region") / "small")


@pytest.fixture(scope="session")
def manifest(small_region: Path) -> dict:
    return json.loads((small_region / "truth" / "manifest.json").read_text())
