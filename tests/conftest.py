"""Session fixtures: a real SeaweedFS S3 server on loopback and per-test storage roots."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyproj  # noqa: F401 - before anything imports ecCodes, whose bundled PROJ otherwise breaks pyproj
import pytest

from platform_dev.seaweedfs import SeaweedFS, run_seaweedfs
from shared.resources.storage import StorageResource
from tests.support.satellite_catalogues import Catalogues, write_catalogues

TEST_BUCKET = "platform-test"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One SeaweedFS for the session; the process environment acts as the pipeline identity.

    boto3, GDAL and polars all read the standard AWS variables, exactly as in a production pod.
    """
    with run_seaweedfs(tmp_path_factory.mktemp("seaweedfs"), buckets=[TEST_BUCKET]) as server:
        saved = {name: os.environ.get(name) for name in server.env()}
        os.environ.update(server.env())
        try:
            yield server
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def s3_url(seaweedfs: SeaweedFS, request: pytest.FixtureRequest) -> str:
    """A fresh ``s3://`` storage root per test, so tests never see each other's objects."""
    return f"s3://{TEST_BUCKET}/{request.node.name[:40].replace('[', '-').rstrip(']')}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def s3_storage(s3_url: str) -> StorageResource:
    return StorageResource(url=s3_url)


@pytest.fixture
def local_storage(tmp_path: Path) -> StorageResource:
    return StorageResource(url=str(tmp_path / "storage"))


@pytest.fixture(params=["local", "s3"])
def any_storage(request: pytest.FixtureRequest, tmp_path: Path) -> StorageResource:
    """Run a test against both flavours of storage."""
    if request.param == "local":
        return StorageResource(url=str(tmp_path / "storage"))
    return StorageResource(url=request.getfixturevalue("s3_url"))


SAMPLE_SEED = 7


def build_sample_region(out: Path, seed: int = SAMPLE_SEED) -> Path:
    """The small sample region, through the generator's command-line contract."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "platform_dev.sample_region",
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
    """Built once per test session (per xdist worker)."""
    return build_sample_region(tmp_path_factory.mktemp("region") / "small")


@pytest.fixture(scope="session")
def manifest(small_region: Path) -> dict:
    return json.loads((small_region / "truth" / "manifest.json").read_text())


@pytest.fixture(scope="session")
def catalogues(tmp_path_factory: pytest.TempPathFactory) -> Catalogues:
    """The small region's satellite catalogue in both versions, written once per session (per xdist
    worker) for the generator's tests and the satellite domain's alike."""
    return write_catalogues(tmp_path_factory.mktemp("satellite"), SAMPLE_SEED)
