"""Exit codes that tell a scheduler what happened: held revocations (4), an unreachable store (7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from accessward import exitcodes

SETTINGS = """\
[store]
url = "sqlite:///store.db"

[[identity_sources]]
name = "staff"
type = "roster_csv"
path = "staff.csv"

[[access_sources]]
name = "inventory"
type = "manual"
path = "inventory.csv"

[policy.rules.orphaned]
action = "revoke"
"""

INVENTORY = """\
network,resource_id,resource_name,account_id,account_name,email,role,level,verified_on
x,@brand,Brand on X,@ann,Ann,ann@example.com,Owner,admin,2026-11-20
x,@brand,Brand on X,@bob,Bob,bob@example.com,Delegate,full_publishing,2026-11-20
"""


def run(directory: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "ACCESSWARD_ACTOR": "exit-test", **(env or {})}
    if not env or "ACCESSWARD_DATABASE_URL" not in env:
        full.pop("ACCESSWARD_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "accessward", "-c", str(directory / "accessward.toml"), *args],
                          env=full, cwd=directory, capture_output=True, text=True, timeout=120)


def test_apply_exits_4_when_revocations_wait_for_a_failed_source(tmp_path: Path) -> None:
    (tmp_path / "accessward.toml").write_text(SETTINGS)
    (tmp_path / "inventory.csv").write_text(INVENTORY)
    (tmp_path / "staff.csv").write_text("email,name,active\nann@example.com,Ann,true\nbob@example.com,Bob,false\n")
    assert run(tmp_path, "sync").returncode == 0
    healthy = run(tmp_path, "apply")
    assert healthy.returncode == exitcodes.OK, healthy.stdout + healthy.stderr  # held for a manual step only
    (tmp_path / "staff.csv").unlink()  # the roster drop did not arrive
    assert run(tmp_path, "sync").returncode == exitcodes.SOURCE_FAILED
    held = run(tmp_path, "apply")
    assert held.returncode == exitcodes.SOURCE_FAILED, held.stdout + held.stderr
    assert "held back because a source is not fit to act on" in held.stderr


def test_an_unreachable_postgresql_is_one_clear_line_and_exit_7(tmp_path: Path) -> None:
    (tmp_path / "accessward.toml").write_text('[store]\nurl = "sqlite:///store.db"\n')
    url = "postgresql+psycopg://aw:pg-secret-pw@127.0.0.1:1/accessward"
    for command in (["report", "access"], ["sync"], ["apply"]):
        done = run(tmp_path, *command, env={"ACCESSWARD_DATABASE_URL": url})
        assert done.returncode == exitcodes.STORE_UNAVAILABLE, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert lines[0].startswith("error: cannot open the store postgresql+psycopg://aw:***@127.0.0.1:1/accessward")
        assert "refused" in lines[0].lower() and "pg-secret-pw" not in done.stderr + done.stdout
