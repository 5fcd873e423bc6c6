"""Alarms: raised from events by the rules, counted, restored, moved through their lifecycle,
escalated when nobody acknowledges them. Flushes only; the caller commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pingan.alarms import flows
from pingan.alarms.flows import Action
from pingan.alarms.models import OPEN_STATES, Alarm, AlarmEntry, AlarmState, Level, Notification
from pingan.alarms.notify import feed, outbox
from pingan.alarms.rules import Rule, RuleBook, When
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.db.paging import paginate
from pingan.devices.models import Device
from pingan.errors import Conflict, NotFound
from pingan.events.models import Event
from pingan.events.pipeline import Incoming, Stored
from pingan.i18n import N_, Phrase, phrase
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, TerritoryNode, ancestor_path

SYSTEM_ACTOR = "system"
# Kinds that never raise anything: kept out of the rule loop on the hot path.
QUIET_KINDS = frozenset({"heartbeat", "test", "status", "open_close"})


def dedupe_key(device_id: int | None, code: str, zone: str | None) -> str:
    return f"{device_id}:{code}:{zone or ''}"


def _entry(
    session: Session,
    alarm: Alarm,
    action: str,
    *,
    actor: str = SYSTEM_ACTOR,
    actor_user_id: int | None = None,
    from_state: AlarmState | None = None,
    note: str | None = None,
    event_id: int | None = None,
    at: datetime | None = None,
) -> AlarmEntry:
    """A line on the alarm's timeline; it is also the change that live pages receive."""
    entry = AlarmEntry(
        alarm_id=alarm.id,
        at=at or utcnow(),
        actor=actor,
        actor_user_id=actor_user_id,
        action=action,
        from_state=from_state.value if from_state else None,
        to_state=alarm.state.value,
        note=note,
        event_id=event_id,
    )
    session.add(entry)
    feed.touched(session)
    return entry


def record(
    session: Session,
    *,
    alarm: Alarm,
    action: str,
    actor: Principal,
    note: str | None = None,
    at: datetime | None = None,
) -> AlarmEntry:
    """A step taken elsewhere (a responder accepting a task …) on the alarm's timeline."""
    entry = _entry(
        session,
        alarm,
        action,
        actor=actor.actor,
        actor_user_id=actor.user_id,
        from_state=alarm.state,
        note=note,
        at=at,
    )
    session.flush()
    return entry


def _open_alarm(session: Session, key: str) -> Alarm | None:
    return session.scalar(
        select(Alarm)
        .where(Alarm.dedupe_key == key, Alarm.is_open.is_(True))
        .order_by(Alarm.id.desc())
    )


# A timeline's note in the catalogue's words: the alarm page shows it in the reader's language.
ESCALATED_TO = {
    Level.site: N_("升级至小区值班台"),
    Level.community: N_("升级至社区值班台"),
    Level.street: N_("升级至街道值班台"),
}


def _start_level(rule: Rule) -> Level:
    if rule.level is not None:
        return Level[rule.level]
    return Level.street if rule.priority == 1 else Level.site


def open_alarm(
    session: Session,
    *,
    rules: RuleBook,
    rule: Rule,
    subject: str | None,
    node_id: int,
    path: str,
    key: str,
    at: datetime,
    device_id: int | None = None,
    zone: str | None = None,
    event_id: int | None = None,
    contacts: list[str] | None = None,
) -> Alarm:
    """A new alarm on its starting desk, with its first timeline line and its notifications.
    Raised from a device's event, or by the platform itself (a patrol's missed checkpoints).
    Its title is the rule's (a word of the catalogue, shown in the reader's language); the
    subject says which device or route, as its people named it."""
    level = _start_level(rule)
    wait = rules.escalation_s(rule.priority)
    alarm = Alarm(
        rule_id=rule.id,
        category=rule.category,
        priority=rule.priority,
        title=rule.title,
        subject=(subject or None) and subject[:200],
        device_id=device_id,
        node_id=node_id,
        path=path,
        zone=zone,
        dedupe_key=key,
        is_open=True,
        state=AlarmState.raised,
        level=level,
        count=1,
        restored=False,
        first_event_id=event_id,
        raised_at=at,
        last_event_at=at,
        escalate_at=at + timedelta(seconds=wait) if wait and level < Level.street else None,
    )
    session.add(alarm)
    session.flush()
    entry = _entry(session, alarm, "raised", event_id=event_id, at=at, note=rule.id)
    session.flush()
    outbox.enqueue(
        session, alarm=alarm, entry=entry, event="alarm.raised", rules=rules, contacts=contacts
    )
    return alarm


