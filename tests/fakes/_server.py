"""Plumbing shared by the fake chat APIs: a uvicorn server on a background thread, a book of
injected faults, and the record of every call.

The fakes run in the test process so tests can inspect their state directly; uvicorn on its own
event loop in a daemon thread keeps a slow or long-polling request from blocking anyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Self

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ThreadedASGIServer:
    """Serve an ASGI app on 127.0.0.1 (an OS-chosen port) from a daemon thread."""

    def __init__(self, app: ASGIApp, *, name: str = "fake-api") -> None:
        self._app = app
        self._name = name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's event loop, for waking long polls from other threads."""
        return self._loop

    def start(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            raise RuntimeError("server already started")
        # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections; without it
        # Nagle plus delayed ACKs cost ~40 ms per response.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._guarded_app,
            lifespan="off",
            interface="asgi3",
            proxy_headers=False,
            server_header=False,
            date_header=False,
            log_level="warning",
            access_log=False,
            loop="asyncio",
            http="h11",
            timeout_keep_alive=30,
            backlog=2048,
        )
        self._server = uvicorn.Server(config)
        server = self._server

        def run() -> None:
            async def serve() -> None:
                self._loop = asyncio.get_running_loop()
                self._task = asyncio.current_task()
                await server.serve(sockets=[sock])

            with contextlib.suppress(asyncio.CancelledError):
                asyncio.run(serve())
            sock.close()

        self._thread = threading.Thread(target=run, name=self._name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self._name} did not start")
            time.sleep(0.005)

    async def _guarded_app(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        except asyncio.CancelledError:
            if not self._stopping:
                raise  # only a call cut by stop() ends quietly

    def stop(self, timeout: float = 5.0) -> None:
        """Stop at once: uvicorn's graceful shutdown would cost ~0.2 s per fake and test."""
        if self._server is None or self._thread is None:
            return
        self._stopping = True
        self._server.should_exit = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._halt)
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"{self._name} did not stop")
        self._server = None
        self._thread = None
        self._loop = None
        self._task = None
        self._stopping = False

    def _halt(self) -> None:
        """On the server loop: drop listeners and connections (in-flight calls are cut)."""
        assert self._server is not None
        for listener in self._server.servers:
            listener.close()
        for connection in list(self._server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.close()
        if self._task is not None:
            self._task.cancel()


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers, lower-cased names, latin-1 values (the last one wins)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def send_json(
    send: Send,
    status: int,
    payload: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    body = json.dumps(payload, ensure_ascii=False).encode()
    raw_headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


async def send_bytes(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[str, str]]
) -> None:
    """A binary answer (an image a fake hands back); `headers` include its content-type."""
    raw_headers = [(b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class ServedFake:
    """Start and stop a fake's `ThreadedASGIServer` (`self._server`), as a context manager from
    sync and async tests alike."""

    _server: ThreadedASGIServer

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)


@dataclass
class Fault:
    """An answer to give instead of (or before) the real one, for the next `remaining` calls.

    `status=None` means only `delay`, then the normal answer. `after_accept` means the call is
    processed and recorded first and the fault replaces only the response (a lost answer).
    """

    key: str
    remaining: int
    status: int | None = None
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    target: str | None = None
    after_accept: bool = False


class FaultBook:
    """Faults queued by tests, consumed in order by matching calls (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("a fault must apply to at least one call")
        with self._lock:
            self._faults.append(fault)

    def take(self, key: str, target: str | None) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.key != key or (fault.target is not None and fault.target != target):
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)


@dataclass(frozen=True)
class Call:
    """One request the fake answered: what was asked, when, and with which status."""

    method: str
    params: dict[str, Any]
    time: float
    status: int
    target: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Block until `predicate()` holds; for sync tests."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(0.005)


async def wait_until_async(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yield to the event loop until `predicate()` holds; for async tests."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.005)
