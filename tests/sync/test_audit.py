from __future__ import annotations

from sqlalchemy import text

from accessward.sync import audit


def test_chain_verifies_and_detects_edit_and_delete(engine):
    for i in range(5):
        audit.record(engine, "test.event", f"s{i}", {"n": i})
    assert audit.verify(engine) == []

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET subject = 'forged' WHERE id = 3"))
    problems = audit.verify(engine)
    assert [p.event_id for p in problems] == [3]

    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET subject = 's2' WHERE id = 3"))
    assert audit.verify(engine) == []
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = 2"))
    assert [p.event_id for p in audit.verify(engine)] == [3]
