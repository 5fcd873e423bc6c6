"""Migrations match the models on both databases; backup and restore round-trip, across backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, inspect, select, text
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


def test_words_stored_as_chinese_become_keys(fresh: Engine) -> None:
    """0012: an alarm's title loses its device to the subject, household roles and residence kinds
    and consents' purposes become keys; a word of no known kind is kept in the person's notes."""
    migrate.upgrade(fresh, "0011")
    with fresh.begin() as conn:
        run = lambda sql, **kw: conn.execute(text(sql), kw)  # noqa: E731
        now = "2026-12-01 08:00:00"
        run(
            "INSERT INTO territory_nodes (id, kind, path, name, created_at, updated_at)"
            " VALUES (1, 'street', '/1/', '柳城街道', :now, :now)",
            now=now,
        )
        for pid, relation, residence in [
            (1, "户主", "户籍"),
            (2, "儿子", "外来"),
            (3, "邻居", None),
        ]:
            run(
                "INSERT INTO people (id, kind, node_id, name, relation, residence, created_at,"
                " updated_at) VALUES (:id, 'resident', 1, '张三', :rel, :res, :now, :now)",
                id=pid,
                rel=relation,
                res=residence,
                now=now,
            )
        for cid, purpose in [(1, "门禁"), (2, "关爱老人防走失")]:
            run(
                "INSERT INTO face_consents (id, person_id, node_id, path, purpose, central_storage,"
                " method, given_at, recorded_by, created_at, updated_at) VALUES"
                " (:id, 1, 1, '/1/', :purpose, false, 'paper', :now, 'test', :now, :now)",
                id=cid,
                purpose=purpose,
                now=now,
            )
        for aid, title in [(1, "火警 · 1栋烟感 · 大堂"), (2, "设备离线")]:
            run(
                "INSERT INTO alarms (id, rule_id, category, priority, title, node_id, path,"
                " dedupe_key, is_open, state, level, count, restored, raised_at, last_event_at,"
                " version) VALUES (:id, 'r', 'fire', 1, :title, 1, '/1/', :key, true, 'raised',"
                " 0, 1, false, :now, :now, 1)",
                id=aid,
                title=title,
                key=f"k{aid}",
                now=now,
            )
    migrate.upgrade(fresh)
    with fresh.connect() as conn:
        rows = lambda sql: [tuple(r) for r in conn.execute(text(sql))]  # noqa: E731
        assert rows("SELECT title, subject FROM alarms ORDER BY id") == [
            ("火警", "1栋烟感 · 大堂"),
            ("设备离线", None),
        ]
        assert rows("SELECT relation, residence, notes FROM people ORDER BY id") == [
            ("head", "registered", None),
            ("child", None, "居住情况：外来"),
            ("other", None, None),
        ]
        assert rows("SELECT purpose FROM face_consents ORDER BY id") == [
            ("door_access",),
            ("care",),
        ]
    migrate.downgrade(fresh, "0011")
    with fresh.connect() as conn:
        assert [tuple(r) for r in conn.execute(text("SELECT title FROM alarms ORDER BY id"))] == [
            ("火警 · 1栋烟感 · 大堂",),
            ("设备离线",),
        ]
