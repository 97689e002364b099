"""Migration 0006 (the trail re-chained over body digests) and ``accessward audit redact``."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from accessward.sync import audit
from accessward.sync.audit_redact import redact
from accessward.sync.db import alembic_config, make_engine

SECRET = "EAAleakedTokenFromAnOlderVersion123"


def old_hash(prev: str, at: datetime, actor: str, kind: str, subject: str, data: object) -> str:
    """The scheme before 0006: the hash covered the body directly."""
    payload = json.dumps({"prev": prev, "at": at.isoformat(timespec="microseconds"), "actor": actor, "kind": kind,
                          "subject": subject, "data": data}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def old_store(tmp_path: Path, *, tamper: bool = False):
    """A store at revision 0005 with a trail written the old way, one event quoting a secret."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "0005")
    bodies = [{"run": 1, "status": "succeeded"},
              {"run": 2, "status": "failed", "error": f"malformed: redirect to https://x/?access_token={SECRET}"},
              {"plan": 1, "revocations": 0}]
    prev, start = "", datetime(2026, 11, 1, 2, 0, 0, 123456)
    with engine.begin() as conn:
        for i, body in enumerate(bodies):
            at = start + timedelta(minutes=i)
            digest = old_hash(prev, at, "system", "sync.finished", f"src{i}", body)
            conn.execute(text("INSERT INTO audit_event (at, actor, kind, subject, data, prev_hash, hash) "
                              "VALUES (:at, 'system', 'sync.finished', :s, :d, :p, :h)"),
                         {"at": at, "s": f"src{i}", "d": json.dumps(body), "p": prev, "h": digest})
            prev = digest
        if tamper:
            conn.execute(text("UPDATE audit_event SET subject = 'forged' WHERE id = 2"))
    return engine, prev


def test_the_migration_verifies_rechains_and_records_the_old_head(tmp_path: Path) -> None:
    engine, head = old_store(tmp_path)
    command.upgrade(alembic_config(engine), "head")
    assert audit.verify(engine) == []
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT id, kind, data, digest FROM audit_event ORDER BY id")).all()
    assert len(rows) == 4 and all(r.digest for r in rows)
    last = json.loads(rows[-1].data) if isinstance(rows[-1].data, str) else rows[-1].data
    assert rows[-1].kind == "audit.rechained" and last["old_head"] == head and last["events"] == 3
    # the old chain's guarantees carry over: an edit is still found
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET data = '{\"run\": 9}' WHERE id = 1"))
    assert [p.event_id for p in audit.verify(engine)] == [1]
    engine.dispose()


def test_a_broken_old_chain_is_never_rechained(tmp_path: Path) -> None:
    engine, _ = old_store(tmp_path, tamper=True)
    with pytest.raises(RuntimeError, match=r"does not verify \(events 2\)"):
        command.upgrade(alembic_config(engine), "head")
    engine.dispose()


def test_redact_removes_the_secret_keeps_the_chain_and_records_itself(tmp_path: Path) -> None:
    engine, _ = old_store(tmp_path)
    command.upgrade(alembic_config(engine), "head")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sync_run (source, source_type, role, status, started_at, counts, full, error) "
                          "VALUES ('meta', 'meta', 'access', 'failed', :t, '{}', 1, :e)"),
                     {"t": datetime(2026, 11, 1), "e": f"auth: token {SECRET} expired"})
    report = redact(engine, [SECRET], actor="cli:auditor")
    assert report.events == [2] and report.other_rows == 1 and report.recorded_as
    assert audit.verify(engine) == []
    with engine.connect() as conn:
        dump = "\n".join(str(tuple(r)) for t in ("audit_event", "sync_run")
                         for r in conn.execute(text(f"SELECT * FROM {t}")))
        kinds = [r.kind for r in conn.execute(text("SELECT kind FROM audit_event ORDER BY id"))]
    assert SECRET not in dump and "<redacted>" in dump
    assert kinds[-1] == "audit.redacted"
    # a redacted body may be exactly the redacted one, nothing else
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET data = '{\"run\": 2, \"status\": \"succeeded\"}' WHERE id = 2"))
    assert [p.event_id for p in audit.verify(engine)] == [2]
    engine.dispose()


def test_redact_is_idempotent_and_with_nothing_to_remove_records_nothing(tmp_path: Path) -> None:
    engine, _ = old_store(tmp_path)
    command.upgrade(alembic_config(engine), "head")
    first = redact(engine, [], actor="cli:auditor")  # credential shapes (access_token=...) go without being named
    assert first.events == [2]
    report = redact(engine, ["a-secret-that-was-never-there", SECRET], actor="cli:auditor")
    assert report.events == [] and report.recorded_as is None and audit.verify(engine) == []
    engine.dispose()


def test_the_cli_redacts_a_secret_named_by_an_environment_variable(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    engine, _ = old_store(tmp_path)
    command.upgrade(alembic_config(engine), "head")
    engine.dispose()
    (tmp_path / "accessward.toml").write_text('[store]\nurl = "sqlite:///old.db"\n')
    env = {**os.environ, "LEAKED": SECRET, "ACCESSWARD_ACTOR": "cli:auditor"}
    env.pop("ACCESSWARD_DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "accessward", "-c", str(tmp_path / "accessward.toml"), *args],
                              env=env, capture_output=True, text=True, timeout=120)

    done = cli("audit", "redact", "--env", "LEAKED")
    assert done.returncode == 0 and "redacted 1 audit event(s) (2)" in done.stdout, done.stdout + done.stderr
    assert cli("audit", "verify").returncode == 0
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("old.db*"))
    assert SECRET.encode() not in on_disk, "freed pages and the WAL are rewritten too"
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.connect() as conn:
        assert SECRET not in str(conn.execute(text("SELECT data FROM audit_event")).all())
        actor = conn.execute(text("SELECT actor FROM audit_event WHERE kind = 'audit.redacted'")).scalar()
    assert actor == "cli:auditor"
    engine.dispose()
