"""Alembic environment: the engine comes from pingan (CLI or tests), never from an ini file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

from pingan.db.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:
    from pingan.db.engine import get_engine

    engine = get_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
