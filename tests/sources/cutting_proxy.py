"""A loopback TCP proxy that cuts downloads: the first connections die after K bytes to the client.

It sits between boto3 and SeaweedFS so an S3 GET loses its connection mid-body, as a proxy or a flaky
link does to a large tile, and the download has to resume.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse


class CuttingProxy:
    def __init__(self, upstream_url: str, cut_after_bytes: int, cuts: int = 1) -> None:
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.cut_after_bytes = cut_after_bytes
        self.cuts_left = cuts
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
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(self.upstream, timeout=30)
        with self._lock:
            limit = self.cut_after_bytes if self.cuts_left > 0 else None
            self.cuts_left -= limit is not None
        threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
        self._pump(upstream, client, limit)

    def _pump(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while chunk := source.recv(65536):
                if limit is not None and sent + len(chunk) > limit:
                    target.sendall(chunk[: limit - sent])
                    break
                target.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=2)


@contextmanager
def cutting_proxy(upstream_url: str, cut_after_bytes: int, cuts: int = 1) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(upstream_url, cut_after_bytes, cuts)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
