"""Several replicas starting together on one empty store: the schema is migrated once, and all come up.

Each instance upgrades the schema on start (sync/db.upgrade) under the store's migration lock
(``pg_advisory_lock`` on PostgreSQL, an ``flock`` beside the file on SQLite). Without the lock two
processes racing on an empty PostgreSQL both run ``CREATE TABLE`` (one dies with DuplicateTable) or
both insert into ``alembic_version``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

MIGRATED = "store.migrated"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSWARD_")}
    return env | extra


def _healthz(port: int, proc: subprocess.Popen[str], deadline: float) -> dict[str, str] | None:
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    return None


@pytest.mark.postgres
def test_two_instances_started_at_once_on_an_empty_postgresql_migrate_it_once(
        tmp_path: Path, pg_database: str) -> None:
    ports = [_free_port(), _free_port()]
    procs: list[subprocess.Popen[str]] = []
    for i, port in enumerate(ports):
        config = tmp_path / f"instance{i}.toml"
        config.write_text(f"[service]\nport = {port}\nsync_every_minutes = 0\n")
        log = (tmp_path / f"instance{i}.log").open("w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "accessward", "-c", str(config), "--log-level", "info", "serve"],
            cwd=tmp_path, env=_env(ACCESSWARD_DATABASE_URL=pg_database), stdout=log, stderr=subprocess.STDOUT,
            text=True))
    try:
        deadline = time.monotonic() + 90
        health = [_healthz(port, proc, deadline) for port, proc in zip(ports, procs, strict=True)]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    logs = [(tmp_path / f"instance{i}.log").read_text() for i in range(2)]
    assert all(h is not None and h["store"] == "ok" for h in health), logs
    joined = "\n".join(logs)
    assert "already exists" not in joined and "DuplicateTable" not in joined, joined
    assert joined.count(MIGRATED) == 1, joined  # exactly one instance ran the migrations

    engine = create_engine(pg_database)
    try:
        with engine.connect() as conn:
            versions = conn.execute(text("select version_num from alembic_version")).scalars().all()
    finally:
        engine.dispose()
    from alembic.script import ScriptDirectory

    from accessward.sync.db import MIGRATIONS, alembic_config, make_engine

    heads = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_heads()
    assert MIGRATIONS.is_dir()
    assert sorted(versions) == sorted(heads)  # one row per head: migrated once, to the newest revision


_OPEN = """
import sys, time
from accessward.sync.db import make_engine, upgrade
engine = make_engine(sys.argv[1])
while time.time() < float(sys.argv[2]):
    time.sleep(0.005)
print("migrated" if upgrade(engine) else "current")
"""


def test_processes_racing_on_an_empty_sqlite_file_migrate_it_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'accessward.db'}"
    start = str(time.time() + 2)  # both processes call upgrade() at the same instant
    procs = [subprocess.Popen([sys.executable, "-c", _OPEN, url, start], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [proc.communicate(timeout=120) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs), results
    assert sorted(out.strip() for out, _err in results) == ["current", "current", "migrated"], results


def test_a_second_upgrade_of_a_current_store_does_nothing(tmp_path: Path) -> None:
    from accessward.sync.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'accessward.db'}")
    try:
        assert upgrade(engine) is True
        assert upgrade(engine) is False
    finally:
        engine.dispose()
