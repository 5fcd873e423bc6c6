"""Volunteer service (志愿服务): the programmes (红袖套, 蓝马甲, 橙丝带 and those the street adds)
and their teams, the people who signed up and were confirmed, the activities they sign up for,
and their attendance (check-in and check-out by the activity's code) from which the hours come."""

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
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from pingan.i18n import N_


class Programme(TimestampMixin, Base):
    """A volunteer programme of the street: its armband, vest or ribbon."""

    __tablename__ = "volunteer_programmes"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)  # the seed's three
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    def audit_scope_node_id(self) -> int | None:
        return None


# The seed's programmes' words (the migration ships them; the pages translate them).
PROGRAMME_WORDS = (
    N_("红袖套"),
    N_("治安巡逻与文明劝导"),
    N_("蓝马甲"),
    N_("政策宣讲与便民服务"),
    N_("橙丝带"),
    N_("邻里纠纷调解与关爱帮扶"),
)
# The national star ratings' names, as the migration ships them (the pages translate them).
LEVEL_WORDS = (
    N_("一星志愿者"),
    N_("二星志愿者"),
    N_("三星志愿者"),
    N_("四星志愿者"),
    N_("五星志愿者"),
)


class Team(TimestampMixin, Base):
    """A programme's team in one community."""

    __tablename__ = "volunteer_teams"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_programmes.id", ondelete="RESTRICT")
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(100))

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class State(enum.StrEnum):
    pending = "pending"  # signed up, the community has not decided
    confirmed = "confirmed"
    refused = "refused"
    left = "left"


STATE_LABEL: dict[State, str] = {
    State.pending: N_("待确认"),
    State.confirmed: N_("在册"),
    State.refused: N_("未通过"),
    State.left: N_("已退出"),
}


class Volunteer(TimestampMixin, Base):
    """A person in a programme: as they signed up (name, phone, community), then, confirmed by
    the community, linked to the person of the territory their hours belong to. Their own page
    opens with a key given at sign-up (only its hash is kept)."""

    __tablename__ = "volunteers"
    __audited__ = True
    __audit_mask__ = frozenset({"phone"})
    __audit_exclude__ = frozenset({"key_hash", "updated_at"})
    __table_args__ = (UniqueConstraint("programme_id", "phone"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_programmes.id", ondelete="RESTRICT"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteer_teams.id", ondelete="SET NULL"), index=True
    )
    community_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(255), index=True)  # the community's
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[State] = mapped_column(
        Enum(State, native_enum=False, length=16), default=State.pending, index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(200))

    def audit_scope_node_id(self) -> int | None:
        return self.community_id


class ActivityKind(enum.StrEnum):
    civility = "civility"  # 文明劝导
    policy_talk = "policy_talk"  # 政策宣讲
    mediation = "mediation"  # 邻里纠纷调解: linked to the grid event it mediates
    patrol = "patrol"  # 治安巡逻
    service = "service"  # 便民服务、关爱帮扶


KIND_LABEL: dict[ActivityKind, str] = {
    ActivityKind.civility: N_("文明劝导"),
    ActivityKind.policy_talk: N_("政策宣讲"),
    ActivityKind.mediation: N_("邻里纠纷调解"),
    ActivityKind.patrol: N_("治安巡逻"),
    ActivityKind.service: N_("便民服务"),
}


class Activity(TimestampMixin, Base):
    """An activity at a place and time; volunteers check in on the spot with its code."""

    __tablename__ = "volunteer_activities"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ActivityKind] = mapped_column(Enum(ActivityKind, native_enum=False, length=16))
    title: Mapped[str] = mapped_column(String(100))
    programme_id: Mapped[int | None] = mapped_column(
        ForeignKey("volunteer_programmes.id", ondelete="SET NULL")
    )
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255), index=True)
    place: Mapped[str] = mapped_column(String(200))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[int] = mapped_column(Integer, default=300)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(8), index=True)  # shown on the spot
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Flag(enum.StrEnum):
    early = "early"  # checked in long before the start
    after_end = "after_end"  # checked in after the end
    far = "far"  # checked in away from the place
    no_position = "no_position"  # the phone gave no position for a placed activity
    late_out = "late_out"  # checked out long after the end


FLAG_LABEL: dict[Flag, str] = {
    Flag.early: N_("过早签到"),
    Flag.after_end: N_("活动结束后签到"),
    Flag.far: N_("不在活动地点"),
    Flag.no_position: N_("没有定位"),
    Flag.late_out: N_("结束很久后签退"),
}


class Attendance(Base):
    """A volunteer at an activity: signed up, checked in (when, where), checked out; a check-in
    out of time or place is kept with its flags and counts once the community accepts it."""

    __tablename__ = "volunteer_attendances"
    __table_args__ = (UniqueConstraint("activity_id", "volunteer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer_activities.id", ondelete="CASCADE"), index=True
    )
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteers.id", ondelete="CASCADE"), index=True
    )
    signed_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    in_lon: Mapped[float | None] = mapped_column(Float)
    in_lat: Mapped[float | None] = mapped_column(Float)
    out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # None: flagged, waiting for the community; True: counts; False: refused.
    accepted: Mapped[bool | None] = mapped_column(Boolean)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    minutes: Mapped[int] = mapped_column(Integer, default=0)  # counted service time
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecognitionLevel(Base):
    """A recognition level reached at so many service hours (the street's to set)."""

    __tablename__ = "volunteer_levels"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    hours: Mapped[float] = mapped_column(Float)

    def audit_scope_node_id(self) -> int | None:
        return None
