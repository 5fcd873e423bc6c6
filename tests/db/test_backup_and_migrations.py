"""Migrations match the models on both databases; backup and restore round-trip, across backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from pingan.auth.models import AuditEntry, User
from pingan.auth.principal import SYSTEM
from pingan.db import backup, migrate
from pingan.db.engine import make_engine
from pingan.db.models import Base
from pingan.territory import service as territory_service
from pingan.territory.models import Person, ResidentGroup, SiteType, TerritoryNode
from pingan.territory.schemas import GroupCreate, GroupUpdate, NodeCreate, PersonCreate
from tests.conftest import BACKENDS, drop_pg_schema, require_pg, settings_for


@pytest.fixture(params=BACKENDS)
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty database of its own (a new SQLite file or PostgreSQL schema), committed for real."""
    if request.param == "postgresql":
        require_pg()
    settings = settings_for(request.param, tmp_path)
    engine = make_engine(settings)
    yield engine
    engine.dispose()
    if settings.database_schema:
        drop_pg_schema(settings.database_schema)


def test_migrations_up_down_up_and_match_models(fresh: Engine) -> None:
    migrate.upgrade(fresh)
    assert migrate.current_revision(fresh) == migrate.head_revision()
    migrate.downgrade(fresh, "base")
    assert set(inspect(fresh).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(fresh)
    with fresh.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def _fill(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        s.info["actor"] = "test"
        street = territory_service.create(
            s, actor=SYSTEM, data=NodeCreate(kind="street", name="柳城街道")
        )
        community = territory_service.create(
            s, actor=SYSTEM, data=NodeCreate(kind="community", parent_id=street.id, name="光华社区")
        )
        grid = territory_service.create(
            s,
            actor=SYSTEM,
            data=NodeCreate(kind="grid", parent_id=community.id, name="光华第1网格"),
        )
        site = territory_service.create(
            s,
            actor=SYSTEM,
            data=NodeCreate(
                kind="site", parent_id=grid.id, name="光华苑", site_type=SiteType.work_unit
            ),
        )
        person = territory_service.create_person(
            s,
            actor=SYSTEM,
            data=PersonCreate(node_id=site.id, name="张三", id_number="11010519491231002X"),
        )
        group = territory_service.create_group(
            s, actor=SYSTEM, data=GroupCreate(community_id=community.id, name="第1居民小组")
        )
        territory_service.update_group(
            s, actor=SYSTEM, group=group, data=GroupUpdate(leader_person_id=person.id)
        )
        person.resident_group_id = group.id
        s.commit()
        return {"person": person.id, "group": group.id, "site": site.id}


def _snapshot(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in Base.metadata.sorted_tables
        }


def test_backup_and_restore_round_trip(fresh: Engine, tmp_path: Path) -> None:
    migrate.upgrade(fresh)
    ids = _fill(fresh)
    before = _snapshot(fresh)
    dest = tmp_path / "b.db"
    rows = backup.backup(fresh, dest)
    assert rows == sum(before.values())
    with pytest.raises(backup.BackupError, match="exists"):
        backup.backup(fresh, dest)

    with Session(fresh) as s:  # changes after the backup are undone by the restore
        s.info["actor"] = "test"
        territory_service.delete(
            s,
            actor=SYSTEM,
            node=territory_service.get_or_raise(s, node_id=ids["site"]),
            cascade=True,
        )
        s.commit()
    assert backup.restore(fresh, dest) == rows
    assert _snapshot(fresh) == before
    with Session(fresh) as s:
        group = s.get(ResidentGroup, ids["group"])
        person = s.get(Person, ids["person"])
        assert group is not None and group.leader_person_id == ids["person"]
        assert person is not None and person.id_number == "11010519491231002X"
        # New rows get fresh ids after a restore (sequences were moved past the restored ones).
        territory_service.create(s, actor=SYSTEM, data=NodeCreate(kind="street", name="新街道"))
        s.commit()
        assert s.scalar(select(func.count(AuditEntry.id))) == before["audit_log"] + 1


def test_restore_into_the_other_backend(fresh: Engine, tmp_path: Path) -> None:
    """A backup is a SQLite file whatever it came from, so data moves between backends."""
    source = make_engine(settings_for("sqlite", tmp_path / "src"))
    migrate.upgrade(source)
    _fill(source)
    before = _snapshot(source)
    backup.backup(source, tmp_path / "portable.db")
    source.dispose()
    backup.restore(fresh, tmp_path / "portable.db")
    assert _snapshot(fresh) == before
    with Session(fresh) as s:
        assert (
            s.scalar(select(TerritoryNode.path).where(TerritoryNode.name == "光华苑"))
            == "/1/2/3/4/"
        )


def test_restore_refuses_a_foreign_file(fresh: Engine, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    other = make_engine(settings_for("sqlite", tmp_path / "o"))
    migrate.upgrade(other, "base")
    other.dispose()
    with pytest.raises(backup.BackupError, match="not found"):
        backup.restore(fresh, tmp_path / "missing.db")
    import sqlite3

    sqlite3.connect(bogus).close()
    with pytest.raises(backup.BackupError, match="schema revision None"):
        backup.restore(fresh, bogus)
    assert not inspect(fresh).has_table(User.__tablename__)