@dataclass(frozen=True)
class Place:
    """Where an alarm is: its place from the street down, its site, its device, and its point
    on the map (the device's surveyed position, else its site's)."""

    trail: list[TerritoryNode]
    site: TerritoryNode | None
    device: Device | None
    point: tuple[float, float] | None


def place_of(session: Session, *, alarm: Alarm) -> Place:
    node = territory_service.get(session, node_id=alarm.node_id)
    trail = territory_service.ancestors(session, node=node) if node else []
    site = next((n for n in trail if n.kind == NodeKind.site), None)
    device = session.get(Device, alarm.device_id) if alarm.device_id else None
    point = (
        (device.lon, device.lat)
        if device is not None and device.lon is not None and device.lat is not None
        else (site.lon, site.lat)
        if site is not None and site.lon is not None and site.lat is not None
        else None
    )
    return Place(trail=trail, site=site, device=device, point=point)


def open_by_site(session: Session, *, actor: Principal) -> dict[str, tuple[int, int]]:
    """Open alarms in scope per site path: (how many, the highest priority among them)."""
    found: dict[str, tuple[int, int]] = {}
    for path, count, top in session.execute(
        select(Alarm.path, func.count(), func.min(Alarm.priority))
        .where(
            Alarm.state.in_([s.value for s in OPEN_STATES]),
            actor.filter(Alarm.path, Perm.alarms_read),
        )
        .group_by(Alarm.path)
    ):
        site = ancestor_path(path, NodeKind.site) or path
        was_count, was_top = found.get(site, (0, 9))
        found[site] = (was_count + count, min(was_top, top))
    return found


def alarm_snapshot(session: Session, alarm: Alarm) -> str | None:
    """The picture that came with the alarm's first event, when this platform serves it (a
    path here, or inline): no page calls out to another host."""
    first = session.get(Event, alarm.first_event_id) if alarm.first_event_id else None
    url = (first.payload or {}).get("snapshot") if first else None
    if not isinstance(url, str):
        return None
    own = url.startswith("data:image/") or (url.startswith("/") and not url.startswith("//"))
    return url if own else None


