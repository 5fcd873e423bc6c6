"""Engine and session factory: SQLite (WAL, foreign keys) by default, PostgreSQL by URL.

On SQLite one transaction writes at a time. SQLite's own busy handler makes waiting writers poll
with growing sleeps, not in turn, so under load a writer can wait for half a minute while others
keep getting through. Here the writers of a process queue for the database in arrival order
before `BEGIN IMMEDIATE` and hand it on at commit or rollback; the busy handler is left to
arbitrate only with other processes (the CLI, a backup)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from prometheus_client import Histogram
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings, get_settings

READONLY = "pingan_readonly"
SQLITE_POOL = 40  # as many as the request threads (anyio's default)
WRITE_WAIT_S = 30.0  # as SQLite's busy timeout: past it a writer gives up with "database busy"
WRITE_WAIT = Histogram(
    "pingan_sqlite_write_wait_seconds",
    "Time a transaction waited for its turn to write to SQLite",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WRITE_HOLD = Histogram(
    "pingan_sqlite_write_hold_seconds",
    "Time a transaction held the turn to write to SQLite (BEGIN IMMEDIATE to its end)",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


class WriterQueue:
    """First come, first served: the right to write to one SQLite database in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._waiting: deque[threading.Event] = deque()
        self.waits = 0  # writers that had to queue, for /metrics
        self.timeouts = 0

    def acquire(self, timeout: float = WRITE_WAIT_S) -> None:
        with self._lock:
            if not self._held and not self._waiting:
                self._held = True
                return
            turn = threading.Event()
            self._waiting.append(turn)
            self.waits += 1
        if turn.wait(timeout):
            return  # handed over by the writer before us
        with self._lock:
            if turn.is_set():  # handed over just as the wait ran out
                return
            self._waiting.remove(turn)
            self.timeouts += 1
        raise sqlite3.OperationalError(f"database busy: no turn to write within {timeout:.0f} s")

    def release(self) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().set()  # still held: it passes straight to the next
            else:
                self._held = False

    @property
    def queued(self) -> int:
        return len(self._waiting)


_queues: dict[str, WriterQueue] = {}
_queues_lock = threading.Lock()


def writer_queue(path: str) -> WriterQueue:
    """One queue per database file, shared by every engine of this process on that file."""
    with _queues_lock:
        return _queues.setdefault(path, WriterQueue())


class _QueuedConnection(sqlite3.Connection):
    """A pysqlite connection that gives its turn to write back when its transaction ends."""

    queue: WriterQueue
    writing = False
    since = 0.0

    def begin_writing(self) -> None:
        asked = time.perf_counter()
        self.queue.acquire()
        self.since = time.perf_counter()
        WRITE_WAIT.observe(self.since - asked)
        self.writing = True

    def _done(self) -> None:
        if self.writing:
            self.writing = False
            self.queue.release()
            WRITE_HOLD.observe(time.perf_counter() - self.since)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._done()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._done()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._done()


def make_engine(settings: Settings, *, background_checkpoint: bool = False) -> Engine:
    """background_checkpoint: the WAL is checkpointed by a worker (see workers.py), not by the
    commit that happens to cross the threshold, which would stall that commit."""
    url = settings.database_url
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        from pathlib import Path

        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        queued = type(
            "QueuedConnection",
            (_QueuedConnection,),
            {"queue": writer_queue(str(Path(path).resolve()) if path else ":memory:")},
        )
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30, "factory": queued}
        # A local file needs no ping; enough kept connections for every request thread, so
        # none is opened (and its pragmas run) under load.
        kwargs.update(pool_pre_ping=False, pool_size=SQLITE_POOL, max_overflow=SQLITE_POOL)
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
            if conn.get_execution_options().get(READONLY, False):
                conn.exec_driver_sql("BEGIN")
                return
            dbapi = conn.connection.dbapi_connection
            dbapi.begin_writing()  # our turn, in arrival order; handed on at commit or rollback
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                dbapi._done()
                raise

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
