"""Directory-listing sync: local folders, autoindex pages over HTTP, S3 prefixes, and the sync plan."""

from __future__ import annotations

import hashlib
import os
import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from landing_zone.sources import (
    RemoteFile,
    StoredState,
    UnsafePathError,
    list_remote,
    plan_sync,
)
from platform_dev.seaweedfs import SeaweedFS
from shared.workers import RetryPolicy
from tests.conftest import TEST_BUCKET
from tests.sources.http_server import ScriptedServer

pytestmark = pytest.mark.timeout(30)

APACHE_INDEX = """<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">
<html><head><title>Index of /data</title></head><body><h1>Index of /data</h1>
<table>
<tr><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th>
<th><a href="?C=S;O=A">Size</a></th></tr>
<tr><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td>-</td></tr>
<tr><td><a href="N34-12.asc">N34-12.asc</a></td><td>2025-03-01 08:00</td><td>2.0K</td></tr>
<tr><td><a href="sub/">sub/</a></td><td>2025-03-01 08:00</td><td>-</td></tr>
<tr><td><a href="tile%20b.xyz">tile b.xyz</a></td><td>2025-03-01 08:00</td><td>11</td></tr>
<tr><td><a href="tile%20b.xyz">again, as some themes link the icon too</a></td></tr>
</table>
<a href="https://example.org/elsewhere/">mirror</a> <a href="#top">top</a>
<a href="mailto:x@example.org">x</a>
</body></html>
"""

NGINX_SUB_INDEX = """<html><head><title>Index of /data/sub/</title></head>
<body><h1>Index of /data/sub/</h1><hr><pre>
<a href="../">../</a>
<a href="N34-13.tif">N34-13.tif</a>                                         01-Mar-2025 08:00    4096
</pre><hr></body></html>
"""

MARCH = "Sat, 01 Mar 2025 08:00:00 GMT"
MARCH_DT = datetime(2025, 3, 1, 8, tzinfo=UTC)


def _serve_provider(server: ScriptedServer) -> None:
    html = {"Content-Type": "text/html"}
    server.route("/data/", body=APACHE_INDEX.encode(), headers=html)
    server.route("/data/sub/", body=NGINX_SUB_INDEX.encode(), headers=html)
    server.route("/data/N34-12.asc", body=b"a" * 2048, headers={"ETag": '"e-12"', "Last-Modified": MARCH})
    server.route(
        "/data/sub/N34-13.tif", body=b"t" * 4096, headers={"ETag": 'W/"e-13"', "Last-Modified": MARCH}
    )
    server.route("/data/tile b.xyz", body=b"1 2 3\n4 5 6", headers={"Last-Modified": MARCH})


@pytest.mark.parametrize("path", ["/data/", "/data"])
def test_autoindex_listing_recurses_and_reads_heads(
    server: ScriptedServer, fast_retry: RetryPolicy, path: str
) -> None:
    _serve_provider(server)
    listed = list_remote(server.url(path), timeout_s=5, retry=fast_retry)
    assert listed == [
        RemoteFile("N34-12.asc", server.url("/data/N34-12.asc"), 2048, MARCH_DT, "e-12"),
        RemoteFile("sub/N34-13.tif", server.url("/data/sub/N34-13.tif"), 4096, MARCH_DT, "W/e-13"),
        RemoteFile("tile b.xyz", server.url("/data/tile%20b.xyz"), 11, MARCH_DT, None),
    ]
    # Pages are read with GET, files only with one HEAD each; sort and parent links are never followed.
    gets = sorted(r.path for r in server.requests if r.method == "GET")
    heads = sorted(r.path for r in server.requests if r.method == "HEAD")
    assert gets == ["/data/", "/data/sub/"]
    assert heads == ["/data/N34-12.asc", "/data/sub/N34-13.tif", "/data/tile b.xyz"]


