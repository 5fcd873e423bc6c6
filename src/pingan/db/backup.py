"""Backups: a consistent copy of a live database, as a SQLite file, on either backend.

SQLite is copied with its online backup API; PostgreSQL is read in one REPEATABLE READ, READ ONLY
transaction into a fresh SQLite file built by the same migrations. Restore loads such a file into
a database at the same schema revision, all in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    delete,
    insert,
    select,
    text,
    update,
)

from pingan.db import migrate
from pingan.db.models import Base

BATCH = 2000
Progress = Callable[[str, int], None]


class BackupError(RuntimeError):
    pass


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _sqlite_path(engine: Engine) -> str:
    return str(engine.url.database)


def backup(engine: Engine, dest: Path, progress: Progress | None = None) -> int:
    """Write a consistent copy of the database to dest; returns the number of rows copied."""
    if dest.exists():
        raise BackupError(f"{dest} exists already; choose another file name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    revision = migrate.current_revision(engine)
    if revision != migrate.head_revision():
        raise BackupError(
            f"database at revision {revision}, code at {migrate.head_revision()}: run `pingan init`"
        )
    if engine.dialect.name == "sqlite":
        src = sqlite3.connect(_sqlite_path(engine))
        dst = sqlite3.connect(str(dest))
        try:
            src.backup(
                dst,
                pages=1024,
                progress=(lambda _s, remaining, total: progress("pages", total - remaining))
                if progress
                else None,
            )
        finally:
            dst.close()
            src.close()
        return _count_rows(dest)
    target = create_engine(f"sqlite:///{dest}")
    migrate.upgrade(target)
    copied = 0
    tables = _tables()
    with engine.connect() as source, target.begin() as out:
        # The backup holds the source's rows alone: not those a migration ships (programmes, …).
        _clear(out, tables, _deferred_columns(tables))
        source.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
        for table in tables:
            result = source.execution_options(yield_per=BATCH).execute(select(table))
            for chunk in result.mappings().partitions(BATCH):
                out.execute(insert(table), [dict(r) for r in chunk])
                copied += len(chunk)
                if progress:
                    progress(table.name, copied)
        source.rollback()
    target.dispose()
    return copied


def _count_rows(path: Path) -> int:
    eng = create_engine(f"sqlite:///{path}")
    try:
        with eng.connect() as conn:
            return sum(
                int(conn.scalar(select(text("count(*)")).select_from(t)) or 0) for t in _tables()
            )
    finally:
        eng.dispose()


def _deferred_columns(tables: list[Table]) -> dict[str, set[str]]:
    """Foreign keys to the same table or one restored later (cycles): inserted empty, filled in
    at the end, so the order of rows and tables never trips a constraint."""
    order = {t.name: i for i, t in enumerate(tables)}
    deferred: dict[str, set[str]] = {}
    for table in tables:
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if order.get(target, -1) >= order[table.name]:
                deferred.setdefault(table.name, set()).add(fk.parent.name)
    return deferred


def restore(engine: Engine, source: Path, progress: Progress | None = None) -> int:
    """Replace every row of the database with the backup's; all or nothing."""
    if not source.is_file():
        raise BackupError(f"{source} not found")
    backup_engine = create_engine(f"sqlite:///{source}")
    try:
        revision = migrate.current_revision(backup_engine)
        if revision != migrate.head_revision():
            raise BackupError(
                f"backup at schema revision {revision}, this pingan at {migrate.head_revision()}; "
                "restore it with the pingan version that made it"
            )
        migrate.upgrade(engine)
        tables = _tables()
        deferred = _deferred_columns(tables)
        restored = 0
        with backup_engine.connect() as src, engine.begin() as dst:
            _clear(dst, tables, deferred)
            later: list[tuple[Table, dict[str, Any]]] = []
            for table in tables:
                cols = deferred.get(table.name, set())
                pk = [c.name for c in table.primary_key.columns]
                for chunk in src.execute(select(table)).mappings().partitions(BATCH):
                    rows = [dict(r) for r in chunk]
                    for row in rows:
                        if cols and any(row[c] is not None for c in cols):
                            later.append(
                                (table, {**{k: row[k] for k in pk}, **{c: row[c] for c in cols}})
                            )
                            for c in cols:
                                row[c] = None
                    dst.execute(insert(table), rows)
                    restored += len(rows)
                    if progress:
                        progress(table.name, restored)
            for table, values in later:
                key_columns = list(table.primary_key.columns)
                keys = {c.name for c in key_columns}
                stmt = update(table).where(*[c == values[c.name] for c in key_columns])
                dst.execute(stmt.values({k: v for k, v in values.items() if k not in keys}))
            if engine.dialect.name == "postgresql":
                _move_sequences(dst, tables)
        return restored
    finally:
        backup_engine.dispose()


def _clear(conn: Connection, tables: list[Table], deferred: dict[str, set[str]]) -> None:
    for name, cols in deferred.items():
        conn.execute(update(Base.metadata.tables[name]).values(dict.fromkeys(cols)))
    for table in reversed(tables):
        conn.execute(delete(table))


def _move_sequences(conn: Connection, tables: list[Table]) -> None:
    """Restored ids were inserted explicitly: move each sequence past them."""
    for table in tables:
        if (
            "id" in table.c
            and table.c.id.autoincrement is not False
            and table.c.id.type.python_type is int
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)"
                )
            )
