"""HTTPS for simulators: a throwaway test CA (trustme) and a TLS variant of ``sandbox.server.start_app``.

msal refuses an ``http://`` authority, so the Entra/Graph simulator has to speak HTTPS; the
Keycloak simulator does too, so that the connectors are exercised with certificate checking on
(``verify=<CA file>``), exactly as in production, instead of with ``verify=False``.

``TestCA`` writes three PEM files into a directory: the CA certificate (what a client passes
as ``verify``), and the server's certificate chain and key (what uvicorn loads). trustme is a
test/demo dependency and is imported only here, lazily.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from accessward.sandbox.server import RunningServer, _bind, _wait_until_accepting

__all__ = ["RunningTlsServer", "TestCA", "TlsFiles", "start_tls_app"]

DEFAULT_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths of the PEM files: ``ca_file`` for clients, ``cert_file``/``key_file`` for the server."""

    ca_file: Path
    cert_file: Path
    key_file: Path


class TestCA:
    """A fresh certificate authority and one server certificate for loopback names.

    ``TestCA()`` writes into a temporary directory removed by ``cleanup()`` (or ``with``);
    ``TestCA(directory)`` writes into ``directory`` and leaves it in place (``accessward demo``).
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, directory: str | Path | None = None, hosts: tuple[str, ...] = DEFAULT_HOSTS) -> None:
        import trustme  # a test/demo dependency: imported only when HTTPS simulators are used

        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="accessward-ca-")
            directory = self._tmp.name
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        ca = trustme.CA(organization_name="Accessward sandbox")
        leaf = ca.issue_cert(*hosts)
        self.files = TlsFiles(root / "ca.pem", root / "server-chain.pem", root / "server-key.pem")
        ca.cert_pem.write_to_path(str(self.files.ca_file))
        leaf.private_key_pem.write_to_path(str(self.files.key_file))
        self.files.cert_file.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
        self.files.key_file.chmod(0o600)

    @property
    def ca_file(self) -> str:
        """The CA certificate as a path string: what ``verify=`` takes in httpx, requests and msal."""
        return str(self.files.ca_file)

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> TestCA:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


class RunningTlsServer(RunningServer):
    """A ``RunningServer`` whose URL is ``https://``."""

    @property
    def url(self) -> str:
        return "https" + super().url[len("http"):]


def start_tls_app(
    app: Any,
    tls: TlsFiles | TestCA,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> RunningTlsServer:
    """Serve ``app`` over HTTPS on ``host:port`` (0 = a free port) with ``tls``'s certificate.

    The same as ``sandbox.server.start_app`` apart from uvicorn's ``ssl_certfile``/``ssl_keyfile``
    (``start_app`` has no way to pass them). Returns once TCP connections are accepted.
    """
    files = tls.files if isinstance(tls, TestCA) else tls
    sock = _bind(host, port)
    config = uvicorn.Config(
        app, log_level=log_level, access_log=False, lifespan="auto", timeout_graceful_shutdown=2,
        ssl_certfile=str(files.cert_file), ssl_keyfile=str(files.key_file),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"uvicorn-tls-{sock.getsockname()[1]}")
    thread.start()
    address = sock.getsockname()[:2]
    try:
        _wait_until_accepting(server, thread, address, time.monotonic() + startup_timeout)
    except BaseException:
        server.should_exit = True
        thread.join(startup_timeout)
        sock.close()
        raise
    return RunningTlsServer(server, thread, sock)