class Engine:
    """The pipeline consumer that turns events into alarms."""

    def __init__(self, rules: RuleBook) -> None:
        self.rules = rules

    def __call__(self, session: Session, events: list[Stored]) -> list[Incoming]:
        self.rules.refresh()
        for event in events:
            if event.kind in QUIET_KINDS:
                continue
            if event.kind == "restore":
                self._restore(session, event)
                continue
            for rule in self.rules.match(
                kind=event.kind, code=event.code, device_kind=event.device.kind
            ):
                if rule.unless is not None and _seen(
                    session, event, rule.unless, rule.within_s, same_device=True
                ):
                    continue
                if rule.distinct_devices is not None:
                    if _devices_agreeing(session, event, rule) < rule.distinct_devices:
                        continue
                    self._raise_or_count(
                        session, rule, event, key=f"node:{event.device.node_id}:{rule.id}"
                    )
                    continue
                self._raise_or_count(session, rule, event)
        return []

    def _raise_or_count(
        self, session: Session, rule: Rule, event: Stored, key: str | None = None
    ) -> Alarm:
        key = key or dedupe_key(event.device.id, event.code, event.zone)
        alarm = _open_alarm(session, key)
        if alarm is not None:
            # Repeats count on the open alarm; one after dedupe_s of quiet, or after the sensor
            # was restored, is also a line on the timeline, so the desk sees it came back.
            quiet = event.received_at - alarm.last_event_at > timedelta(seconds=rule.dedupe_s)
            alarm.count += 1
            alarm.last_event_at = event.received_at
            if alarm.restored:
                alarm.restored = False
                alarm.restored_at = None
                _entry(session, alarm, "repeat", event_id=event.id, note=N_("恢复后再次报警"))
            elif quiet:
                _entry(session, alarm, "repeat", event_id=event.id, note=N_("静默后再次报警"))
            session.flush()
            return alarm
        # Nothing open (never, or a person resolved it): a new alarm, never a silent count.
        location = f" · {event.device.location}" if event.device.location else ""
        return open_alarm(
            session,
            rules=self.rules,
            rule=rule,
            subject=f"{event.device.name}{location}",
            node_id=event.device.node_id,
            path=event.device.path,
            key=key,
            at=event.received_at,
            device_id=event.device.id,
            zone=event.zone,
            event_id=event.id,
            contacts=_contacts(event),
        )

    def _restore(self, session: Session, event: Stored) -> None:
        """The sensor is back to normal: mark the alarm restored; close it only where the rule
        says so and nobody needs to look (never a P1, never one a person has not seen)."""
        restore_by_key(
            session,
            rules=self.rules,
            key=dedupe_key(event.device.id, event.code, event.zone),
            at=event.received_at,
            event_id=event.id,
        )


def _matching(when: When) -> ColumnElement[bool]:
    clause: ColumnElement[bool] = Event.kind.in_(when.kind)
    if when.code is not None:
        clause = clause & Event.code.in_(when.code)
    return clause


def _seen(session: Session, event: Stored, when: When, within_s: int, *, same_device: bool) -> bool:
    """Did the device send an event like `when` in the `within_s` seconds before this one?"""
    since = event.received_at - timedelta(seconds=within_s)
    found = session.scalar(
        select(Event.id)
        .where(
            Event.device_id == event.device.id,
            Event.id != event.id,
            Event.received_at >= since,
            _matching(when),
        )
        .limit(1)
    )
    return found is not None


def _devices_agreeing(session: Session, event: Stored, rule: Rule) -> int:
    """How many devices of the event's site sent an event matching the rule within its window."""
    since = event.received_at - timedelta(seconds=rule.within_s)
    count = session.scalar(
        select(func.count(func.distinct(Event.device_id)))
        .join(Device, Device.id == Event.device_id)
        .where(
            Device.node_id == event.device.node_id, Event.received_at >= since, _matching(rule.when)
        )
    )
    return int(count or 0)


# --- reading ------------------------------------------------------------------------------------


def _contacts(event: Stored) -> list[str]:
    """Numbers the event itself asks to be told by SMS (a dementia watch entry's family)."""
    said = (event.payload or {}).get("notify_sms") or []
    return [str(n) for n in said if isinstance(n, str) and n.lstrip("+").isdigit()][:3]


def _what(alarm_id: int) -> Phrase:
    return phrase(N_("报警 {n}"), n=alarm_id)


def get(session: Session, *, alarm_id: int) -> Alarm | None:
    return session.get(Alarm, alarm_id)


def get_visible_or_raise(
    session: Session, *, actor: Principal, alarm_id: int, perm: Perm = Perm.alarms_read
) -> Alarm:
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(what=_what(alarm_id))
    actor.require(perm, alarm.path, _what(alarm_id))
    return alarm


def desk_level(path: str) -> Level:
    """Which alarms a desk bound at this node shows: the street's those escalated to it …"""
    depth = path.count("/") - 1
    if depth <= 1:
        return Level.street
    if depth == 2:
        return Level.community
    return Level.site


