"""The audit chain holds when threads of one process append at once (offboarding lanes, service workers)."""

from __future__ import annotations

import threading
from pathlib import Path

from accessward.sync import audit
from accessward.sync.db import make_engine, upgrade


def test_threads_appending_at_once_never_fork_the_chain(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    barrier = threading.Barrier(6)

    def writer(n: int) -> None:
        barrier.wait()
        for i in range(20):
            audit.record(engine, "test.event", f"thread:{n}", {"i": i})

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        prevs = [p for (p,) in conn.exec_driver_sql("SELECT prev_hash FROM audit_event ORDER BY id")]
    assert len(prevs) == 120
    assert len(set(prevs)) == 120  # no two events chained onto the same one
    assert audit.verify(engine) == []
    engine.dispose()
