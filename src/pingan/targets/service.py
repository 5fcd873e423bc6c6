"""The targets register: set, change and withdraw targets; their values (computed by a measure,
or the latest entry); their standing against the time gone; the readings that make their trend.
Flushes only; the caller commits."""

from __future__ import annotations

import calendar
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, delete, func, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import today, utcnow
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.i18n import N_, Phrase, phrase
from pingan.photos import Document
from pingan.targets.measures import MEASURES, Measure, Span
from pingan.targets.models import Reading, Source, Target
from pingan.targets.schemas import ReadingIn, TargetIn, TargetPatch
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind

BEHIND = 0.1  # behind: more than this share of the way short of where the time gone says


def _what(target_id: int) -> Phrase:
    return phrase(N_("目标 {n}"), n=target_id)


# --- who sees what ------------------------------------------------------------------------------


def _ancestors(paths: Sequence[str]) -> set[str]:
    """ "/1/7/" → {"/1/", "/1/7/"}: a community's staff read the street's targets too."""
    out: set[str] = set()
    for path in paths:
        parts = path.strip("/").split("/")
        out.update("/" + "/".join(parts[: n + 1]) + "/" for n in range(len(parts)))
    return out


def scope_clause(actor: Principal, perm: Perm = Perm.targets_read) -> ColumnElement[bool]:
    """Targets inside the actor's scope, and those of the nodes above it (the street's)."""
    if actor.system:
        return true()
    return or_(actor.filter(Target.path, perm), Target.path.in_(_ancestors(actor.paths(perm))))


def _sees(actor: Principal, path: str) -> bool:
    if actor.can(Perm.targets_read, path):
        return True
    return path in _ancestors(actor.paths(Perm.targets_read))


def get_visible_or_raise(session: Session, *, actor: Principal, target_id: int) -> Target:
    target = session.get(Target, target_id)
    if target is None or not _sees(actor, target.path):
        raise NotFound(what=_what(target_id))
    return target


def get_all(
    session: Session,
    *,
    actor: Principal,
    within: str | None = None,
    active: bool | None = None,
    measures: Sequence[str] | None = None,
    perm: Perm = Perm.targets_read,
) -> list[Target]:
    """Targets in view, street-wide first; `within` a community: its own and the street's.
    Another page's `perm` shows the targets of what that page shows (the renovation board's)."""
    stmt = select(Target).where(scope_clause(actor, perm))
    if measures is not None:
        stmt = stmt.where(Target.measure.in_(list(measures)))
    if within:
        stmt = stmt.where(Target.path.in_(_ancestors([within])))
    if active is not None:
        stmt = stmt.where(Target.active == active)
    rows = session.scalars(stmt.order_by(Target.path, Target.deadline, Target.id))
    return sorted(rows, key=lambda t: (t.path.count("/"), t.path, t.deadline, t.id))


def may_enter(actor: Principal, target: Target) -> bool:
    return target.measure is None and target.active and actor.can(Perm.targets_write, target.path)


def may_manage(actor: Principal, target: Target) -> bool:
    return actor.can(Perm.targets_manage, target.path)


# --- setting targets ----------------------------------------------------------------------------


def measure_of(key: str | None) -> Measure | None:
    if key is None:
        return None
    found = MEASURES.get(key)
    if found is None:
        raise Invalid("target_measure", field="measure", measure=key, choices=", ".join(MEASURES))
    return found


def _check_terms(target: Target) -> None:
    if target.deadline <= target.starts_on:
        raise Invalid("target_deadline", field="deadline")
    if target.target_value == target.baseline:
        raise Invalid("target_value", field="target_value")


def create(session: Session, *, actor: Principal, data: TargetIn) -> Target:
    node = territory_service.get(session, node_id=data.node_id)
    if node is None or not actor.sees(node.path):
        raise NotFound(what=phrase(N_("节点 {n}"), n=data.node_id))
    if node.kind not in (NodeKind.street, NodeKind.community):
        raise Invalid("target_node", field="node_id")
    if not actor.can(Perm.targets_manage, node.path):
        raise Forbidden(action=Perm.targets_manage.value)
    measure_of(data.measure)
    target = Target(
        name=data.name,
        definition=data.definition,
        unit=data.unit,
        baseline=data.baseline,
        target_value=data.target_value,
        starts_on=data.starts_on,
        deadline=data.deadline,
        node_id=node.id,
        path=node.path,
        measure=data.measure,
        active=True,
        created_by=actor.actor,
        updated_at=utcnow(),
        version=1,
    )
    _check_terms(target)
    session.add(target)
    session.flush()
    fill(session, target=target)
    return target


def update(session: Session, *, actor: Principal, target: Target, data: TargetPatch) -> Target:
    if not may_manage(actor, target):
        raise Forbidden(action=Perm.targets_manage.value)
    if data.version != target.version:
        raise Conflict("target_changed")
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    since = target.starts_on
    for key, value in changes.items():
        if value is not None:
            setattr(target, key, value)
    _check_terms(target)
    session.flush()
    if target.measure is not None and target.starts_on != since:
        # A counting measure counts from the first day: what it read before counted otherwise.
        session.execute(
            delete(Reading).where(Reading.target_id == target.id, Reading.source == Source.computed)
        )
        fill(session, target=target)
    return target


# --- values -------------------------------------------------------------------------------------


