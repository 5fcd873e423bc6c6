"""The notification outbox: rows written with the alarm change, sent after the commit, retried
with back-off, never lost. Sending happens outside any transaction; a row being sent is leased,
so a crash mid-send means it is sent again (at least once) rather than never."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from pingan.alarms.models import STATE_LABEL, Alarm, AlarmEntry, AlarmState, Notification
from pingan.alarms.notify import store
from pingan.alarms.notify.channels import AlarmMessage, DeliveryError, Sender
from pingan.alarms.rules import Channel, RuleBook
from pingan.db.base import SHANGHAI, utcnow
from pingan.db.engine import unit_of_work
from pingan.territory.models import TerritoryNode

log = logging.getLogger("pingan.notify")
LEASE_S = 60
MAX_ATTEMPTS = 12
BATCH = 50


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 3600))


CONTACT_SMS = "contact_sms"  # an SMS to a number the event named, not the rules file
TASK_OFFERED = "task.offered"


def _add(
    session: Session,
    *,
    alarm: Alarm,
    entry: AlarmEntry,
    event: str,
    sends: list[tuple[str, str, str | None]],  # (channel id, kind, recipient)
) -> int:
    now = utcnow()
    for channel, kind, recipient in sends:
        session.add(
            Notification(
                alarm_id=alarm.id,
                entry_id=entry.id,
                channel=channel,
                recipient=recipient,
                kind=kind,
                event=event,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
    return len(sends)


def enqueue(
    session: Session,
    *,
    alarm: Alarm,
    entry: AlarmEntry,
    event: str,
    rules: RuleBook,
    contacts: list[str] | None = None,
) -> int:
    sends: list[tuple[str, str, str | None]] = [
        (CONTACT_SMS, "sms", number) for number in contacts or []
    ]
    sends += [
        (c.id, c.type, None)
        for c in store.in_force(session, rules=rules).for_rule(rules, alarm.rule_id)
    ]
    return _add(session, alarm=alarm, entry=entry, event=event, sends=sends)


def enqueue_message(
    session: Session,
    *,
    message: AlarmMessage,
    incident_id: int,
    numbers: list[str],
    every_alarm: bool,
    rules: RuleBook | None,
) -> int:
    """Another domain's message (a grid incident's), written now, sent like an alarm's: by SMS to
    the numbers given and, when `every_alarm`, on the channels told of every alarm."""
    sends: list[tuple[str, str, str | None]] = [(CONTACT_SMS, "sms", n) for n in numbers]
    if every_alarm and rules is not None:
        channels = store.in_force(session, rules=rules)
        sends += [
            (key, channels.by_key[key].type, None)
            for key in channels.every_alarm
            if key in channels.by_key
        ]
    now = utcnow()
    for channel, kind, recipient in sends:
        session.add(
            Notification(
                incident_id=incident_id,
                message=message.as_dict(),
                channel=channel,
                recipient=recipient,
                kind=kind,
                event=message.event,
                status="pending",
                attempts=0,
                created_at=now,
                next_attempt_at=now,
            )
        )
    return len(sends)


def enqueue_for_responder(
    session: Session,
    *,
    alarm: Alarm,
    entry: AlarmEntry,
    number: str | None,
    rules: RuleBook,
) -> int:
    """A task offered to a responder whose phone page is closed: an SMS to their own number and
    the rules file's `responders` channels (WeCom and DingTalk @ the responder's number)."""
    sends: list[tuple[str, str, str | None]] = [(CONTACT_SMS, "sms", number)] if number else []
    channels = store.in_force(session, rules=rules)
    sends += [
        (name, channels.by_key[name].type, number)
        for name in channels.responders
        if name in channels.by_key
    ]
    return _add(session, alarm=alarm, entry=entry, event=TASK_OFFERED, sends=sends)


def place_of(session: Session, alarm: Alarm) -> str:
    """The names along the alarm's place: 鱼凫路社区 / 柳欣苑."""
    ids = [int(p) for p in alarm.path.strip("/").split("/")[1:]]
    rows = session.execute(
        select(TerritoryNode.id, TerritoryNode.name).where(TerritoryNode.id.in_(ids))
    )
    names = {node_id: name for node_id, name in rows}
    return " / ".join(names[i] for i in ids if i in names)


