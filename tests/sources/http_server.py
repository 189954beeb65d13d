"""A threaded HTTP server on 127.0.0.1, scripted per path with the faults real providers show.

Each path gets a :class:`Route`: static bytes (with or without ``Accept-Ranges``, honouring ``Range``
or not), a number of 5xx answers before the good one, a connection dropped after K body bytes, a
``Content-Length`` that lies, a stall before answering, or a handler function for dynamic answers
(a WFS). Every request is recorded, so tests can assert what the client actually sent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote

Handler = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: str
    headers: Message  # case-insensitive, as HTTP header names are


@dataclass
class Route:
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    accept_ranges: bool = False
    honour_range: bool = True
    range_offset: int = 0
    fail_first: int = 0
    fail_status: int = 500
    fail_headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    drops: int = 1
    announce_length: int | None = None
    stall_s: float = 0.0
    stalls: int = 0
    handler: Handler | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, counter: str) -> bool:
        """Use up one of ``counter`` (fail_first, drops, stalls); True if there was one left."""
        with self.lock:
            left = getattr(self, counter)
            if left > 0:
                setattr(self, counter, left - 1)
                return True
            return False


class ScriptedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), _RequestHandler)
        self._httpd.scripted = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def route(self, path: str, **script: object) -> Route:
        route = Route(**script)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def serve_directory(self, prefix: str, folder: Path) -> None:
        """Serve every file under ``folder`` at ``prefix/relative/path`` (no listing pages)."""
        for path in folder.rglob("*"):
            if path.is_file():
                self.route(f"{prefix}/{path.relative_to(folder).as_posix()}", body=path.read_bytes())

    def requests_to(self, path: str, method: str = "GET") -> list[Recorded]:
        return [r for r in self.requests if r.path == path and r.method == method]

    def record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    scripted: ScriptedServer

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up mid-answer (timeouts, faults) are part of the script, not errors."""


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``ScriptedServer.requests`` instead."""

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def _serve(self, send_body: bool) -> None:
        server = self.server.scripted  # type: ignore[attr-defined]
        raw_path, _, query = self.path.partition("?")
        path = unquote(raw_path)
        server.record(Recorded(self.command, path, query, self.headers))
        route = server.routes.get(path)
        if route is None:
            self._reply(404, {}, b"not found", send_body)
            return
        if route.take("stalls"):
            time.sleep(route.stall_s)
        if route.take("fail_first"):
            self._reply(route.fail_status, route.fail_headers, b"try again", send_body)
            return
        if route.handler is not None:
            status, headers, body = route.handler(dict(parse_qsl(query, keep_blank_values=True)))
            self._reply(status, headers, body, send_body)
            return
        self._serve_bytes(route, send_body)

    def _serve_bytes(self, route: Route, send_body: bool) -> None:
        body, status = route.body, 200
        headers = dict(route.headers)
        if route.accept_ranges:
            headers["Accept-Ranges"] = "bytes"
        requested = self.headers.get("Range")
        if requested and route.accept_ranges and route.honour_range:
            start = int(requested.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self._reply(416, {"Content-Range": f"bytes */{len(body)}"}, b"", send_body)
                return
            start += route.range_offset  # a server that gets ranges wrong
            headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            body, status = body[start:], 206
        if route.announce_length is not None:
            # A lie: announce one length, send the body, and close so the client sees the end.
            self._reply(status, headers, body, send_body, length=route.announce_length, close=True)
            return
        if send_body and route.drop_after is not None and route.take("drops"):
            self._reply(status, headers, body[: route.drop_after], send_body, length=len(body), close=True)
            return
        self._reply(status, headers, body, send_body)

    def _reply(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        send_body: bool,
        length: int | None = None,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self.wfile.flush()
        if close:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