def get_all(
    session: Session,
    *,
    actor: Principal,
    desk: bool = False,
    open_only: bool = False,
    state: str | None = None,
    category: str | None = None,
    priority: int | None = None,
    within_path: str | None = None,
    device_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Alarm], int]:
    stmt = select(Alarm).where(actor.filter(Alarm.path, Perm.alarms_read))
    if desk and not actor.system:
        # On a desk: alarms that have reached the level of the desk's node, newest P1 first.
        clauses = [
            Alarm.path.startswith(p, autoescape=True) & (Alarm.level >= desk_level(p))
            for p in actor.paths(Perm.alarms_read)
        ]
        stmt = stmt.where(or_(*clauses)) if clauses else stmt
    if open_only or desk:
        stmt = stmt.where(Alarm.state.in_([s.value for s in OPEN_STATES]))
    if state:
        stmt = stmt.where(Alarm.state == state)
    if category:
        stmt = stmt.where(Alarm.category == category)
    if priority:
        stmt = stmt.where(Alarm.priority == priority)
    if within_path:
        stmt = stmt.where(Alarm.path.startswith(within_path, autoescape=True))
    if device_id is not None:
        stmt = stmt.where(Alarm.device_id == device_id)
    if since:
        stmt = stmt.where(Alarm.raised_at >= since)
    if until:
        stmt = stmt.where(Alarm.raised_at < until)
    order = (Alarm.priority.asc(), Alarm.raised_at.desc()) if desk else Alarm.id.desc()
    return paginate(session, stmt, order_by=order, limit=limit, offset=offset)


def timeline(session: Session, *, alarm: Alarm) -> Sequence[AlarmEntry]:
    return session.scalars(
        select(AlarmEntry).where(AlarmEntry.alarm_id == alarm.id).order_by(AlarmEntry.id)
    ).all()


# --- acting -------------------------------------------------------------------------------------


def act(
    session: Session,
    *,
    actor: Principal,
    alarm: Alarm,
    action: Action,
    note: str | None = None,
    expected_version: int | None = None,
    by_own_task: bool = False,
    at: datetime | None = None,
) -> Alarm:
    """Move an alarm by a person's action; a stale view or a move not allowed now is a 409.
    `by_own_task`: a responder's step on the task they were given (on scene, resolved) moves
    its alarm without their holding the desk's permission (the caller checked the task)."""
    if not by_own_task:
        actor.require(Perm.alarms_handle, alarm.path, _what(alarm.id))
    if expected_version is not None and expected_version != alarm.version:
        raise Conflict(
            "alarm_changed", field="version", state=alarm.state.value, version=alarm.version
        )
    target = flows.next_state(alarm.state, action, acknowledged=alarm.acknowledged)
    if target is None:
        raise Conflict("alarm_move", field="action", action=action.value, state=alarm.state.value)
    now = at or utcnow()  # `at`: a move recorded after the fact (the demo's history)
    before = alarm.state
    alarm.state = target
    # A person's move at the desk acknowledges the alarm and stops its escalation; the platform's
    # own dispatch and a responder's step on their task do neither.
    by_person = not actor.system and not by_own_task and action != Action.note
    if by_person and alarm.acknowledged_at is None:
        alarm.acknowledged_at = now
    if target in (AlarmState.resolved, AlarmState.false_alarm):
        alarm.resolved_at = now
        alarm.is_open = False
    if target == AlarmState.closed:
        alarm.closed_at = now
        alarm.is_open = False
    if by_person or not alarm.is_open:
        alarm.escalate_at = None
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("alarm_changed", field="version", state="?", version="?") from exc
    _entry(
        session,
        alarm,
        action.value,
        actor=actor.actor,
        actor_user_id=actor.user_id,
        from_state=before,
        note=note,
        at=now,
    )
    session.flush()
    return alarm


