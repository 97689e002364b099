"""One apply at a time on SQLite, across processes (the lock file beside the store).

Two ``accessward apply`` processes start together against one SQLite store and a Meta simulator
whose writes are slow: each revocation is sent exactly once, and every outcome is "done" (no
"already_gone" for what this very run removed). Also: the lock is a real cross-process lock that
a killed holder does not leave behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session

from accessward.sandbox import meta
from accessward.sandbox.meta_state import MetaState
from accessward.sandbox.server import SlowWrites, start_app
from accessward.sync.db import open_store
from accessward.sync.locks import lock_file, try_lock
from accessward.sync.models import Action, AuditEvent

LEAVERS = 10
TOKEN = "apply-lock-test-token"

SETTINGS = """\
[store]
url = "sqlite:///store.db"

[[identity_sources]]
name = "staff"
type = "roster_csv"
path = "staff.csv"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{url}/v21.0"
business_id = "100000000000001"
access_token = {{ env = "AW_META_TOKEN" }}
instagram = "none"
partners = false

[policy]
max_revocation_share = 1.0

[policy.rules.orphaned]
action = "revoke"
"""


def _world() -> MetaState:
    state = MetaState("100000000000001", "Lock Brand")
    state.add_token(TOKEN)
    page = state.add_page("Lock Brand", page_id="200000000000009")
    boss = state.add_business_user("Boss Admin", "boss@example.com", role="ADMIN", user_id="300000000000100")
    state.assign(page.id, boss.id, ["MANAGE", "CREATE_CONTENT"])
    for i in range(LEAVERS):
        user = state.add_business_user(f"Leaver {i}", f"leaver{i}@example.com", user_id=f"3000000000002{i:02d}")
        state.assign(page.id, user.id, ["CREATE_CONTENT", "ANALYZE"])
    return state


def _cli(directory: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "accessward", "-c", str(directory / "accessward.toml"), *args],
                            env=env, cwd=directory, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_applies_at_once_send_each_revocation_exactly_once(tmp_path: Path) -> None:
    rows = ["email,name,active", "boss@example.com,Boss Admin,true"]
    rows += [f"leaver{i}@example.com,Leaver {i},false" for i in range(LEAVERS)]
    (tmp_path / "staff.csv").write_text("\n".join(rows) + "\n")
    slow = SlowWrites(meta.create_app(_world()), delay=0.4)
    with start_app(slow) as server:
        (tmp_path / "accessward.toml").write_text(SETTINGS.format(url=server.url))
        env = {**os.environ, "AW_META_TOKEN": TOKEN, "ACCESSWARD_ACTOR": "lock-test"}
        env.pop("ACCESSWARD_DATABASE_URL", None)
        sync = _cli(tmp_path, env, "sync")
        out, _ = sync.communicate(timeout=120)
        assert sync.returncode == 0, out
        first, second = _cli(tmp_path, env, "apply"), _cli(tmp_path, env, "apply")
        outs = [p.communicate(timeout=240)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outs
    deletes = [w for w in slow.writes if w[0] == "DELETE"]
    assert len(deletes) == LEAVERS and len(set(deletes)) == LEAVERS, slow.writes
    assert all("assigned_users" in path for _, path in deletes)
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    with Session(engine) as s:
        actions = list(s.execute(select(Action)).scalars())
        kinds = [e.kind for e in s.execute(select(AuditEvent)).scalars()]
    engine.dispose()
    assert len(actions) == LEAVERS and {a.state for a in actions} == {"done"}
    assert all(a.attempts == 1 for a in actions)
    assert kinds.count("revocation.done") == LEAVERS and "revocation.already_gone" not in kinds
    assert kinds.count("plan.created") == 1


HOLDER = """
import sys, time
from accessward.sync.db import open_store
from accessward.sync.locks import try_lock
engine = open_store(sys.argv[1])
with try_lock(engine, "apply") as got:
    print("held" if got else "busy", flush=True)
    time.sleep(60)
"""


def test_the_lock_holds_across_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = open_store(url)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with try_lock(engine, "apply") as got:
            assert got is False  # another process holds it
        with try_lock(engine, "sync:meta") as got:
            assert got is True  # other names are other locks
        path = lock_file(engine, "apply")
        assert path is not None and path.read_text().strip() == str(holder.pid)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
    deadline = time.monotonic() + 5
    while True:  # the kernel dropped the dead holder's lock
        with try_lock(engine, "apply") as got:
            if got or time.monotonic() > deadline:
                break
        time.sleep(0.05)
    assert got is True
    engine.dispose()
