"""Migration 0008: passwords an earlier version stored for SCIM users are removed on upgrade."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command

from accessward.sync.db import alembic_config, make_engine, resolve_url, upgrade


def test_upgrade_removes_stored_passwords_and_keeps_the_lifecycle(tmp_path: Path) -> None:
    engine = make_engine(resolve_url(f"sqlite:///{tmp_path / 'old.db'}"))
    command.upgrade(alembic_config(engine), "0005")
    with engine.begin() as conn:
        for uid, active in (("u1", True), ("u2", False)):
            conn.execute(sa.text(
                "INSERT INTO scim_user (id, user_name, active, resource, deactivations, created_at, updated_at, "
                "version) VALUES (:id, :name, :active, :resource, 0, '2026-11-01', '2026-11-01', 1)"),
                {"id": uid, "name": f"{uid}@example.com", "active": active,
                 "resource": f'{{"userName": "{uid}@example.com", "Password": "Old-Secret-1"}}'})
    upgrade(engine)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT id, resource FROM scim_user")).all())
    engine.dispose()
    assert "Old-Secret-1" not in str(rows)
    assert '"active": true' in rows["u1"] and '"active": false' in rows["u2"]
