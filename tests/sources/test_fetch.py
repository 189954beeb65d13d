"""fetch(): verified atomic downloads over file://, HTTP (real faults from a local server) and S3."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from landing_zone.sources import FetchError, SourceNotFound, fetch
from platform_dev.seaweedfs import SeaweedFS
from shared.workers import RetryPolicy
from tests.conftest import TEST_BUCKET
from tests.sources.http_server import ScriptedServer
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.timeout(30)

BODY = bytes(range(256)) * 8  # 2048 bytes
SHA = hashlib.sha256(BODY).hexdigest()


def _only_file(folder: Path) -> list[str]:
    """Everything in the download folder, hidden .part files included."""
    return sorted(path.name for path in folder.iterdir())


def test_local_file_and_file_url(tmp_path: Path) -> None:
    source = tmp_path / "source" / "N34-12.asc"
    source.parent.mkdir()
    source.write_bytes(BODY)
    for url in (str(source), source.as_uri()):
        result = fetch(url, tmp_path / "out" / "tile.asc", expected_size=len(BODY), expected_sha256=SHA)
        assert (result.size, result.sha256, result.attempts, result.resumed) == (len(BODY), SHA, 1, False)
        assert result.last_modified is not None
        assert (tmp_path / "out" / "tile.asc").read_bytes() == BODY
    assert _only_file(tmp_path / "out") == ["tile.asc"]


def test_missing_local_file_fails(tmp_path: Path) -> None:
    with pytest.raises(SourceNotFound, match="No such file"):
        fetch(str(tmp_path / "absent.asc"), tmp_path / "out" / "x.asc")
    assert _only_file(tmp_path / "out") == []


def test_http_download_records_what_the_server_said(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route(
        "/t/12.asc",
        body=BODY,
        headers={"ETag": '"v1-12"', "Last-Modified": "Sat, 01 Mar 2025 08:00:00 GMT"},
    )
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_sha256=SHA, retry=fast_retry)
    assert result.path.read_bytes() == BODY
    assert (result.attempts, result.resumed, result.etag) == (1, False, "v1-12")
    assert (
        result.last_modified is not None and result.last_modified.isoformat() == "2025-03-01T08:00:00+00:00"
    )
    assert server.requests_to("/t/12.asc")[0].headers["User-Agent"] == "water-platform-landing-zone"


def test_5xx_is_retried_until_it_succeeds(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, fail_first=2, fail_status=503)
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", retry=fast_retry)
    assert result.attempts == 3
    assert len(server.requests_to("/t/12.asc")) == 3
    assert result.sha256 == SHA


def test_429_with_retry_after_is_retried(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, fail_first=1, fail_status=429, fail_headers={"Retry-After": "0"})
    assert fetch(server.url("/t/12.asc"), tmp_path / "12.asc", retry=fast_retry).attempts == 2


def test_persistent_5xx_gives_up_and_leaves_no_file(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, fail_first=100)
    with pytest.raises(FetchError, match=r"/t/12\.asc: HTTP 500 .*gave up after 4 attempts"):
        fetch(server.url("/t/12.asc"), tmp_path / "12.asc", retry=fast_retry)
    assert len(server.requests_to("/t/12.asc")) == 4
    assert _only_file(tmp_path) == []


def test_404_fails_at_once(server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy) -> None:
    with pytest.raises(SourceNotFound, match=r"/t/missing\.asc: HTTP 404"):
        fetch(server.url("/t/missing.asc"), tmp_path / "x.asc", retry=fast_retry)
    assert len(server.requests_to("/t/missing.asc")) == 1
    assert _only_file(tmp_path) == []


def test_dropped_connection_resumes_with_range(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, accept_ranges=True, drop_after=700, headers={"ETag": '"v1"'})
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_sha256=SHA, retry=fast_retry)
    assert (result.attempts, result.resumed, result.sha256, result.size) == (2, True, SHA, len(BODY))
    first, second = server.requests_to("/t/12.asc")
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=700-"
    assert second.headers["If-Range"] == '"v1"'
    assert result.path.read_bytes() == BODY


def test_server_ignoring_range_restarts_from_zero(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, accept_ranges=True, honour_range=False, drop_after=700)
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_sha256=SHA, retry=fast_retry)
    assert (result.attempts, result.resumed, result.sha256) == (2, False, SHA)
    assert server.requests_to("/t/12.asc")[1].headers["Range"] == "bytes=700-"
    assert result.path.read_bytes() == BODY


def test_range_answer_from_the_wrong_offset_restarts_from_zero(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, accept_ranges=True, drop_after=700, range_offset=100)
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_sha256=SHA, retry=fast_retry)
    assert (result.attempts, result.resumed, result.sha256) == (3, False, SHA)
    ranges = [request.headers["Range"] for request in server.requests_to("/t/12.asc")]
    assert ranges == [None, "bytes=700-", None]


def test_without_accept_ranges_the_retry_starts_from_zero(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY, drop_after=700)
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_sha256=SHA, retry=fast_retry)
    assert (result.attempts, result.resumed) == (2, False)
    assert all("Range" not in request.headers for request in server.requests_to("/t/12.asc"))


@pytest.mark.parametrize("accept_ranges", [False, True])
def test_fewer_bytes_than_announced_fails_and_leaves_no_file(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy, accept_ranges: bool
) -> None:
    server.route("/t/12.asc", body=BODY[:1000], announce_length=2048, accept_ranges=accept_ranges)
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/t/12.asc"), tmp_path / "12.asc", retry=fast_retry)
    assert f"{server.url('/t/12.asc')}: got 1000 bytes, expected 2048" in str(caught.value)
    assert _only_file(tmp_path) == []


def test_expected_size_mismatch_fails_and_leaves_no_file(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY)
    with pytest.raises(FetchError, match=r"/t/12\.asc: got 2048 bytes, expected 4096"):
        fetch(server.url("/t/12.asc"), tmp_path / "12.asc", expected_size=4096, retry=fast_retry)
    assert _only_file(tmp_path) == []


def test_wrong_sha256_fails_naming_both_and_keeps_the_previous_file(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    server.route("/t/12.asc", body=BODY)
    destination = tmp_path / "12.asc"
    destination.write_bytes(b"previous good copy")
    wrong = "0" * 64
    with pytest.raises(FetchError) as caught:
        fetch(server.url("/t/12.asc"), destination, expected_sha256=wrong, retry=fast_retry)
    assert f"sha256 is {SHA}, expected {wrong}" in str(caught.value)
    assert _only_file(tmp_path) == ["12.asc"]
    assert destination.read_bytes() == b"previous good copy"


def test_read_timeout_is_retried(server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy) -> None:
    server.route("/t/12.asc", body=BODY, stall_s=1.0, stalls=1)
    result = fetch(server.url("/t/12.asc"), tmp_path / "12.asc", timeout_s=0.2, retry=fast_retry)
    assert (result.attempts, result.sha256) == (2, SHA)


def test_refused_connection_is_retried_then_reported(tmp_path: Path, fast_retry: RetryPolicy) -> None:
    with pytest.raises(FetchError, match="gave up after 4 attempts"):
        fetch("http://127.0.0.1:9/t/12.asc", tmp_path / "12.asc", timeout_s=1, retry=fast_retry)


def test_credentials_and_query_never_reach_the_message(
    server: ScriptedServer, tmp_path: Path, fast_retry: RetryPolicy
) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    url = f"http://reader:s3cr3t-pass@127.0.0.1:{port}/t/private.asc?token=t0p-s3cr3t"
    with pytest.raises(FetchError) as caught:
        fetch(url, tmp_path / "x.asc", retry=fast_retry)
    message = str(caught.value)
    assert message == f"http://127.0.0.1:{port}/t/private.asc: HTTP 404 Not Found"
    assert caught.value.__cause__ is None
    # The credentials were used, as Basic auth, not dropped.
    assert server.requests_to("/t/private.asc")[0].headers["Authorization"].startswith("Basic ")


def test_result_url_is_redacted(server: ScriptedServer, tmp_path: Path) -> None:
    server.route("/t/12.asc", body=BODY)
    result = fetch(server.url("/t/12.asc") + "?sig=abc", tmp_path / "12.asc")
    assert result.url == server.url("/t/12.asc")


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="unsupported scheme"):
        fetch("ftp://example.invalid/x.asc", tmp_path / "x.asc")


def test_s3_download(seaweedfs: SeaweedFS, tmp_path: Path, fast_retry: RetryPolicy) -> None:
    key = f"sources/{uuid.uuid4().hex}/N34-12.asc"
    seaweedfs.client().put_object(Bucket=TEST_BUCKET, Key=key, Body=BODY)
    result = fetch(
        f"s3://{TEST_BUCKET}/{key}",
        tmp_path / "12.asc",
        expected_size=len(BODY),
        expected_sha256=SHA,
        retry=fast_retry,
    )
    assert (result.size, result.sha256, result.attempts, result.resumed) == (len(BODY), SHA, 1, False)
    assert result.etag == hashlib.md5(BODY).hexdigest()  # S3 ETag of a single PUT
    assert result.last_modified is not None


def test_s3_missing_key_fails_at_once(seaweedfs: SeaweedFS, tmp_path: Path, fast_retry: RetryPolicy) -> None:
    with pytest.raises(
        SourceNotFound, match=rf"s3://{TEST_BUCKET}/sources/absent\.asc: S3 NoSuchKey \(HTTP 404\)"
    ):
        fetch(f"s3://{TEST_BUCKET}/sources/absent.asc", tmp_path / "x.asc", retry=fast_retry)
    assert _only_file(tmp_path) == []


def test_s3_credentials_come_from_the_environment(
    seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_retry: RetryPolicy
) -> None:
    key = f"sources/{uuid.uuid4().hex}.asc"
    seaweedfs.client().put_object(Bucket=TEST_BUCKET, Key=key, Body=BODY)
    for name, value in seaweedfs.env("analyst").items():
        monkeypatch.setenv(name, value)
    assert fetch(f"s3://{TEST_BUCKET}/{key}", tmp_path / "a.asc", retry=fast_retry).sha256 == SHA
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unknown-reader")
    with pytest.raises(FetchError, match=r"HTTP 403"):
        fetch(f"s3://{TEST_BUCKET}/{key}", tmp_path / "b.asc", retry=fast_retry)
    assert _only_file(tmp_path) == ["a.asc"]


def test_s3_download_cut_mid_body_resumes(
    seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast_retry: RetryPolicy
) -> None:
    body = bytes(range(256)) * 1024  # 256 KiB
    key = f"sources/{uuid.uuid4().hex}/big.tif"
    seaweedfs.client().put_object(Bucket=TEST_BUCKET, Key=key, Body=body)
    with tcp_proxy(seaweedfs.endpoint_url, cut_after_download_bytes=100_000, cuts=1) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
        result = fetch(f"s3://{TEST_BUCKET}/{key}", tmp_path / "big.tif", retry=fast_retry)
    assert (result.attempts, result.resumed) == (2, True)
    assert result.sha256 == hashlib.sha256(body).hexdigest()
    assert result.path.read_bytes() == body
