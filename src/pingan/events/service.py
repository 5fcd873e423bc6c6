"""Reading events and dead letters; replaying a dead letter once its cause is mended."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.db.paging import paginate
from pingan.devices.models import Device
from pingan.errors import Conflict, NotFound
from pingan.events.models import DeadLetter, Event
from pingan.events.pipeline import Incoming, Pipeline
from pingan.i18n import N_, phrase
from pingan.territory.models import TerritoryNode


def get_all(
    session: Session,
    *,
    actor: Principal,
    device_id: int | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Event], int]:
    stmt = (
        select(Event)
        .join(Device, Device.id == Event.device_id)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(actor.filter(TerritoryNode.path, Perm.devices_read))
    )
    if device_id is not None:
        stmt = stmt.where(Event.device_id == device_id)
    if kind:
        stmt = stmt.where(Event.kind == kind)
    if since:
        stmt = stmt.where(Event.received_at >= since)
    if until:
        stmt = stmt.where(Event.received_at < until)
    return paginate(session, stmt, order_by=Event.id.desc(), limit=limit, offset=offset)


def _letter_clause(actor: Principal) -> ColumnElement[bool]:
    """Dead letters of a known device follow its scope; unattributed ones are for root admins."""
    known = Device.id.in_(
        select(Device.id)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(actor.filter(TerritoryNode.path, Perm.devices_write))
    )
    clause = DeadLetter.device_id.is_not(None) & known
    if actor.is_root_admin():
        clause = clause | DeadLetter.device_id.is_(None)
    return clause


def dead_letters(
    session: Session,
    *,
    actor: Principal,
    channel: str | None = None,
    reason_key: str | None = None,
    pending: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[DeadLetter], int]:
    stmt = select(DeadLetter).outerjoin(Device, Device.id == DeadLetter.device_id)
    if not actor.system:
        stmt = stmt.where(_letter_clause(actor))
    if channel:
        stmt = stmt.where(DeadLetter.channel == channel)
    if reason_key:
        stmt = stmt.where(DeadLetter.reason_key == reason_key)
    if pending is not None:
        stmt = stmt.where(
            DeadLetter.replayed_at.is_(None) if pending else DeadLetter.replayed_at.is_not(None)
        )
    return paginate(session, stmt, order_by=DeadLetter.id.desc(), limit=limit, offset=offset)


def dead_letter_visible_or_raise(
    session: Session, *, actor: Principal, letter_id: int
) -> DeadLetter:
    stmt = (
        select(DeadLetter)
        .outerjoin(Device, Device.id == DeadLetter.device_id)
        .where(DeadLetter.id == letter_id)
    )
    if not actor.system:
        stmt = stmt.where(_letter_clause(actor))
    letter = session.scalar(stmt)
    if letter is None:
        raise NotFound(what=phrase(N_("死信 {n}"), n=letter_id))
    return letter


# channel → a function that parses a dead letter's raw bytes again into events (or raises).
Reparser = Callable[[Session, DeadLetter], list[Incoming]]


def replay(
    session: Session, *, letter: DeadLetter, pipeline: Pipeline, reparsers: dict[str, Reparser]
) -> str:
    """Put a dead letter through its channel's parsing and the pipeline again."""
    if (
        letter.replayed_at is not None
        and letter.replay_result
        and letter.replay_result.startswith("stored")
    ):
        raise Conflict(reason=N_("已重放成功，不再重复"))
    reparse = reparsers.get(letter.channel)
    if reparse is None:
        raise Conflict(reason=phrase(N_("{channel} 消息不能重放"), channel=letter.channel))
    letter.replayed_at = utcnow()
    try:
        items = reparse(session, letter)
    except Exception as exc:  # the cause is not mended yet: say so, keep the letter
        letter.replay_result = f"failed: {exc}"
        session.flush()
        return letter.replay_result
    outcomes = pipeline.process(session, items)
    stored = sum(1 for o in outcomes if not o.duplicate)
    letter.replay_result = f"stored {stored}, duplicate {len(outcomes) - stored}"
    session.flush()
    return letter.replay_result


def purge_dead_letters(session: Session, *, older_than_days: int) -> int:
    """Dead letters are kept PINGAN_DEAD_LETTER_DAYS (30): long enough to mend and replay."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
