"""Real network faults and real identities against SeaweedFS."""

import json
import logging
import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import polars as pl
import pytest
import rasterio
from rasterio.transform import from_origin

from landing_zone.defs.elevation.mosaic import consolidate_region
from shared.rasters.cog import copy_to_cog, tiled_gtiff_profile
from shared.rasters.handles import CogFile, remove_stored
from shared.storage import S3Storage, StorageError, StorageUnavailableError, open_storage
from tests.conftest import TEST_BUCKET
from tests.support.tcp_proxy import (
    HTTP_503,
    FaultPlan,
    tcp_proxy,
)

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("size_mib", "cut_after_mib"),
    [(3, 1), (20, 4)],
    ids=["single-put", "multipart"],
)
def test_upload_cut_midway_keeps_previous_object_and_no_partial(
    seaweedfs, s3_url, tmp_path, size_mib, cut_after_mib
):
    direct = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url, multipart_chunk_mib=5)
    previous = tmp_path / "previous.bin"
    previous.write_bytes(b"p" * (2 * MIB))
    direct.put_file(previous, "dem/part.tif")
    replacement = tmp_path / "replacement.bin"
    replacement.write_bytes(os.urandom(size_mib * MIB))

    with tcp_proxy(seaweedfs.endpoint_url, cut_after_upload_bytes=cut_after_mib * MIB) as proxy:
        flaky = S3Storage(s3_url, endpoint_url=proxy.endpoint_url, multipart_chunk_mib=5)
        with pytest.raises(StorageError, match=r"upload of .* failed"):
            flaky.put_file(replacement, "dem/part.tif")
        assert proxy.cut_connections >= 1

    assert direct.get_bytes("dem/part.tif") == previous.read_bytes()
    assert [info.key for info in direct.list("dem/")] == ["dem/part.tif"]
    uploads = seaweedfs.client().list_multipart_uploads(Bucket=TEST_BUCKET).get("Uploads", [])
    assert [upload["Key"] for upload in uploads if upload["Key"].endswith("dem/part.tif")] == []


def test_connection_cut_between_parts_is_retried_and_completes(seaweedfs, s3_url, tmp_path):
    """A cut after the first 5 MiB part on a kept-alive connection: botocore retries the part elsewhere."""
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(20 * MIB))
    with tcp_proxy(seaweedfs.endpoint_url, cut_after_upload_bytes=7 * MIB) as proxy:
        flaky = S3Storage(s3_url, endpoint_url=proxy.endpoint_url, multipart_chunk_mib=5, max_concurrency=1)
        flaky.put_file(source, "dem/part.tif")
        assert proxy.cut_connections >= 1
    direct = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url)
    assert direct.get_bytes("dem/part.tif") == source.read_bytes()


def test_multipart_upload_round_trips_through_the_storage_api(seaweedfs, s3_url, tmp_path):
    storage = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url, multipart_chunk_mib=5)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * MIB))
    info = storage.put_file(source, "big/part.bin")
    assert info.size == 12 * MIB
    assert info.etag and info.etag.endswith("-3")  # three parts
    assert storage.get_file("big/part.bin", tmp_path / "back.bin").read_bytes() == source.read_bytes()


def test_read_only_identity_reads_outputs_and_is_refused_writes(seaweedfs, s3_url, tmp_path):
    """An analyst's process (own environment, like QGIS) reads through GDAL and boto3 but cannot write."""
    pipeline = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url)
    pipeline.put_bytes(b"stored by the pipeline", "outputs/part.txt")
    analyst_script = f"""
import sys
from shared.storage import S3Storage, StorageError
storage = S3Storage({s3_url!r}, endpoint_url={seaweedfs.endpoint_url!r})
assert storage.get_bytes("outputs/part.txt") == b"stored by the pipeline"
assert [i.key for i in storage.list("outputs/")] == ["outputs/part.txt"]
try:
    storage.put_bytes(b"tampered", "outputs/part.txt")
except StorageError as error:
    print("REFUSED", error)
    sys.exit(0)
sys.exit("analyst could write")
"""
    environment = os.environ | seaweedfs.env("analyst")
    result = subprocess.run(
        [sys.executable, "-c", analyst_script], env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "AccessDenied" in result.stdout
    assert pipeline.get_bytes("outputs/part.txt") == b"stored by the pipeline"


def _retry_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "shared.storage" and r.levelno == logging.WARNING
    ]


