"""The fake exchange's HTTP server: one thread per request, so a held answer blocks nobody else.
Held answers are released (and held requests processed at once) when the server stops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .exchange_core import Request, Response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, app: Callable[[Request], Response], release: threading.Event) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.release = release


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: no stale keep-alive sockets

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        headers = {key.lower(): value for key, value in self.headers.items()}
        request = Request(self.command, parts.path, parts.query, headers, body)
        response = self.server.app(request)
        if response.hold > 0:
            self.server.release.wait(response.hold)
        if response.drop:
            self.close_connection = True
            return
        payload, content_type = response.payload()
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as a timed-out client does

    do_GET = do_POST = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ServerThread:
    """Runs an app on 127.0.0.1 (an OS-chosen port) until `stop()`; held answers are released."""

    def __init__(self, app: Callable[[Request], Response], release: threading.Event) -> None:
        self.release = release
        self._server = _Server(app, release)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
            name="fake-exchange",
        )
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.release.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
