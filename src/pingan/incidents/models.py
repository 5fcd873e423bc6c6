"""Grid incidents (网格事件): a case from report to verified closure, its timeline and photos; the
catalogue's versions; the streets with their chiefs; the Open311 clients."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, DataVersion, StoredPhoto, TimestampMixin, UTCDateTime, utcnow
from pingan.i18n import N_


class IncidentState(enum.StrEnum):
    reported = "reported"  # 上报
    accepted = "accepted"  # 立案: waiting to be assigned (or sent back)
    rejected = "rejected"  # 不予立案
    assigned = "assigned"  # 派遣
    in_hand = "in_hand"  # 处置
    done = "done"  # 反馈: the handler says it is fixed
    verified = "verified"  # 核查: seen fixed on site
    closed = "closed"  # 结案
    merged = "merged"  # a duplicate, merged into another case


STATE_LABEL: dict[IncidentState, str] = {
    IncidentState.reported: N_("待立案"),
    IncidentState.accepted: N_("待派遣"),
    IncidentState.rejected: N_("不予立案"),
    IncidentState.assigned: N_("已派遣"),
    IncidentState.in_hand: N_("处置中"),
    IncidentState.done: N_("待核查"),
    IncidentState.verified: N_("待结案"),
    IncidentState.closed: N_("已结案"),
    IncidentState.merged: N_("已合并"),
}

# Cases whose handling has not ended: on desks, counted as open by Open311.
OPEN_STATES = frozenset(
    {
        IncidentState.reported,
        IncidentState.accepted,
        IncidentState.assigned,
        IncidentState.in_hand,
        IncidentState.done,
        IncidentState.verified,
    }
)
# Where the time limit runs: from acceptance until the handler reports it done.
TIMED_STATES = frozenset({IncidentState.accepted, IncidentState.assigned, IncidentState.in_hand})


class Channel(enum.StrEnum):
    resident = "resident"  # a resident's phone page
    grid = "grid"  # a grid officer's own patrol find (巡查上报)
    patrol = "patrol"  # a patrol member's phone page
    hotline = "hotline"  # a call to the centre (12345 transfers)
    alarm = "alarm"  # an operator turned an alarm into a case
    patrol_exception = "patrol_exception"  # a missed checkpoint with a note
    open311 = "open311"  # an Open311 client
    staff = "staff"  # entered in the console by other staff
    inspection = "inspection"  # an item a safety inspection found missing or broken


CHANNEL_LABEL: dict[Channel, str] = {
    Channel.resident: N_("居民上报"),
    Channel.grid: N_("网格员巡查"),
    Channel.patrol: N_("巡逻队员"),
    Channel.hotline: N_("热线来电"),
    Channel.alarm: N_("报警转事件"),
    Channel.patrol_exception: N_("巡逻异常"),
    Channel.open311: N_("Open311 接口"),
    Channel.staff: N_("工作人员录入"),
    Channel.inspection: N_("安全检查"),
}


class Level(enum.IntEnum):
    """Whose desk an overdue case is on: overdue cases go to the community, then the street."""

    normal = 0
    community = 1
    street = 2


class Rating(enum.StrEnum):
    satisfied = "satisfied"  # 满意
    fair = "fair"  # 基本满意
    unsatisfied = "unsatisfied"  # 不满意


RATING_LABEL: dict[Rating, str] = {
    Rating.satisfied: N_("满意"),
    Rating.fair: N_("基本满意"),
    Rating.unsatisfied: N_("不满意"),
}


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_path", "path"),
        Index("ix_incidents_state", "state"),
        Index("ix_incidents_kind_reported", "kind", "reported_at"),
        Index("ix_incidents_due", "is_open", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # A secret the reporter's own "this case" page and Open311's tokens/{token} are reached by.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(64))  # category.kind of the catalogue
    category: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    handler: Mapped[str] = mapped_column(String(32))  # the catalogue's handler when accepted
    state: Mapped[IncidentState] = mapped_column(
        Enum(IncidentState, native_enum=False, length=16), default=IncidentState.reported
    )
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=20))
    description: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the kind's fields answered
    address: Mapped[str | None] = mapped_column(String(200))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    # Routed by the position: the grid (or the community where no grid covers it).
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))
    community_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    grid_id: Mapped[int | None] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="SET NULL")
    )
    street_line_id: Mapped[int | None] = mapped_column(
        ForeignKey("street_lines.id", ondelete="SET NULL"), index=True
    )
    level: Mapped[int] = mapped_column(Integer, default=Level.normal)
    assignee_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    assignee: Mapped[str | None] = mapped_column(String(100))  # a department or a person
    # Who reported: an account, or a caller's or resident's number (masked in every list).
    reporter_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    reporter_name: Mapped[str | None] = mapped_column(String(50))
    reporter_phone: Mapped[str | None] = mapped_column(String(20))
    notify_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    # Contact fields an Open311 client posted: personal data, never in a GET answer.
    contact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    open311_client_id: Mapped[int | None] = mapped_column(
        ForeignKey("open311_clients.id", ondelete="SET NULL")
    )
    media_url: Mapped[str | None] = mapped_column(String(500))
    alarm_id: Mapped[int | None] = mapped_column(
        ForeignKey("alarms.id", ondelete="SET NULL"), index=True
    )
    checkpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("patrol_checkpoints.id", ondelete="SET NULL")
    )
    merged_into_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    reject_reason: Mapped[str | None] = mapped_column(String(32))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # at 80 % of the limit
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it became overdue
    extension_asked: Mapped[str | None] = mapped_column(Text)  # a pending request's reason
    extension_days: Mapped[int | None] = mapped_column(Integer)
    supervised: Mapped[bool] = mapped_column(Boolean, default=False)  # 督办 by the street
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Whether the handling ended within its limit (fixed when it was reported done).
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    rating: Mapped[Rating | None] = mapped_column(Enum(Rating, native_enum=False, length=16))
    rating_note: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # two people acting at once

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class IncidentEntry(Base):
    """One line of a case's timeline: who moved it, when, with which note and photos."""

    __tablename__ = "incident_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(100))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    # What the move carried: an assignee, a reason key, an extension, a merged case's id.
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class IncidentPhoto(StoredPhoto, Base):
    """A photo of a case, re-encoded as JPEG with no metadata (no EXIF position, no camera)."""

    __tablename__ = "incident_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("incident_entries.id", ondelete="SET NULL")
    )
    stage: Mapped[str] = mapped_column(String(8))  # before | after


class CatalogueVersion(DataVersion, Base):
    """A street admin's edit of the event catalogue: the whole catalogue, kept per version."""

    __tablename__ = "incident_catalogues"
    __audited__ = True
    __audit_exclude__ = frozenset({"body"})  # the version itself is the record


class StreetLine(TimestampMixin, Base):
    """A street or back alley (背街小巷) as a line on the territory, with its street chief (街长)
    and city-management officer (城管专员): cases within reach of it go to them too."""

    __tablename__ = "street_lines"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    alley: Mapped[bool] = mapped_column(Boolean, default=False)
    geometry: Mapped[str] = mapped_column(Text)  # GeoJSON LineString, WGS-84
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))  # the street office's node: scope
    communities: Mapped[list[int]] = mapped_column(JSON, default=list)  # those it crosses
    chief_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    officer_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Open311Client(TimestampMixin, Base):
    """An application allowed to post service requests: its key kept as a hash only."""

    __tablename__ = "open311_clients"
    __audited__ = True
    __audit_exclude__ = frozenset({"key_hash", "last_used_at", "requests", "updated_at"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    key_prefix: Mapped[str] = mapped_column(String(12))  # shown to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    requests: Mapped[int] = mapped_column(Integer, default=0)
