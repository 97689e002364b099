"""Alembic environment: runs against the engine handed over by ``sync.db.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

# Importing the model modules registers their tables on the metadata.
import accessward.sync.models
import accessward.sync.principal_models
import accessward.sync.review_models
import accessward.sync.service_models  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def run() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from accessward.sync.db import make_engine, resolve_url

        engine = make_engine(resolve_url(config.get_main_option("sqlalchemy.url")))
    with engine.begin() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True,
        )
        context.run_migrations()


run()
