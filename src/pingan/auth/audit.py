"""The audit log: every write of an audited model is recorded at flush, reads on request.

Who acted is taken from ``session.info`` ("actor", "actor_user_id", "ip"), set once per request
or CLI command, so no service has to remember to write the log.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.util import identity_key

from pingan.auth.models import AuditEntry
from pingan.db.base import Base, utcnow
from pingan.masking import mask
from pingan.territory.models import TerritoryNode

# Entries that record a look at personal data (a resident's record or list, a whole phone or ID
# number, a face search, a recognition's snapshot, a camera's live picture): the audit page
# lists them apart, as PIPL asks of who saw or searched what.
READS = ("read", "search", "reveal", "face_search", "view")


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _value(obj: Base, key: str, value: Any) -> Any:
    if value is not None and key in obj.__audit_mask__:
        return mask(str(value))
    return _plain(value)


def _columns(obj: Base) -> list[str]:
    return [c.key for c in inspect(obj).mapper.column_attrs if c.key not in obj.__audit_exclude__]


def snapshot(obj: Base) -> dict[str, Any]:
    return {key: _value(obj, key, getattr(obj, key)) for key in _columns(obj)}


def changes(obj: Base) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _columns(obj):
        hist = state.attrs[key].history
        if hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if old != new:
                before[key] = _value(obj, key, old)
                after[key] = _value(obj, key, new)
    return before, after


def _entity_id(obj: Base) -> str:
    # Not state.identity: new objects get theirs only after the flush has finished.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    return ",".join(str(v) for v in key)


def _actor(session: Session) -> tuple[str, int | None, str | None]:
    return (
        str(session.info.get("actor") or "system"),
        session.info.get("actor_user_id"),
        session.info.get("ip"),
    )


def _scope_paths(session: Session, objs: list[Base]) -> dict[int, str]:
    wanted: set[int] = set()
    for obj in objs:
        node_id = getattr(obj, "audit_scope_node_id", lambda: None)()
        if node_id is not None and not isinstance(obj, TerritoryNode):
            wanted.add(node_id)
    found: dict[int, str] = {}
    for node_id in list(wanted):
        cached = session.identity_map.get(identity_key(TerritoryNode, node_id))
        if isinstance(cached, TerritoryNode) and "path" in cached.__dict__:
            found[node_id] = cached.path
            wanted.discard(node_id)
    if not wanted:
        return found
    table = TerritoryNode.__table__
    rows = session.connection().execute(
        select(table.c.id, table.c.path).where(table.c.id.in_(wanted))
    )
    return found | {row.id: row.path for row in rows}


def _scope_of(obj: Base, paths: dict[int, str]) -> str | None:
    if isinstance(obj, TerritoryNode):
        return obj.path or None
    node_id = getattr(obj, "audit_scope_node_id", lambda: None)()
    return paths.get(node_id) if node_id is not None else None


def _after_flush(session: Session, _ctx: UOWTransaction) -> None:
    pending: list[tuple[str, Base, dict[str, Any] | None, dict[str, Any] | None]] = []
    for obj in session.new:
        if isinstance(obj, Base) and obj.__audited__:
            pending.append(("create", obj, None, snapshot(obj)))
    for obj in session.dirty:
        if isinstance(obj, Base) and obj.__audited__ and session.is_modified(obj):
            before, after = changes(obj)
            if after:
                pending.append(("update", obj, before, after))
    for obj in session.deleted:
        if isinstance(obj, Base) and obj.__audited__:
            pending.append(("delete", obj, snapshot(obj), None))
    if not pending:
        return
    actor, actor_id, ip = _actor(session)
    paths = _scope_paths(session, [p[1] for p in pending])
    now = utcnow()
    rows = [
        {
            "at": now,
            "actor": actor,
            "actor_user_id": actor_id,
            "ip": ip,
            "action": action,
            "entity": obj.__tablename__,
            "entity_id": _entity_id(obj),
            "scope_path": _scope_of(obj, paths),
            "before": before,
            "after": after,
        }
        for action, obj, before, after in pending
    ]
    session.connection().execute(insert(AuditEntry), rows)


def record_number_read(
    session: Session, *, entity: str, entity_id: int, field: str, scope_path: str | None
) -> None:
    """A whole phone or identity-card number was read (every answer shows them masked)."""
    record(
        session,
        action="reveal",
        entity=entity,
        entity_id=str(entity_id),
        scope_path=scope_path,
        after={"field": field},
    )


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: str | None = None,
    scope_path: str | None = None,
    note: str | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Record what no flush shows: a read of personal data, a login, a backup."""
    actor, actor_id, ip = _actor(session)
    session.add(
        AuditEntry(
            at=utcnow(),
            actor=actor,
            actor_user_id=actor_id,
            ip=ip,
            action=action,
            entity=entity,
            entity_id=entity_id,
            scope_path=scope_path,
            note=note,
            after=after,
        )
    )
    session.flush()


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


install()
