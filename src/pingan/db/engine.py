"""Engine and session factory: SQLite (WAL, foreign keys) by default, PostgreSQL by URL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings, get_settings

READONLY = "pingan_readonly"


def make_engine(settings: Settings, *, background_checkpoint: bool = False) -> Engine:
    """background_checkpoint: the WAL is checkpointed by a worker (see workers.py), not by the
    commit that happens to cross the threshold, which would stall that commit."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions (pysqlite's implicit BEGIN skips DDL and SELECT).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            if background_checkpoint:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A deferred transaction that reads and then writes fails or stalls when another
            # connection wrote in between (SQLITE_BUSY_SNAPSHOT); taking the write lock up front
            # makes concurrent writers wait their turn. Pure readers can ask for READONLY.
            readonly = conn.get_execution_options().get(READONLY, False)
            conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")

        return engine
    if settings.database_schema:
        schema = settings.database_schema
        if not schema.replace("_", "").isalnum():
            raise ValueError(f"invalid PINGAN_DATABASE_SCHEMA {schema!r}: letters, digits, _ only")
        kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
    return create_engine(url, **kwargs)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    return make_engine(get_settings())


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session], **info: Any) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back when it raises.

    ``info`` says who acts (actor, actor_user_id, ip) for the audit log.
    """
    session = factory()
    session.info.update(info)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def session_scope(actor: str | None = None) -> Iterator[Session]:
    """A unit of work for the CLI and workers."""
    with unit_of_work(get_sessionmaker(), actor=actor or "system") as session:
        yield session


def database_ok(engine: Engine) -> tuple[bool, str]:
    try:
        with engine.connect().execution_options(**{READONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as exc:  # reported on /healthz, never swallowed silently
        return False, f"{type(exc).__name__}: {exc}"
