"""Human defence (群防群治): teams and their members, duty rosters, joint meetings, patrol routes
with checkpoints, patrol runs and their check-ins."""

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
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from pingan.i18n import N_


class TeamKind(enum.StrEnum):
    street_patrol = "street_patrol"  # 街道治安巡逻队
    community_patrol = "community_patrol"  # 社区治保巡逻队
    compound_guards = "compound_guards"  # 小区保安
    informants = "informants"  # 社区信息员
    police = "police"  # 辖区公安
    volunteers = "volunteers"  # 群防群治志愿巡逻队


TEAM_LABEL: dict[TeamKind, str] = {
    TeamKind.street_patrol: N_("街道治安巡逻队"),
    TeamKind.community_patrol: N_("社区治保巡逻队"),
    TeamKind.compound_guards: N_("小区保安"),
    TeamKind.informants: N_("社区信息员"),
    TeamKind.police: N_("辖区公安"),
    TeamKind.volunteers: N_("群防群治志愿巡逻队"),
}


class Team(TimestampMixin, Base):
    __tablename__ = "patrol_teams"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[TeamKind] = mapped_column(Enum(TeamKind, native_enum=False, length=24))
    name: Mapped[str] = mapped_column(String(100))
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Member(TimestampMixin, Base):
    """A person of the territory in a team; volunteers belong to a programme (红袖套 …)."""

    __tablename__ = "patrol_members"
    __audited__ = True
    # Where the phone is and whether its page is open change all day: not the audit log's business.
    __audit_exclude__ = frozenset(
        {"last_lon", "last_lat", "last_position_at", "page_seen_at", "updated_at"}
    )
    __table_args__ = (UniqueConstraint("team_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("patrol_teams.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    path: Mapped[str] = mapped_column(String(255))  # the team's
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    programme: Mapped[str | None] = mapped_column(String(32))  # 红袖套, 蓝马甲, 橙丝带 …
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    page_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # phone page last open

    def audit_scope_node_id(self) -> int | None:
        return None


class Shift(Base):
    """A stint on the duty roster."""

    __tablename__ = "patrol_shifts"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("patrol_teams.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_members.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(String(200))

    def audit_scope_node_id(self) -> int | None:
        return None


class Meeting(TimestampMixin, Base):
    """A joint meeting (联席会): who came, what was decided."""

    __tablename__ = "patrol_meetings"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))
    held_at: Mapped[datetime] = mapped_column(UTCDateTime)
    title: Mapped[str] = mapped_column(String(200))
    attendees: Mapped[list[Any]] = mapped_column(JSON)
    decisions: Mapped[str] = mapped_column(Text)

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Route(TimestampMixin, Base):
    __tablename__ = "patrol_routes"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("patrol_teams.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(100))
    duration_min: Mapped[int] = mapped_column(Integer)  # a run's planned length

    def audit_scope_node_id(self) -> int | None:
        return None


class Checkpoint(Base):
    """A point on a route, in order, with its position and the minute of a run it is due by.
    Its QR code is a signed token; re-issuing (`token_version`) voids the printed ones."""

    __tablename__ = "patrol_checkpoints"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_routes.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer, default=50)
    due_min: Mapped[int] = mapped_column(Integer)
    token_version: Mapped[int] = mapped_column(Integer, default=1)

    def audit_scope_node_id(self) -> int | None:
        return None


class RunState(enum.StrEnum):
    running = "running"
    finished = "finished"


class Run(Base):
    __tablename__ = "patrol_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("patrol_routes.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_members.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[RunState] = mapped_column(
        Enum(RunState, native_enum=False, length=16), default=RunState.running
    )
    missed: Mapped[list[Any] | None] = mapped_column(JSON)  # checkpoint ids, when finished


class CheckIn(Base):
    """A checkpoint scanned on a run: the phone's time (a queued check-in keeps its own), the
    position, and what was wrong with it (far, out of order, late)."""

    __tablename__ = "patrol_checkins"
    __table_args__ = (UniqueConstraint("run_id", "checkpoint_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_runs.id", ondelete="CASCADE"), index=True
    )
    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_checkpoints.id", ondelete="CASCADE")
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)
    flags: Mapped[list[Any]] = mapped_column(JSON)  # far | out_of_order | late


class TaskState(enum.StrEnum):
    offered = "offered"  # waiting for the responder to accept
    accepted = "accepted"
    en_route = "en_route"  # on the way
    on_scene = "on_scene"
    resolved = "resolved"
    declined = "declined"  # cannot attend
    timed_out = "timed_out"  # not accepted in time: passed to the next
    cancelled = "cancelled"  # the alarm was closed another way


OPEN_TASKS = (TaskState.offered, TaskState.accepted, TaskState.en_route, TaskState.on_scene)


class Task(Base):
    """An alarm dispatched to one responder, and what they did with it."""

    __tablename__ = "dispatch_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("patrol_members.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))  # the alarm's
    state: Mapped[TaskState] = mapped_column(
        Enum(TaskState, native_enum=False, length=16), default=TaskState.offered
    )
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)  # accept by, or it passes on
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    distance_m: Mapped[float | None] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary)
    tried: Mapped[list[Any]] = mapped_column(JSON, default=list)  # members offered before

    @property
    def has_photo(self) -> bool:
        return self.photo is not None
