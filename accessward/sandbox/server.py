"""Run an ASGI app (a simulator) with uvicorn in a background thread on a loopback port.

Tests and ``accessward demo`` need a real HTTP server, not an in-process transport: the
connectors' timeouts, redirects and content-type checks only mean something over a socket.
The socket is bound here, before uvicorn starts, so port 0 yields a free port whose number is
known without parsing log lines, and ``start_app`` returns only once connections are accepted.
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

__all__ = ["RunningServer", "ServerStartError", "start_app"]


class ServerStartError(RuntimeError):
    """The server thread died or did not accept connections in time."""


class RunningServer:
    """A uvicorn server serving one app in a daemon thread; stop it with ``stop()`` or ``with``."""

    def __init__(self, server: uvicorn.Server, thread: threading.Thread, sock: socket.socket) -> None:
        self._server = server
        self._thread = thread
        self._sock = sock
        self.host, self.port = sock.getsockname()[:2]

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (no trailing slash)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread; safe to call twice."""
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():  # a stuck request: close the listener anyway
            self._server.force_exit = True
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RunningServer({self.url!r}, running={self.running})"


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _wait_until_accepting(server: uvicorn.Server, thread: threading.Thread, address: tuple[str, int],
                          deadline: float) -> None:
    """Block until uvicorn reports started and a TCP connect succeeds, or raise."""
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise ServerStartError("the server thread exited during startup (see its log)")
        if server.started:
            try:
                with socket.create_connection(address, timeout=0.5):
                    return
            except OSError:
                pass
        time.sleep(0.01)
    raise ServerStartError(f"server on {address} did not start in time")


def start_app(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> RunningServer:
    """Serve ``app`` (any ASGI application) on ``host:port`` (0 = a free port) until stopped.

    ``app`` is typed ``Any`` because uvicorn's own ASGI type is stricter than Starlette's and
    FastAPI's while accepting both at run time.
    """
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="auto", timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"uvicorn-{sock.getsockname()[1]}")
    thread.start()
    address = sock.getsockname()[:2]
    try:
        _wait_until_accepting(server, thread, address, time.monotonic() + startup_timeout)
    except BaseException:
        server.should_exit = True
        thread.join(startup_timeout)
        sock.close()
        raise
    return RunningServer(server, thread, sock)
