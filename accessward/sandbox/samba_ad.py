"""A throwaway Active Directory domain controller (Samba 4 AD DC) for tests.

An OpenLDAP with an AD-like schema shows the attribute mapping, but not what only a real AD
does: ``userAccountControl`` / ``accountExpires`` as ``samba-tool`` sets them, ``objectGUID`` and
``uSNChanged`` maintained by the server, the rootDSE's ``highestCommittedUSN`` and the DC's
``invocationId``, the in-chain matching rule (1.2.840.113556.1.4.1941) and MaxPageSize (1000).
:class:`SambaADServer` provisions a domain into a temporary directory (no DNS backend, loopback
only), starts ``samba`` as a daemon, waits for LDAP and stops it by the pid in its pid file::

    with SambaADServer() as dc:
        dc.start()
        dc.samba_tool("user", "disable", "jdoe")
        dc.url, dc.admin_dn, dc.admin_password, dc.base_dn

Constraints of Samba itself: it must run as root, and its LDAP port is fixed (389, LDAPS 636),
so one domain controller per machine at a time. Simple binds over plain LDAP are allowed here
(``ldap server require strong auth = no``) since the server listens on loopback only.

Debian packages: ``samba`` (the ``samba`` daemon and ``samba-tool``), ``samba-ad-dc`` and
``samba-ad-provision`` (the AD schema files ``samba-tool domain provision`` reads).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from accessward.sandbox.processes import Launched, read_pid, terminate

__all__ = ["SambaADError", "SambaADServer", "samba_available"]

_SCHEMA_PROBE = Path("/usr/share/samba/setup/ad-schema")
INSTALL_HINT = (
    "install Samba's AD DC as root, e.g. on Debian: DEBIAN_FRONTEND=noninteractive apt-get install -y "
    "--no-install-recommends samba samba-ad-dc samba-ad-provision"
)
LDAP_PORT = 389


class SambaADError(RuntimeError):
    """The throwaway domain controller could not be provisioned or started."""


def _binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in ("/usr/sbin", "/usr/bin", "/usr/local/samba/sbin", "/usr/local/samba/bin"):
        candidate = Path(directory) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def samba_available() -> bool:
    """True when samba, samba-tool and the AD provisioning files are installed and we are root."""
    return (
        _binary("samba") is not None
        and _binary("samba-tool") is not None
        and _SCHEMA_PROBE.is_dir()
        and hasattr(os, "geteuid")
        and os.geteuid() == 0
    )


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port_free(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _port_in_use(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


@dataclass
class SambaADServer(Launched):
    """A Samba AD DC for ``realm`` on 127.0.0.1:389 with its data in a temporary directory."""

    realm: str = "CORP.EXAMPLE.TEST"
    domain: str = "CORP"
    admin_password: str = "Adm1n-Secret-2026!"  # AD's complexity rules: upper, lower, digit, symbol
    start_timeout: float = 60.0

    _dir: Path | None = field(default=None, init=False, repr=False)
    _pid: int | None = field(default=None, init=False, repr=False)

    # -- names -----------------------------------------------------------------------------------

    @property
    def base_dn(self) -> str:
        return ",".join(f"DC={part}" for part in self.realm.lower().split("."))

    @property
    def users_dn(self) -> str:
        return f"CN=Users,{self.base_dn}"

    @property
    def admin_dn(self) -> str:
        return f"CN=Administrator,{self.users_dn}"

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{LDAP_PORT}"

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise SambaADError("the domain controller has not been started")
        return self._dir

    @property
    def conf(self) -> Path:
        return self.directory / "etc" / "smb.conf"

    @property
    def running(self) -> bool:
        if self._pid is None:
            return False
        try:
            os.kill(self._pid, 0)
        except ProcessLookupError:
            return False
        return True

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Provision a fresh domain and serve it; raises :class:`SambaADError` when it cannot."""
        if not samba_available():
            raise SambaADError(f"Samba AD DC is not usable here (needs root): {INSTALL_HINT}")
        if self.running:
            raise SambaADError("the domain controller is already running")
        if not _wait_port_free(LDAP_PORT, 10.0):
            raise SambaADError(f"127.0.0.1:{LDAP_PORT} is taken (another slapd or samba?): Samba's port is fixed")
        self._dir = Path(tempfile.mkdtemp(prefix="accessward-samba-"))
        try:
            self._provision()
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop samba (SIGTERM to its pid, then SIGKILL to the process group) and remove its data."""
        pid = self._pid
        if pid is None and self._dir is not None:
            pid = read_pid(self._dir / "run" / "samba.pid")
        if pid is not None:
            terminate(pid, timeout=15.0, interval=0.05)
            # samba -D leads its own process group; its task processes can outlive the master
            # for a moment and keep the fixed port: end the group it led if they do.
            if not _wait_port_free(LDAP_PORT, 10.0):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                _wait_port_free(LDAP_PORT, 5.0)
        self._pid = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # -- tools -----------------------------------------------------------------------------------

    def samba_tool(self, *args: str) -> str:
        """Run ``samba-tool <args>`` against this domain's database; returns its output."""
        tool = _binary("samba-tool")
        if tool is None:
            raise SambaADError(f"samba-tool is not installed: {INSTALL_HINT}")
        directory = self.directory
        command = [tool, *args, "-s", str(self.conf), "-H", str(directory / "private" / "sam.ldb")]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=directory)
        if done.returncode != 0:
            raise SambaADError(f"samba-tool {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done.stdout

    # -- internals -------------------------------------------------------------------------------

    def _provision(self) -> None:
        directory = self.directory
        tool = _binary("samba-tool")
        assert tool is not None
        done = subprocess.run(
            [
                tool, "domain", "provision", f"--realm={self.realm}", f"--domain={self.domain}",
                "--server-role=dc", "--dns-backend=NONE", f"--adminpass={self.admin_password}",
                f"--targetdir={directory}", "--option=interfaces=lo", "--option=bind interfaces only=yes",
            ],
            capture_output=True, text=True, check=False, cwd=directory,
        )
        if done.returncode != 0:
            raise SambaADError(f"samba-tool domain provision failed: {(done.stderr or done.stdout).strip()[-2000:]}")
        (directory / "run").mkdir()
        (directory / "log").mkdir()
        conf = self.conf.read_text()
        conf = re.sub(r"^\s*(server services|log file)\s*=.*\n", "", conf, flags=re.MULTILINE)
        extra = "".join(
            f"\t{line}\n"
            for line in (
                f"pid directory = {directory / 'run'}",
                f"log file = {directory / 'log' / 'log.%m'}",
                "ldap server require strong auth = no",
                "server services = ldap, cldap, kdc",
            )
        )
        self.conf.write_text(conf.replace("[global]\n", "[global]\n" + extra, 1))

    def _launch(self) -> None:
        directory = self.directory
        samba = _binary("samba")
        assert samba is not None
        done = subprocess.run([samba, "-D", "-s", str(self.conf)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SambaADError(f"samba did not start: {(done.stderr or done.stdout).strip()[-2000:]}")
        pid_file = directory / "run" / "samba.pid"
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._pid is None:
                self._pid = read_pid(pid_file)
            if self._pid is not None and self._ready():
                return
            time.sleep(0.1)
        logs = sorted((directory / "log").glob("log.*"))
        tail = logs[0].read_text(errors="replace")[-2000:] if logs else "no log"
        raise SambaADError(f"samba did not answer LDAP binds within {self.start_timeout:.0f} s: {tail}")

    def _ready(self) -> bool:
        from ldap3 import NONE, Connection, Server

        try:
            server = Server("127.0.0.1", port=LDAP_PORT, connect_timeout=1, get_info=NONE)
            conn = Connection(server, self.admin_dn, self.admin_password, receive_timeout=5)
            if conn.bind():
                conn.unbind()
                return True
        except Exception:  # noqa: S110 - not accepting connections yet
            pass
        return False