def test_body_reset_midway_is_resumed_where_it_broke_off(seaweedfs, s3_url, caplog):
    """Two reads break off after 300 KiB; the ranged resume means the bytes travel about once."""
    direct = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url)
    payload = os.urandom(MIB)
    direct.put_bytes(payload, "dem/part.bin")
    caplog.set_level(logging.WARNING, logger="shared.storage")
    with tcp_proxy(seaweedfs.endpoint_url, cut_after_download_bytes=300 * 1024, cuts=2) as proxy:
        flaky = S3Storage(s3_url, endpoint_url=proxy.endpoint_url, retry_base_s=0.01)
        assert flaky.get_bytes("dem/part.bin") == payload
        assert proxy.cut_connections == 2
        assert proxy.bytes_to_client < 1.2 * MIB, "resumed, not restarted from byte 0"
    warnings = _retry_warnings(caplog)
    assert len(warnings) == 2
    assert all(f"{s3_url}/dem/part.bin broke off at byte" in message for message in warnings)


def test_read_failing_every_attempt_names_the_uri_and_the_network(seaweedfs, s3_url, tmp_path):
    S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url).put_bytes(os.urandom(200_000), "dem/part.bin")
    with tcp_proxy(seaweedfs.endpoint_url, cut_after_download_bytes=50_000) as proxy:
        flaky = S3Storage(s3_url, endpoint_url=proxy.endpoint_url, max_attempts=3, retry_base_s=0.01)
        expected = rf"read of {s3_url}/dem/part\.bin failed after 3 attempts: the network or the S3 endpoint"
        with pytest.raises(StorageUnavailableError, match=expected):
            flaky.get_file("dem/part.bin", tmp_path / "part.bin")
    assert list(tmp_path.iterdir()) == [], "no partial download is left behind"


def test_5xx_answers_are_retried_and_logged_with_the_uri(seaweedfs, s3_url, caplog):
    """The proxy answers the first two requests 503 itself; botocore retries and each retry is logged."""
    caplog.set_level(logging.WARNING, logger="shared.storage")
    plan = FaultPlan(rate=1.0, kinds=(HTTP_503,), limit=2)
    with tcp_proxy(seaweedfs.endpoint_url, faults=plan) as proxy:
        flaky = S3Storage(s3_url, endpoint_url=proxy.endpoint_url)
        flaky.put_bytes(b"stored despite 503s", "outputs/part.txt")
        assert flaky.get_bytes("outputs/part.txt") == b"stored despite 503s"
        assert proxy.injected == {HTTP_503: 2}
    warnings = _retry_warnings(caplog)
    assert len(warnings) == 2
    assert all(f"{s3_url}/outputs/part.txt failed (HTTP 503" in message for message in warnings)


def _write_tiles(directory, count: int, size: int) -> list[tuple[object, np.ndarray]]:
    """``count`` COG tiles of ``size`` cells in a row, 2 m cells, each with its own values."""
    directory.mkdir(parents=True, exist_ok=True)
    tiles = []
    for index in range(count):
        values = np.random.default_rng(index).normal(150.0, 20.0, (size, size)).astype(np.float32)
        west = 500_000.0 + index * size * 2.0
        profile = tiled_gtiff_profile(
            size, size, "float32", "EPSG:2180", from_origin(west, 400_000.0, 2.0, 2.0), -9999.0
        )
        staging = directory / f"tile{index}.gtiff"
        with rasterio.open(staging, "w", **profile) as dataset:
            dataset.write(values, 1)
        tiles.append((copy_to_cog(staging, directory / f"tile{index}.tif"), values))
    return tiles