def message_for(session: Session, *, alarm: Alarm, event: str, public_url: str) -> AlarmMessage:
    local = alarm.raised_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    return AlarmMessage(
        event=event,
        alarm_id=alarm.id,
        priority=alarm.priority,
        category=alarm.category,
        title=alarm.headline(),
        state=STATE_LABEL[AlarmState(alarm.state)],
        level=alarm.level,
        place=place_of(session, alarm),
        raised_at=local,
        # A responder opens their phone page; the centre the alarm's page.
        link=f"{public_url.rstrip('/')}"
        + ("/m" if event == TASK_OFFERED else f"/alarms/{alarm.id}"),
    )


@dataclass
class Claimed:
    id: int
    channel: Channel | None
    channel_id: str
    message: AlarmMessage
    attempts: int


def claim(
    session: Session, *, rules: RuleBook, public_url: str, now: datetime | None = None
) -> list[Claimed]:
    now = now or utcnow()
    rows = session.scalars(
        select(Notification)
        .where(Notification.status.in_(("pending", "sending")), Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    by_id = store.in_force(session, rules=rules).by_key
    out = []
    for row in rows:
        if row.message is not None:  # written when queued; its link a path of ours
            message = AlarmMessage(**row.message)
            message = replace(message, link=public_url.rstrip("/") + message.link)
        else:
            alarm = session.get(Alarm, row.alarm_id) if row.alarm_id else None
            if alarm is None:
                continue
            message = message_for(session, alarm=alarm, event=row.event, public_url=public_url)
        row.status = "sending"
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=LEASE_S)
        channel = (
            Channel(id=CONTACT_SMS, type="sms", to=[row.recipient])
            if row.channel == CONTACT_SMS and row.recipient
            else by_id.get(row.channel)
        )
        if channel is not None and row.recipient and channel.type in ("wecom", "dingtalk"):
            channel = channel.model_copy(update={"mention": [row.recipient]})  # @ the responder
        out.append(Claimed(row.id, channel, row.channel, message, row.attempts))
    session.flush()
    return out


def record(
    session: Session,
    *,
    item: Claimed,
    error: str | None,
    status: str = "sent",
    now: datetime | None = None,
) -> None:
    """The outcome: "sent", "logged" (only written to the log: the demo's SMS), or an error to
    retry."""
    now = now or utcnow()
    row = session.get(Notification, item.id)
    if row is None:
        return
    if error is None:
        row.status, row.sent_at, row.last_error = status, now, None
        return
    row.last_error = error[:2000]
    if item.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
        log.error("notification %s on %s failed for good: %s", row.id, row.channel, error)
    else:
        row.status = "pending"
        row.next_attempt_at = now + backoff(item.attempts)
        log.warning(
            "notification %s on %s failed (attempt %s), retrying: %s",
            row.id,
            row.channel,
            item.attempts,
            error,
        )


def deliver_due(
    factory: sessionmaker[Session], *, sender: Sender, rules: RuleBook, public_url: str
) -> int:
    """Claim, send outside any transaction, record. Returns how many were sent."""
    with unit_of_work(factory, actor="system:notify") as session:
        claimed = claim(session, rules=rules, public_url=public_url)
    sent = 0
    for item in claimed:
        error, status = None, "sent"
        if item.channel is None:
            error = f"channel {item.channel_id!r} is no longer defined in the rules file"
        else:
            try:
                status = sender.send(item.channel, item.message)
                sent += 1
            except DeliveryError as exc:
                error = str(exc)
        with unit_of_work(factory, actor="system:notify") as session:
            record(session, item=item, error=error, status=status)
    return sent


def retry(session: Session, *, notification: Notification) -> None:
    notification.status = "pending"
    notification.attempts = 0
    notification.next_attempt_at = utcnow()
    session.flush()
