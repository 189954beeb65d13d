"""A loopback TCP proxy that counts bytes and can cut connections: real network faults for tests.

It sits between a client (boto3, GDAL) and SeaweedFS. ``bytes_to_client`` proves ranged reads (how much
actually travelled); ``cut_after_upload_bytes`` / ``cut_after_download_bytes`` drop a connection once that
many bytes went up / came down on it, which is what a broken network does in the middle of a body.
``cuts`` limits how many connections are cut (``None``: every one).

With a :class:`FaultPlan` the proxy works per HTTP request instead: it rewrites each request to
``Connection: close`` (so one connection carries exactly one request) and, for a random share of the
requests, resets the connection mid-response or mid-upload (a real RST), or answers 500/503 itself
without forwarding; every request can also be delayed. :func:`faulty_s3_endpoint` is the pytest
fixture that puts such a proxy in front of the session's SeaweedFS and points ``AWS_ENDPOINT_URL`` at it.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import pytest

RESET_RESPONSE = "reset_response"
RESET_UPLOAD = "reset_upload"
HTTP_500 = "http_500"
HTTP_503 = "http_503"
ALL_FAULTS = (RESET_RESPONSE, RESET_UPLOAD, HTTP_500, HTTP_503)
_ANSWERS = {
    HTTP_500: (500, "Internal Server Error", "InternalError"),
    HTTP_503: (503, "Service Unavailable", "ServiceUnavailable"),
}
_HEAD_END = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024
_CUT_WITHIN = 16 * 1024


@dataclass(frozen=True)
class FaultPlan:
    """Which requests fail and how: each request fails with probability ``rate`` (at most ``limit``
    faults in all), with a kind drawn from ``kinds``; ``latency_s`` is the most delay added to each
    request. ``seed`` makes the draws repeatable for the same order of requests."""

    rate: float = 0.05
    kinds: tuple[str, ...] = ALL_FAULTS
    latency_s: float = 0.0
    seed: int = 0
    limit: int | None = None


class TcpProxy:
    def __init__(
        self,
        upstream_url: str,
        cut_after_upload_bytes: int | None = None,
        cut_after_download_bytes: int | None = None,
        cuts: int | None = None,
        faults: FaultPlan | None = None,
    ) -> None:
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.cut_after_upload_bytes = cut_after_upload_bytes
        self.cut_after_download_bytes = cut_after_download_bytes
        self.cuts_left = cuts
        self.bytes_to_client = 0
        self.bytes_from_client = 0
        self.cut_connections = 0
        self.faults = faults
        self.injected: Counter[str] = Counter()
        self.requests = 0
        self._random = random.Random(faults.seed if faults else 0)
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            serve = self._serve_request if self.faults else self._serve
            threading.Thread(target=serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=30)
        with self._lock:
            cut = self.cuts_left is None or self.cuts_left > 0
            if cut and self.cuts_left is not None:
                self.cuts_left -= 1
        up_limit = self.cut_after_upload_bytes if cut else None
        down_limit = self.cut_after_download_bytes if cut else None
        threading.Thread(target=self._pump, args=(upstream, client, False, down_limit), daemon=True).start()
        self._pump(client, upstream, True, up_limit)

    def _serve_request(self, client: socket.socket) -> None:
        """Fault mode: one request per connection, which may be delayed, answered 5xx or cut."""
        head, rest = _read_head(client)
        if head is None:
            client.close()
            return
        kind, delay, cut_at = self._draw(len(head) + len(rest) + _content_length(head))
        time.sleep(delay)
        if kind in _ANSWERS:
            _answer_error(client, head, *_ANSWERS[kind])
            return
        upstream = socket.create_connection(self.upstream, timeout=30)
        first = _close_after(head) + rest
        up_limit = cut_at if kind == RESET_UPLOAD else None
        if up_limit is not None and up_limit < len(first):
            upstream.sendall(first[:up_limit])
            self._reset(client, upstream)
            return
        upstream.sendall(first)
        down_limit = cut_at if kind == RESET_RESPONSE else None
        threading.Thread(target=self._pump, args=(upstream, client, False, down_limit), daemon=True).start()
        self._pump(client, upstream, True, up_limit, already=len(first))

    def _draw(self, request_bytes: int) -> tuple[str | None, float, int]:
        """The fault (or ``None``), delay and cut position of the next request, under the lock so
        concurrent requests draw from one seeded sequence."""
        plan = self.faults
        assert plan is not None
        with self._lock:
            self.requests += 1
            delay = self._random.uniform(0, plan.latency_s)
            budget = plan.limit is None or sum(self.injected.values()) < plan.limit
            if not budget or self._random.random() >= plan.rate:
                return None, delay, 0
            kind = self._random.choice(plan.kinds)
            self.injected[kind] += 1
            upload_cut = self._random.randint(1, max(1, request_bytes - 1))
            cut_at = upload_cut if kind == RESET_UPLOAD else self._random.randint(1, _CUT_WITHIN)
            return kind, delay, cut_at

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        upload: bool,
        limit: int | None,
        already: int = 0,
    ) -> None:
        moved = already
        try:
            while chunk := source.recv(65536):
                if limit is not None and moved + len(chunk) > limit:
                    target.sendall(chunk[: limit - moved])
                    self._count(upload, limit - moved)
                    if self.faults:
                        self._reset(source, target)
                        return
                    with self._lock:
                        self.cut_connections += 1
                    break
                target.sendall(chunk)
                moved += len(chunk)
                self._count(upload, len(chunk))
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _reset(self, *sockets: socket.socket) -> None:
        """Close with RST (linger 0), as a broken network or a crashed server does, not a clean FIN."""
        with self._lock:
            self.cut_connections += 1
        for sock in sockets:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # SHUT_RD wakes the other pump blocked in recv() on this socket without sending a FIN;
                # only then does close() really release it, and with linger 0 that sends the RST.
                sock.shutdown(socket.SHUT_RD)
            sock.close()

    def _count(self, upload: bool, size: int) -> None:
        with self._lock:
            if upload:
                self.bytes_from_client += size
            else:
                self.bytes_to_client += size

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=2)


@contextmanager
def tcp_proxy(
    upstream_url: str,
    cut_after_upload_bytes: int | None = None,
    cut_after_download_bytes: int | None = None,
    cuts: int | None = None,
    faults: FaultPlan | None = None,
) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_url, cut_after_upload_bytes, cut_after_download_bytes, cuts, faults).start()
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def faulty_s3_endpoint(seaweedfs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """The session's SeaweedFS behind a proxy failing 5 % of requests (every kind of fault) with up to
    20 ms of latency; ``AWS_ENDPOINT_URL`` points at the proxy for the test, so storage resources and
    whole runs built from the environment go through it. ``FAULT_SEED`` picks another fault sequence.

    Import it into a test module (or conftest) to use it: ``from tests.support.tcp_proxy import
    faulty_s3_endpoint``.
    """
    plan = FaultPlan(rate=0.05, latency_s=0.02, seed=int(os.environ.get("FAULT_SEED", "0")))
    with tcp_proxy(seaweedfs.endpoint_url, faults=plan) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint_url)
        yield proxy


def _read_head(client: socket.socket) -> tuple[bytes | None, bytes]:
    """The request head (through the blank line) and whatever body bytes arrived with it."""
    buffer = b""
    with suppress(OSError):
        while _HEAD_END not in buffer and len(buffer) < _MAX_HEAD:
            chunk = client.recv(65536)
            if not chunk:
                break
            buffer += chunk
    if _HEAD_END not in buffer:
        return None, b""
    end = buffer.index(_HEAD_END) + len(_HEAD_END)
    return buffer[:end], buffer[end:]


def _header_lines(head: bytes) -> list[bytes]:
    return head[: -len(_HEAD_END)].split(b"\r\n")


def _content_length(head: bytes) -> int:
    for line in _header_lines(head)[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or 0)
    return 0


def _close_after(head: bytes) -> bytes:
    """The head with ``Connection: close``, so the next request needs a new connection (and a new
    draw); botocore does not sign this header, so the signature stays valid."""
    lines = [line for line in _header_lines(head) if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"]) + _HEAD_END


def _answer_error(client: socket.socket, head: bytes, status: int, reason: str, code: str) -> None:
    """Answer an S3-style error without forwarding, then drain what the client still sends so that
    closing does not turn into a reset before the client read the answer."""
    body = (
        b""
        if head.startswith(b"HEAD ")
        else (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            "<Message>injected by the test proxy</Message></Error>"
        ).encode()
    )
    answer = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body) if body else 0}\r\nConnection: close\r\n\r\n"
    ).encode()
    with suppress(OSError):
        client.sendall(answer + body)
        client.shutdown(socket.SHUT_WR)
        client.settimeout(2)
        while client.recv(65536):
            pass
    client.close()