def test_five_percent_faults_storage_and_consolidation_complete(request, seaweedfs, s3_url, tmp_path, caplog):
    """The tester's scenario: 5 % of requests reset mid-response or mid-upload or answered 500/503, with
    latency. Many puts and gets, a multipart upload and a GDAL consolidation all complete, every object
    equals its source byte for byte read back fault-free, and the retries are in the log."""
    caplog.set_level(logging.WARNING, logger="shared.storage")
    proxy = request.getfixturevalue("faulty_s3_endpoint")
    flaky = open_storage(s3_url)
    assert isinstance(flaky, S3Storage) and flaky.endpoint_url == proxy.endpoint_url
    flaky.retry_base_s = 0.05
    payloads = {f"many/{index:03d}.bin": os.urandom(16_384 + 512 * index) for index in range(60)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: flaky.put_bytes(item[1], item[0]), payloads.items()))
        read_back = dict(zip(payloads, pool.map(flaky.get_bytes, payloads), strict=True))
    assert read_back == payloads

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(12 * MIB))
    multipart = S3Storage(s3_url, endpoint_url=proxy.endpoint_url, multipart_chunk_mib=5)
    assert multipart.put_file(big, "big/part.bin").etag.endswith("-3")
    assert multipart.get_file("big/part.bin", tmp_path / "back.bin").read_bytes() == big.read_bytes()

    tiles = _write_tiles(tmp_path / "tiles", count=3, size=300)
    rows = []
    for index, (cog, _) in enumerate(tiles):
        flaky.put_file(cog, f"converted/tile={index}/part.tif")
        west = 500_000.0 + index * 600.0
        rows.append(
            {
                "status": "converted",
                "cog_key": f"converted/tile={index}/part.tif",
                "west": west,
                "north": 400_000.0,
                "width": 300,
                "height": 300,
            }
        )
    consolidated = consolidate_region([pl.DataFrame(rows)], flaky, "EPSG:2180", 2.0, cache_mb=64)
    with rasterio.open(consolidated) as dataset:
        np.testing.assert_array_equal(dataset.read(1), np.hstack([values for _, values in tiles]))
    assert not (consolidated.parent / "tiles").exists(), "staged tiles are dropped once the COG is written"
    remove_stored(CogFile(consolidated))
    assert not consolidated.parent.exists(), "the scratch folder goes with the stored COG"

    direct = S3Storage(s3_url, endpoint_url=seaweedfs.endpoint_url)
    assert {key: direct.get_bytes(key) for key in payloads} == payloads
    assert direct.get_bytes("big/part.bin") == big.read_bytes()
    for index, (cog, _) in enumerate(tiles):
        assert direct.get_bytes(f"converted/tile={index}/part.tif") == cog.read_bytes()
    open_uploads = seaweedfs.client().list_multipart_uploads(Bucket=TEST_BUCKET).get("Uploads", [])
    assert [u["Key"] for u in open_uploads if u["Key"].startswith(direct.prefix)] == []

    assert sum(proxy.injected.values()) >= 5
    warnings = _retry_warnings(caplog)
    assert warnings and all("s3://platform-test/" in message for message in warnings)
    pipeline = seaweedfs.identities["pipeline"]
    assert pipeline.secret_key not in caplog.text and pipeline.access_key not in caplog.text


def test_local_s3_mode_prints_both_identities_and_cleans_up_on_sigterm(tmp_path):
    """``python -m platform_dev.seaweedfs``: analyst variables printed; SIGTERM stops weed, removes keys."""
    process = subprocess.Popen(
        [sys.executable, "-m", "platform_dev.seaweedfs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ | {"TMPDIR": str(tmp_path)},
    )
    try:
        lines = []
        while not (line := process.stdout.readline()).startswith("SeaweedFS running"):
            assert line, "".join(lines)
            lines.append(line)
        printed = json.loads("".join(lines))
        key_file = Path(printed["key_file"])
        assert key_file.is_file()
        analyst = printed["analyst"]
        assert analyst["AWS_ACCESS_KEY_ID"] != printed["pipeline"]["AWS_ACCESS_KEY_ID"]
        endpoint = urlparse(analyst["AWS_ENDPOINT_URL"])
        assert analyst["AWS_S3_ENDPOINT"] == endpoint.netloc and analyst["AWS_HTTPS"] == "NO"
        assert analyst["AWS_VIRTUAL_HOSTING"] == "FALSE"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not key_file.exists() and list(tmp_path.glob("seaweedfs-*")) == []
    with pytest.raises(OSError), socket.create_connection((endpoint.hostname, endpoint.port), timeout=1):
        pass
