"""The Alembic migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import accessward.sync.models  # noqa: F401
from accessward.sync.db import upgrade


def test_migrations_match_the_models(engine):
    upgrade(engine)  # idempotent: the fixture already upgraded once
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == [], f"models and migrations differ (write a migration): {diff}"
