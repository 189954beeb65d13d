"""Real network faults and real identities against SeaweedFS."""

import os
import subprocess
import sys

import pytest

from shared.storage import S3Storage, StorageError
from tests.conftest import TEST_BUCKET
from tests.support.tcp_proxy import tcp_proxy

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
