"""Notification channels kept in the console, and the channels in force: the rules file's and
these together (one of the console wins over the file's of the same key). The rules file names
channels by key; the console's may also be told of every alarm, or reach responders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.alarms.models import ChannelRecord
from pingan.alarms.rules import Channel, RuleBook
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.i18n import N_, phrase

NULLABLE = frozenset({"url", "secret"})


@dataclass(frozen=True)
class InForce:
    """The channels in force now, by key, and which of them hear of what."""

    by_key: dict[str, Channel]
    every_alarm: list[str]
    responders: list[str]

    def for_rule(self, rules: RuleBook, rule_id: str) -> list[Channel]:
        rule = rules.rule(rule_id)
        wanted = dict.fromkeys([*self.every_alarm, *(rule.notify if rule else [])])
        return [self.by_key[k] for k in wanted if k in self.by_key]


def as_channel(record: ChannelRecord) -> Channel:
    return Channel(
        id=record.key,
        type=record.type,
        url=record.url,
        secret=record.secret,
        to=list(record.to or []),
        mention=list(record.mention or []),
    )


def in_force(session: Session, *, rules: RuleBook) -> InForce:
    current = rules.current
    by_key = {c.id: c for c in current.channels}
    every = list(current.notify)
    responders = list(current.responders)
    for record in session.scalars(select(ChannelRecord).where(ChannelRecord.enabled)):
        by_key[record.key] = as_channel(record)
        if record.every_alarm:
            every.append(record.key)
        if record.responders:
            responders.append(record.key)
    return InForce(by_key, list(dict.fromkeys(every)), list(dict.fromkeys(responders)))


def unknown_names(session: Session, *, rules: RuleBook) -> list[str]:
    """Channel keys the rules file names that neither it nor the console defines."""
    known = set(in_force(session, rules=rules).by_key)
    current = rules.current
    named = [*current.notify, *current.responders, *(n for r in current.rules for n in r.notify)]
    return sorted({n for n in named if n not in known})


def _require(actor: Principal) -> None:
    if not actor.system and not actor.paths(Perm.channels_manage):
        raise Forbidden(action=Perm.channels_manage.value)


def get_all(session: Session) -> Sequence[ChannelRecord]:
    return session.scalars(select(ChannelRecord).order_by(ChannelRecord.id)).all()


def get_or_raise(session: Session, *, channel_id: int) -> ChannelRecord:
    record = session.get(ChannelRecord, channel_id)
    if record is None:
        raise NotFound(what=phrase(N_("通知渠道 {n}"), n=channel_id))
    return record


def _check(record: ChannelRecord) -> None:
    """What each type needs, checked as the rules file checks its own (rules.Channel)."""
    record.to = [t.strip() for t in record.to or [] if t and t.strip()]
    record.mention = [m.strip() for m in record.mention or [] if m and m.strip()]
    if record.type in ("webhook", "wecom", "dingtalk") and not record.url:
        raise Invalid("channel_needs", field="url", what="url")
    if record.type in ("email", "sms") and not record.to:
        raise Invalid("channel_needs", field="to", what="to")
    try:
        as_channel(record)  # the same validation as a channel of the rules file
    except ValidationError as exc:
        err = exc.errors()[0]
        raise Invalid(
            "channel_needs", field=".".join(map(str, err["loc"])) or "type", what=err["msg"]
        ) from exc


def save(
    session: Session, *, actor: Principal, record: ChannelRecord, fields: dict[str, object]
) -> ChannelRecord:
    """Create or change a channel; a secret left out keeps the one stored."""
    _require(actor)
    for name, value in fields.items():
        if value is None and (name not in NULLABLE or record.id is not None):
            continue  # a secret left out stays; a flag given as null changes nothing
        setattr(record, name, value)
    _check(record)
    if record.id is None:
        session.add(record)
    key = record.key  # read before a failed flush expires it
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "conflict", field="key", reason=phrase(N_("渠道标识 {key} 已存在"), key=key)
        ) from exc
    return record


def delete(session: Session, *, actor: Principal, record: ChannelRecord) -> None:
    _require(actor)
    session.delete(record)
    session.flush()


def tested(
    session: Session, *, record: ChannelRecord, result: str, at: datetime | None = None
) -> None:
    record.last_test_at = at or utcnow()
    record.last_test_result = result
    session.flush()
