"""Alembic, driven from code: `pingan init` and the tests use the same path."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    command.downgrade(alembic_config(engine), revision)


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The code's newest migration: read from the files once (they do not change while running)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    from pingan.db.engine import READONLY

    with engine.connect().execution_options(**{READONLY: True}) as conn:
        return revision_on(conn)


def revision_on(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
