"""A loopback TCP proxy that counts bytes and can cut connections: real network faults for tests.

It sits between a client (boto3, GDAL) and SeaweedFS. ``bytes_to_client`` proves ranged reads (how much
actually travelled); ``cut_after_upload_bytes`` / ``cut_after_download_bytes`` drop a connection once that
many bytes went up / came down on it, which is what a broken network does in the middle of a body.
``cuts`` limits how many connections are cut (``None``: every one).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse


class TcpProxy:
    def __init__(
        self,
        upstream_url: str,
        cut_after_upload_bytes: int | None = None,
        cut_after_download_bytes: int | None = None,
        cuts: int | None = None,
    ) -> None:
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.cut_after_upload_bytes = cut_after_upload_bytes
        self.cut_after_download_bytes = cut_after_download_bytes
        self.cuts_left = cuts
        self.bytes_to_client = 0
        self.bytes_from_client = 0
        self.cut_connections = 0
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
            cut = self.cuts_left is None or self.cuts_left > 0
            if cut and self.cuts_left is not None:
                self.cuts_left -= 1
        up_limit = self.cut_after_upload_bytes if cut else None
        down_limit = self.cut_after_download_bytes if cut else None
        threading.Thread(target=self._pump, args=(upstream, client, False, down_limit), daemon=True).start()
        self._pump(client, upstream, True, up_limit)

    def _pump(self, source: socket.socket, target: socket.socket, upload: bool, limit: int | None) -> None:
        moved = 0
        try:
            while chunk := source.recv(65536):
                if limit is not None and moved + len(chunk) > limit:
                    target.sendall(chunk[: limit - moved])
                    self._count(upload, limit - moved)
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
) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_url, cut_after_upload_bytes, cut_after_download_bytes, cuts).start()
    try:
        yield proxy
    finally:
        proxy.stop()
