"""Exit codes that tell a scheduler what happened: held revocations (4), an unreachable store (7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_an_unreadable_database_url_file_is_one_line_naming_it_and_exit_2(tmp_path: Path) -> None:
    """ACCESSWARD_DATABASE_URL_FILE missing, a directory, not text or empty: one line naming the file, exit 2."""
    (tmp_path / "accessward.toml").write_text('[store]\nurl = "sqlite:///store.db"\n')
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00postgresql")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "secrets").mkdir()
    cases = {"missing": "No such file or directory", "secrets": "Is a directory",
             "binary": "is not a text file", "empty": "is empty"}
    for name, reason in cases.items():
        path = tmp_path / name
        for command in (["report", "access"], ["sync"]):
            done = run(tmp_path, *command, env={"ACCESSWARD_DATABASE_URL_FILE": str(path)})
            assert done.returncode == exitcodes.CONFIG, (name, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
            assert lines[0].startswith("error: ACCESSWARD_DATABASE_URL_FILE: "), lines[0]
            assert str(path) in lines[0] and reason in lines[0], lines[0]
    assert not (tmp_path / "store.db").exists()  # the settings' own store was not opened instead


def test_a_database_url_file_without_read_permission_is_one_line_and_exit_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied (made so even as root, where chmod 000 does not stop reading): the same one line."""
    import errno

    from typer.testing import CliRunner

    from accessward.cli import app

    (tmp_path / "accessward.toml").write_text('[store]\nurl = "sqlite:///store.db"\n')
    secret = tmp_path / "db-url"
    secret.write_text("postgresql+psycopg://aw:pg-secret-pw@db/accessward\n")
    secret.chmod(0)
    real_read_text = Path.read_text

    def read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self == secret:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return real_read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", read_text)
    monkeypatch.delenv("ACCESSWARD_DATABASE_URL", raising=False)
    monkeypatch.setenv("ACCESSWARD_DATABASE_URL_FILE", str(secret))
    done = CliRunner().invoke(app, ["-c", str(tmp_path / "accessward.toml"), "report", "access"])
    assert done.exit_code == exitcodes.CONFIG, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit), done.exception
    assert f"ACCESSWARD_DATABASE_URL_FILE: cannot read {secret}: Permission denied" in " ".join(done.output.split())
    assert "pg-secret-pw" not in done.output