def escalate_due(session: Session, *, rules: RuleBook, now: datetime | None = None) -> list[Alarm]:
    """Move every alarm that waited too long for a person's acknowledgement up one level (one
    the platform dispatched by itself still waits for one)."""
    now = now or utcnow()
    due = session.scalars(
        select(Alarm)
        .where(
            Alarm.is_open.is_(True),
            Alarm.acknowledged_at.is_(None),
            Alarm.escalate_at.is_not(None),
            Alarm.escalate_at <= now,
        )
        .with_for_update(skip_locked=True)
    ).all()
    for alarm in due:
        alarm.level = min(alarm.level + 1, Level.street)
        wait = rules.escalation_s(alarm.priority)
        alarm.escalate_at = (
            now + timedelta(seconds=wait) if wait and alarm.level < Level.street else None
        )
        entry = _entry(
            session,
            alarm,
            "escalated",
            note=ESCALATED_TO[Level(alarm.level)],
            at=now,
        )
        session.flush()
        outbox.enqueue(session, alarm=alarm, entry=entry, event="alarm.escalated", rules=rules)
    session.flush()
    return list(due)


def notifications(
    session: Session,
    *,
    actor: Principal,
    status: str | None = None,
    alarm_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Notification], int]:
    stmt = (
        select(Notification)
        .join(Alarm, Alarm.id == Notification.alarm_id)
        .where(actor.filter(Alarm.path, Perm.alarms_read))
    )
    if status:
        stmt = stmt.where(Notification.status == status)
    if alarm_id is not None:
        stmt = stmt.where(Notification.alarm_id == alarm_id)
    return paginate(session, stmt, order_by=Notification.id.desc(), limit=limit, offset=offset)


def notification_visible_or_raise(
    session: Session, *, actor: Principal, notification_id: int
) -> Notification:
    row = session.get(Notification, notification_id)
    alarm = session.get(Alarm, row.alarm_id) if row else None
    if row is None or alarm is None:
        raise NotFound(what=phrase(N_("通知 {n}"), n=notification_id))
    actor.require(Perm.alarms_handle, alarm.path, phrase(N_("通知 {n}"), n=notification_id))
    return row


def restore_by_key(
    session: Session,
    *,
    rules: RuleBook,
    key: str,
    at: datetime,
    event_id: int | None = None,
    note: str | None = None,
) -> Alarm | None:
    """What an alarm was about is back (a sensor, a part of the platform): restored, and closed
    where its rule says so (never a P1)."""
    alarm = _open_alarm(session, key)
    if alarm is None or alarm.restored:
        return alarm
    alarm.restored, alarm.restored_at = True, at
    _entry(session, alarm, "restored", event_id=event_id, at=at, note=note)
    rule = rules.rule(alarm.rule_id)
    if rule is not None and rule.close_on_restore and alarm.priority > 1:
        before = alarm.state
        alarm.state, alarm.is_open, alarm.closed_at, alarm.escalate_at = (
            AlarmState.closed,
            False,
            at,
            None,
        )
        _entry(
            session, alarm, "auto_close", from_state=before, at=at, note=N_("恢复正常，自动关闭")
        )
    session.flush()
    return alarm


def open_platform_alarm(
    session: Session, *, rules: RuleBook, kind: str, code: str, key: str, subject: str, at: datetime
) -> Alarm | None:
    """An alarm the platform raises about itself, on the street's desk (the territory's root);
    None where the rules file has no rule for it or an alarm of that key is already open."""
    found = rules.match(kind=kind, code=code, device_kind="platform")
    if not found or _open_alarm(session, key) is not None:
        return None
    street = session.scalar(
        select(TerritoryNode)
        .where(TerritoryNode.kind == NodeKind.street)
        .order_by(TerritoryNode.id)
    )
    if street is None:
        return None
    rule = found[0]
    return open_alarm(
        session,
        rules=rules,
        rule=rule,
        subject=subject,
        node_id=street.id,
        path=street.path,
        key=key,
        at=at,
    )
