"""The PostgreSQL fixtures give each test a real, working, empty database."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


def test_pg_database_is_a_working_empty_database(pg_database: str, postgres_url: str) -> None:
    assert pg_database.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    assert pg_database != postgres_url  # a fresh database, not the shared one

    engine = sa.create_engine(pg_database)
    metadata = sa.MetaData()
    people = sa.Table(
        "people",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source_key", sa.String(64), nullable=False, unique=True),
    )
    try:
        with engine.begin() as conn:
            assert sa.inspect(conn).get_table_names() == []
            metadata.create_all(conn)
            conn.execute(sa.insert(people), [{"source_key": "a"}, {"source_key": "b"}])
        with engine.connect() as conn:
            keys = conn.execute(sa.select(people.c.source_key).order_by(people.c.source_key)).scalars().all()
            assert keys == ["a", "b"]
            assert int(conn.execute(sa.text("SHOW server_version_num")).scalar_one()) >= 150000
    finally:
        engine.dispose()