def month_ends(since: date, until: date) -> list[date]:
    """The last day of each month from `since`'s to the one before `until`'s, then `until`."""
    out = []
    year, month = since.year, since.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end >= until:
            break
        out.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return [*out, until]


def compute(session: Session, *, target: Target, on: date) -> float:
    measure = measure_of(target.measure)
    assert measure is not None
    return float(measure.compute(session, Span(target.path, target.starts_on, on)))


def record(session: Session, *, target: Target, on: date) -> Reading:
    """The measure's value on a day, kept as that day's reading (the last of the day wins)."""
    value = compute(session, target=target, on=on)
    row = session.scalar(
        select(Reading).where(
            Reading.target_id == target.id, Reading.on == on, Reading.source == Source.computed
        )
    )
    if row is None:
        row = Reading(target_id=target.id, on=on, source=Source.computed, seq=0, value=value)
        session.add(row)
    else:
        row.value = value
        row.at = utcnow()
    session.flush()
    return row


def fill(session: Session, *, target: Target) -> None:
    """A new computed target's trend: month by month from its first day where the measure can
    look back, today's value otherwise."""
    measure = measure_of(target.measure)
    if measure is None:
        return
    now = min(today(), target.deadline)
    if now < target.starts_on:
        return
    for day in month_ends(target.starts_on, now) if measure.historic else [now]:
        record(session, target=target, on=day)


def record_all(session: Session) -> int:
    """Today's reading of every active computed target still running (the hourly job)."""
    day = today()
    targets = session.scalars(
        select(Target).where(
            Target.active,
            Target.measure.is_not(None),
            Target.starts_on <= day,
            Target.deadline >= day,
        )
    ).all()
    for target in targets:
        record(session, target=target, on=day)
    return len(targets)


def value_of(session: Session, *, target: Target) -> tuple[float | None, date | None]:
    """The value now (by the deadline once it has passed) and the day it is for."""
    day = min(today(), target.deadline)
    if target.measure is not None:
        measure = measure_of(target.measure)
        assert measure is not None
        if day >= target.starts_on and (measure.historic or day == today()):
            return compute(session, target=target, on=day), day
        source = Source.computed
    else:
        source = Source.entered
    last = session.execute(
        select(Reading.value, Reading.on)
        .where(Reading.target_id == target.id, Reading.source == source, Reading.on <= day)
        .order_by(Reading.on.desc(), Reading.seq.desc())
        .limit(1)
    ).first()
    return (float(last[0]), last[1]) if last else (None, None)


@dataclass(frozen=True)
class Standing:
    value: float | None
    progress: float | None  # 0‥1 of the way from the baseline to the target
    expected: float  # 0‥1 of the time gone
    status: str  # met | on_track | behind | overdue | not_started
    as_of: date | None


def standing_of(target: Target, value: float | None, as_of: date | None) -> Standing:
    now = today()
    span = (target.deadline - target.starts_on).days
    expected = min(1.0, max(0.0, (now - target.starts_on).days / span)) if span > 0 else 1.0
    if value is None:
        status = "overdue" if now > target.deadline else "not_started"
        return Standing(None, None, round(expected, 3), status, None)
    progress = (value - target.baseline) / (target.target_value - target.baseline)
    if progress >= 1:
        status = "met"
    elif now > target.deadline:
        status = "overdue"
    elif progress >= expected - BEHIND:
        status = "on_track"
    else:
        status = "behind"
    return Standing(value, round(max(0.0, progress), 3), round(expected, 3), status, as_of)


def standing(session: Session, *, target: Target) -> Standing:
    value, as_of = value_of(session, target=target)
    return standing_of(target, value, as_of)


# --- entries ------------------------------------------------------------------------------------


def enter(
    session: Session,
    *,
    actor: Principal,
    target: Target,
    data: ReadingIn,
    evidence: Document | None = None,
) -> Reading:
    """A value entered with what shows it (the note, and a photo or PDF where there is one)."""
    if not actor.can(Perm.targets_write, target.path):
        raise Forbidden(action=Perm.targets_write.value)
    if target.measure is not None:
        measure = MEASURES[target.measure]
        raise Invalid("target_computed", field="value", measure=phrase(measure.name))
    if not target.active:
        raise Invalid("target_inactive")
    if data.on > today() or data.on < target.starts_on:
        raise Invalid("target_reading_date", field="on", since=target.starts_on.isoformat())
    seq = session.scalar(
        select(func.count()).where(
            Reading.target_id == target.id, Reading.on == data.on, Reading.source == Source.entered
        )
    )
    row = Reading(
        target_id=target.id,
        on=data.on,
        source=Source.entered,
        seq=int(seq or 0),
        value=data.value,
        note=data.note,
        evidence=evidence.data if evidence else None,
        evidence_type=evidence.content_type if evidence else None,
        evidence_sha256=hashlib.sha256(evidence.data).hexdigest() if evidence else None,
        entered_by=actor.actor,
        at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:  # another entry of the same day at the same moment
        raise Conflict("target_changed") from exc
    return row


def readings(session: Session, *, target: Target) -> list[Reading]:
    return list(
        session.scalars(
            select(Reading)
            .where(Reading.target_id == target.id)
            .order_by(Reading.on, Reading.source, Reading.seq)
        )
    )


def reading_or_raise(session: Session, *, target: Target, reading_id: int) -> Reading:
    row = session.get(Reading, reading_id)
    if row is None or row.target_id != target.id:
        raise NotFound(what=phrase(N_("填报记录 {n}"), n=reading_id))
    return row
