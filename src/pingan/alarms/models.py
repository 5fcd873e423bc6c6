"""Alarms and their timelines."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, Sealed, TimestampMixin, UTCDateTime, utcnow
from pingan.i18n import DEFAULT_LANG, N_, gettext


class AlarmState(enum.StrEnum):
    raised = "raised"
    acknowledged = "acknowledged"
    dispatched = "dispatched"
    on_scene = "on_scene"
    resolved = "resolved"
    false_alarm = "false_alarm"
    closed = "closed"


STATE_LABEL: dict[AlarmState, str] = {
    AlarmState.raised: N_("待处理"),
    AlarmState.acknowledged: N_("已确认"),
    AlarmState.dispatched: N_("已派警"),
    AlarmState.on_scene: N_("已到场"),
    AlarmState.resolved: N_("已处置"),
    AlarmState.false_alarm: N_("误报"),
    AlarmState.closed: N_("已关闭"),
}

# Categories named in the rules file; one not named here is shown as written.
CATEGORY_LABEL: dict[str, str] = {
    "intrusion": N_("入侵"),
    "fire": N_("火警"),
    "gas": N_("燃气泄漏"),
    "panic": N_("紧急求助"),
    "medical": N_("医疗求助"),
    "fire_facility": N_("消防设施"),
    "access": N_("门禁"),
    "confirmed": N_("复核确认"),
    "device": N_("设备故障"),
    "tamper": N_("防拆"),
    "trouble": N_("故障"),
    "watchlist": N_("布控"),
    "welfare": N_("关爱"),
    "stranger": N_("陌生人"),
    "patrol": N_("巡逻异常"),
    "platform": N_("平台故障"),
}

OPEN_STATES = frozenset(
    {AlarmState.raised, AlarmState.acknowledged, AlarmState.dispatched, AlarmState.on_scene}
)


class Level(enum.IntEnum):
    """Whose desk an alarm is on: escalation moves it up."""

    site = 0
    community = 1
    street = 2


class Alarm(Base):
    __tablename__ = "alarms"
    __table_args__ = (
        Index("ix_alarms_open_key", "dedupe_key", "is_open"),
        Index("ix_alarms_state", "state"),
        Index("ix_alarms_escalate_at", "escalate_at"),
        Index("ix_alarms_path", "path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)  # 1 (highest) … 4
    title: Mapped[str] = mapped_column(String(200))  # the rule's: shown in the reader's language
    subject: Mapped[str | None] = mapped_column(String(200))  # the device or route, as named
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))  # the node's path: scope checks
    zone: Mapped[str | None] = mapped_column(String(32))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[AlarmState] = mapped_column(
        Enum(AlarmState, native_enum=False, length=16), default=AlarmState.raised
    )
    level: Mapped[int] = mapped_column(Integer, default=Level.site)
    count: Mapped[int] = mapped_column(Integer, default=1)
    restored: Mapped[bool] = mapped_column(Boolean, default=False)
    first_event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_event_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalate_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)  # optimistic lock for two operators

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def headline(self, lang: str = DEFAULT_LANG) -> str:
        """The rule's title in the reader's language, then what it is about."""
        return " · ".join(filter(None, [gettext(self.title, lang), self.subject]))

    @property
    def acknowledged(self) -> bool:
        """A person has acknowledged it (a dispatch by the platform itself is no acknowledgement)."""
        return self.acknowledged_at is not None

    @property
    def ack_seconds(self) -> float | None:
        if self.acknowledged_at is None:
            return None
        return (self.acknowledged_at - self.raised_at).total_seconds()

    @property
    def resolve_seconds(self) -> float | None:
        if self.resolved_at is None:
            return None
        return (self.resolved_at - self.raised_at).total_seconds()


class AlarmEntry(Base):
    """One line of an alarm's timeline: who did what, when, with which note or event."""

    __tablename__ = "alarm_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))


class Notification(Base):
    """One message to send on one channel: an outbox row, retried until sent. About an alarm
    (the message made from it when sent), or another domain's (a grid incident's) with its
    message written when it was queued."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarms.id", ondelete="CASCADE"), index=True
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # The message as queued (AlarmMessage's fields; `link` a path under PINGAN_PUBLIC_URL).
    message: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarm_entries.id", ondelete="SET NULL")
    )
    channel: Mapped[str] = mapped_column(String(64))  # the channel's id in the rules file
    # A number named by the event itself (a family to call), for channel CONTACT_SMS.
    recipient: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # webhook | wecom | dingtalk | email | sms
    event: Mapped[str] = mapped_column(String(32))  # alarm.raised | alarm.escalated
    status: Mapped[str] = mapped_column(String(8), default="pending")  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ChannelRecord(TimestampMixin, Base):
    """A notification channel kept in the console (a robot's address, a webhook's key, mail or
    SMS recipients): its secrets sealed at rest, never in the audit log, never shown again."""

    __tablename__ = "notification_channels"
    __audited__ = True
    __audit_exclude__ = frozenset({"url", "secret", "updated_at"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # what rules and notifications name
    name: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(16))  # webhook | wecom | dingtalk | email | sms
    url: Mapped[str | None] = mapped_column(Sealed)  # a robot's URL carries its key
    secret: Mapped[str | None] = mapped_column(Sealed)
    to: Mapped[list[str]] = mapped_column(JSON, default=list)
    mention: Mapped[list[str]] = mapped_column(JSON, default=list)
    every_alarm: Mapped[bool] = mapped_column(Boolean, default=False)
    responders: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_test_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_test_result: Mapped[str | None] = mapped_column(Text)
