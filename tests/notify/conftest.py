"""A real SMTP server (aiosmtpd: STARTTLS with a test CA, AUTH required) and a local webhook receiver."""

from __future__ import annotations

import email
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

SMTP_USER, SMTP_PASSWORD = "accessward", "smtp-pw-5d1e0c"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Arrived:
    message: Message
    tls: bool
    authenticated: bool
    rcpt: list[str]


@dataclass
class MailServer:
    port: int
    ca_file: Path
    context: ssl.SSLContext
    arrived: list[Arrived] = field(default_factory=list)
    controller: Controller | None = None

    def start(self) -> None:
        """(Re)start on the same port: an aiosmtpd Controller runs once, so each start makes a new one."""
        self.controller = Controller(_Keep(self), hostname="127.0.0.1", port=self.port, tls_context=self.context,
                                     require_starttls=True, auth_required=True, auth_require_tls=True,
                                     authenticator=_authenticator)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


class _Keep:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.server.arrived.append(Arrived(email.message_from_bytes(envelope.content), session.ssl is not None,
                                           bool(session.authenticated), list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_USER.encode() and \
        auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok)


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    ca_file = tmp_path / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = MailServer(free_port(), ca_file, context)
    server.start()
    yield server
    server.stop()


@dataclass
class Receiver:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)  # (status, body) answered in turn, then 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            box.requests.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(raw)})
            status, body = box.answers.pop(0) if box.answers else (200, "ok")
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield box
    httpd.shutdown()
    httpd.server_close()
