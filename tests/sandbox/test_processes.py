"""The launchers' shared stop (``sandbox.processes``): SIGTERM, a bounded wait, SIGKILL; a reaped child is gone."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from accessward.sandbox.processes import Launched, read_pid, terminate

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); " \
               "time.sleep(60)"


def test_a_child_that_exits_on_sigterm_is_seen_gone_at_once() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = time.monotonic()
    terminate(proc.pid, timeout=10.0, proc=proc)
    assert proc.poll() is not None and proc.returncode == -15  # SIGTERM ended it; not waited out to SIGKILL
    assert time.monotonic() - started < 5.0


def test_a_child_that_ignores_sigterm_is_killed_after_the_timeout() -> None:
    proc = subprocess.Popen([sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"  # its SIGTERM handler is set
    started = time.monotonic()
    terminate(proc.pid, timeout=0.5, proc=proc)
    assert proc.wait(timeout=5.0) == -9
    assert time.monotonic() - started >= 0.5


def test_read_pid_and_the_with_block(tmp_path: Path) -> None:
    assert read_pid(tmp_path / "absent.pid") is None
    (tmp_path / "garbled.pid").write_text("not-a-pid\n")
    assert read_pid(tmp_path / "garbled.pid") is None
    (tmp_path / "server.pid").write_text("4242 extra\n")
    assert read_pid(tmp_path / "server.pid") == 4242

    class Server(Launched):
        stopped = 0

        def stop(self) -> None:
            self.stopped += 1

    with Server() as server:
        assert server.stopped == 0
    assert server.stopped == 1
