"""Starting and stopping the real servers the sandbox launches (``sandbox.slapd``, ``sandbox.samba_ad``).

Both launchers wrote the same lifecycle: a ``with`` block that stops the server, the pid read from the
server's pidfile, and a stop that sends SIGTERM, waits for the process to go and sends SIGKILL when it
does not. It lives here once, so a fix to how a server is stopped (a zombie child, a pid reused) reaches
both; what each server needs besides (Samba's fixed port and process group, slapd's kept data) stays
in its launcher.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["Launched", "read_pid", "terminate"]


class Launched:
    """A launcher usable as ``with Server(...).start() as server:``; leaving the block stops it."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_pid(pidfile: Path) -> int | None:
    """The pid a server wrote to ``pidfile`` (its first word), or None when there is none (yet)."""
    with contextlib.suppress(OSError, ValueError):
        return int(pidfile.read_text().split()[0])
    return None


def _gone(pid: int, proc: subprocess.Popen[bytes] | None) -> bool:
    if proc is not None and proc.pid == pid:
        return proc.poll() is not None  # our own child: reaped, not merely a zombie
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def terminate(pid: int, *, timeout: float, proc: subprocess.Popen[bytes] | None = None,
              interval: float = 0.02) -> None:
    """SIGTERM to ``pid``, wait up to ``timeout`` seconds for it to go, then SIGKILL.

    ``proc``: the :class:`subprocess.Popen` that started it, when it is our child, so that its exit
    is seen (a child that exited stays a zombie, answering ``kill(pid, 0)``, until it is reaped).
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _gone(pid, proc):
            return
        time.sleep(interval)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
