"""The outside SCIM 2.0 checker (scim2-tester, run as `scim2 test` from scim2-cli) against a live service.

The app runs as `accessward serve` runs it (uvicorn on a loopback port, a SQLite store, an `hr`
token); the checker speaks real HTTP to it and must report no failure for the User resource type
we announce. Before the fixes of issue 12 it passed 61 of 66 checks.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from accessward import tokens
from accessward.api.app import create_app
from accessward.runtime import Runtime
from accessward.sandbox.server import start_app
from accessward.settings import Settings
from accessward.sync.db import open_store

MIN_CHECKS = 66  # what scim2-tester 0.5.2 runs for User + EnterpriseUser


def _scim2() -> str:
    found = shutil.which("scim2", path=str(Path(sys.executable).parent)) or shutil.which("scim2")
    assert found, "scim2 (scim2-cli) is in requirements/test.txt: install the test requirements"
    return found


def test_scim2_tester_passes_every_check(tmp_path: Path) -> None:
    rt = Runtime(Settings(), tmp_path, open_store(f"sqlite:///{tmp_path / 'store.db'}"))
    token = tokens.create(rt.engine, name="idp", role="hr", actor="test")
    try:
        with start_app(create_app(rt)) as server:
            env = {**os.environ, "SCIM_CLI_HEADERS": f"Authorization: Bearer {token}"}  # not on the command line
            done = subprocess.run([_scim2(), "--url", f"{server.url}/scim/v2", "test", "--check-status-code",
                                   "--check-content-type"], env=env,
                                  capture_output=True, text=True, timeout=300)
    finally:
        rt.close()
        rt.engine.dispose()
    verdicts = re.findall(r"^(SUCCESS|ERROR|CRITICAL|SKIPPED|WARNING)\s+(\S+)", done.stdout, re.MULTILINE)
    failed = [(v, name) for v, name in verdicts if v not in ("SUCCESS", "SKIPPED")]
    passed = sum(1 for v, _ in verdicts if v == "SUCCESS")
    print(f"scim2-tester: {passed} passed, {len(failed)} failed")
    assert failed == [], done.stdout[-4000:]
    assert passed >= MIN_CHECKS, done.stdout[-4000:]
    assert done.returncode == 0, done.stderr[-2000:]
    assert token not in done.stdout + done.stderr
