"""A loopback TCP proxy that counts bytes and can cut connections: real network faults for tests.

It sits between a client (boto3, GDAL) and SeaweedFS. ``bytes_to_client`` proves ranged reads (how much
actually travelled); ``cut_after_upload_bytes`` drops every connection once the client has sent that
many bytes on it, which is what a broken network does to an upload in the middle of a body.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse


class TcpProxy:
    def __init__(self, upstream_url: str, cut_after_upload_bytes: int | None = None) -> None:
        upstream = urlparse(upstream_url)
        self.upstream = (upstream.hostname or "127.0.0.1", upstream.port or 80)
        self.cut_after_upload_bytes = cut_after_upload_bytes
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
        uploaded = [0]
        threading.Thread(target=self._pump, args=(upstream, client, False, uploaded), daemon=True).start()
        self._pump(client, upstream, True, uploaded)

    def _pump(self, source: socket.socket, target: socket.socket, upload: bool, uploaded: list[int]) -> None:
        try:
            while chunk := source.recv(65536):
                if upload and self.cut_after_upload_bytes is not None:
                    if uploaded[0] + len(chunk) > self.cut_after_upload_bytes:
                        with self._lock:
                            self.cut_connections += 1
                        break
                    uploaded[0] += len(chunk)
                target.sendall(chunk)
                with self._lock:
                    if upload:
                        self.bytes_from_client += len(chunk)
                    else:
                        self.bytes_to_client += len(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def start(self) -> TcpProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=2)


@contextmanager
def tcp_proxy(upstream_url: str, cut_after_upload_bytes: int | None = None) -> Iterator[TcpProxy]:
    proxy = TcpProxy(upstream_url, cut_after_upload_bytes).start()
    try:
        yield proxy
    finally:
        proxy.stop()