def test_autoindex_listing_then_plan(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    _serve_provider(server)
    stored = {
        "N34-12.asc": StoredState(size=2048, etag="e-12", modified=MARCH_DT),
        "sub/N34-13.tif": StoredState(size=4096, etag="W/e-12-old", modified=MARCH_DT),
        "retired.asc": StoredState(size=10, etag="old", modified=MARCH_DT),
    }
    plan = plan_sync(list_remote(server.url("/data/"), retry=fast_retry), stored)
    assert [file.name for file in plan.new] == ["tile b.xyz"]
    assert [file.name for file in plan.changed] == ["sub/N34-13.tif"]
    assert [file.name for file in plan.unchanged] == ["N34-12.asc"]
    assert plan.gone == ("retired.asc",)


def test_autoindex_name_that_escapes_is_refused(server: ScriptedServer, fast_retry: RetryPolicy) -> None:
    server.route(
        "/data/", body=b'<a href="..%2F..%2Fdagster.yaml">x</a>', headers={"Content-Type": "text/html"}
    )
    with pytest.raises(UnsafePathError, match=r"'\.\./\.\./dagster\.yaml'"):
        list_remote(server.url("/data/"), retry=fast_retry)


def test_local_folder_listing(tmp_path: Path) -> None:
    root = tmp_path / "provider"
    (root / "2025" / "03").mkdir(parents=True)
    (root / "stations.csv").write_bytes(b"id\n1\n")
    (root / "2025" / "03" / "obs.csv").write_bytes(b"x" * 100)
    os.utime(root / "stations.csv", (0, 1_700_000_000))
    for url in (str(root), root.as_uri()):
        listed = list_remote(url)
        assert [(f.name, f.size, f.etag) for f in listed] == [
            ("2025/03/obs.csv", 100, None),
            ("stations.csv", 5, None),
        ]
        assert listed[1].modified == datetime.fromtimestamp(1_700_000_000, UTC)
        assert listed[1].url == (root / "stations.csv").as_uri()


def test_s3_prefix_listing(seaweedfs: SeaweedFS, fast_retry: RetryPolicy) -> None:
    prefix = f"provider-{uuid.uuid4().hex[:8]}"
    client = seaweedfs.client()
    bodies = {"imgw/2025/obs.csv": b"x" * 100, "imgw/stations.csv": b"id\n", "other/not-listed.csv": b"-"}
    for name, body in bodies.items():
        client.put_object(Bucket=TEST_BUCKET, Key=f"{prefix}/{name}", Body=body)
    listed = list_remote(f"s3://{TEST_BUCKET}/{prefix}/imgw", retry=fast_retry)
    assert [(f.name, f.size) for f in listed] == [("2025/obs.csv", 100), ("stations.csv", 3)]
    assert listed[0].url == f"s3://{TEST_BUCKET}/{prefix}/imgw/2025/obs.csv"
    assert listed[0].etag == hashlib.md5(bodies["imgw/2025/obs.csv"]).hexdigest()  # single-PUT ETag
    assert listed[0].modified is not None and listed[0].modified.tzinfo is not None
    plan = plan_sync(listed, {"stations.csv": listed[1].state()})
    assert ([f.name for f in plan.new], [f.name for f in plan.unchanged]) == (
        ["2025/obs.csv"],
        ["stations.csv"],
    )


def _file(
    name: str, size: int | None = 10, etag: str | None = None, modified: datetime | None = MARCH_DT
) -> RemoteFile:
    return RemoteFile(
        name=name, url=f"https://provider.example/{name}", size=size, modified=modified, etag=etag
    )


LATER = MARCH_DT + timedelta(hours=1)


@pytest.mark.parametrize(
    ("remote", "stored", "verdict"),
    [
        # ETags on both sides decide alone.
        (_file("a", etag="v1", size=10), StoredState(11, "v1", LATER), "unchanged"),
        (_file("a", etag="v2"), StoredState(10, "v1", MARCH_DT), "changed"),
        # Without ETags on both sides: size, then modification time.
        (_file("a", etag="v1"), StoredState(10, None, MARCH_DT), "unchanged"),
        (_file("a", size=12), StoredState(10, None, MARCH_DT), "changed"),
        (_file("a"), StoredState(10, None, LATER), "changed"),
        (_file("a", modified=None), StoredState(10, None, LATER), "unchanged"),
        (_file("a", size=None), StoredState(10, None, MARCH_DT), "unchanged"),
        # Nothing to compare: fetch again.
        (_file("a", size=None, modified=None), StoredState(10, None, MARCH_DT), "changed"),
    ],
)
def test_plan_decides_changed_by_etag_then_size_then_time(
    remote: RemoteFile, stored: StoredState, verdict: str
) -> None:
    plan = plan_sync([remote], {"a": stored})
    assert {"changed": plan.changed, "unchanged": plan.unchanged}[verdict] == (remote,)


def test_plan_is_deterministic_whatever_the_listing_order() -> None:
    remote = [_file(name) for name in ["c", "a", "b/x", "b/a", "d"]]
    stored = {
        "a": StoredState(10, None, MARCH_DT),
        "z": StoredState(1, None, None),
        "y": StoredState(1, None, None),
    }
    plans = set()
    for seed in range(5):
        shuffled = remote[:]
        random.Random(seed).shuffle(shuffled)
        plans.add(plan_sync(shuffled, stored))
    assert len(plans) == 1
    plan = plans.pop()
    assert [f.name for f in plan.new] == ["b/a", "b/x", "c", "d"]
    assert plan.gone == ("y", "z")


def test_plan_refuses_a_listing_with_duplicate_names() -> None:
    with pytest.raises(ValueError, match=r"more than once: \['a'\]"):
        plan_sync([_file("a"), _file("a")], {})
