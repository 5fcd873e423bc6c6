"""Physical defence (物防): each site's facility register against the checklist, the inspections
that check it, and the checklist's versions."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, DataVersion, StoredPhoto, UTCDateTime, utcnow
from pingan.i18n import N_


class ItemStatus(enum.StrEnum):
    unknown = "unknown"  # not checked yet
    present = "present"  # 有且完好
    missing = "missing"  # 缺失
    broken = "broken"  # 损坏
    na = "na"  # 不适用 (no lifts, no parking …)


STATUS_LABEL: dict[ItemStatus, str] = {
    ItemStatus.unknown: N_("未检查"),
    ItemStatus.present: N_("完好"),
    ItemStatus.missing: N_("缺失"),
    ItemStatus.broken: N_("损坏"),
    ItemStatus.na: N_("不适用"),
}
# An item found so opens a grid event; it stays a defect until that event is closed as verified.
FAILED = frozenset({ItemStatus.missing, ItemStatus.broken})


class FacilitySite(Base):
    """A site's facility sheet: the protection level it is held to, and its figures kept current
    on every change (for the map layer and the statistics, which read many sites at once)."""

    __tablename__ = "facility_sites"
    __audited__ = True
    # Its figures follow its items (audited themselves): only its level is an edit of its own.
    __audit_exclude__ = frozenset(
        {"required", "present", "defects", "completeness", "bundles", "updated_at", "path"}
    )

    site_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(255), index=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    site_type: Mapped[str | None] = mapped_column(String(32))
    level: Mapped[int] = mapped_column(Integer)
    required: Mapped[int] = mapped_column(Integer, default=0)  # items its type and level require
    present: Mapped[int] = mapped_column(Integer, default=0)  # of those, present (or n/a)
    defects: Mapped[int] = mapped_column(Integer, default=0)  # items with an open grid event
    completeness: Mapped[float] = mapped_column(Float, default=0.0)
    bundles: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {code: all present}
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def audit_scope_node_id(self) -> int | None:
        return self.site_id


class FacilityItem(Base):
    """One item of a site's register: its state, count and details, when and by whom it was last
    checked, and the grid event open for it while it is a defect."""

    __tablename__ = "facility_items"
    __audited__ = True
    # A change of state is audited; an inspection confirming it (who checked, when) is recorded
    # in the inspection itself.
    __audit_exclude__ = frozenset(
        {"checked_on", "checked_by", "checked_by_user_id", "source", "inspection_id", "updated_at"}
    )
    __table_args__ = (UniqueConstraint("site_id", "code", name="site_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(
        ForeignKey("facility_sites.site_id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))  # group.item of the checklist
    status: Mapped[ItemStatus] = mapped_column(
        Enum(ItemStatus, native_enum=False, length=16), default=ItemStatus.unknown
    )
    count: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    checked_on: Mapped[date | None] = mapped_column(Date)
    checked_by: Mapped[str | None] = mapped_column(String(100))
    checked_by_user_id: Mapped[int | None] = mapped_column(Integer)
    # Where the state last came from: a register edit, an inspection, a closed grid event.
    source: Mapped[str | None] = mapped_column(String(16))
    inspection_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="SET NULL")
    )
    defect_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def audit_scope_node_id(self) -> int | None:
        return self.site_id


class InspectionKind(enum.StrEnum):
    routine = "routine"  # 安全检查
    fire = "fire"  # 消防检查


class Inspection(Base):
    """An inspection of a site against its checklist, made on the phone (perhaps with no network:
    `at` is the phone's time, `client_key` makes a resend harmless)."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_site_kind_at", "site_id", "kind", "at"),
        Index("ix_inspections_path", "path"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_key: Mapped[str] = mapped_column(String(64), unique=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("facility_sites.site_id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # the checklist's inspection kind
    checklist_version: Mapped[int] = mapped_column(Integer)
    inspector: Mapped[str] = mapped_column(String(100))
    inspector_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    previous_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspections.id", ondelete="SET NULL")
    )
    passed: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    not_applicable: Mapped[int] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(Text)


class InspectionAnswer(Base):
    __tablename__ = "inspection_answers"
    __table_args__ = (UniqueConstraint("inspection_id", "code", name="inspection_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    inspection_id: Mapped[int] = mapped_column(
        ForeignKey("inspections.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(64))
    status: Mapped[ItemStatus] = mapped_column(Enum(ItemStatus, native_enum=False, length=16))
    count: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), index=True
    )


class FacilityPhoto(StoredPhoto, Base):
    """A photo of an item, from the register or an inspection, re-encoded without metadata."""

    __tablename__ = "facility_photos"
    __table_args__ = (Index("ix_facility_photos_site_code", "site_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("facility_sites.site_id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    answer_id: Mapped[int | None] = mapped_column(
        ForeignKey("inspection_answers.id", ondelete="CASCADE"), index=True
    )


class ChecklistVersion(DataVersion, Base):
    """A street admin's edit of the checklist: the whole checklist, kept per version."""

    __tablename__ = "facility_checklists"
    __audited__ = True
    __audit_exclude__ = frozenset({"body"})


# --- renovation of old courtyards (老旧院落有机更新) ------------------------------------------------


class RenovationCategory(enum.StrEnum):
    """The national old-compound renovation programme's three kinds (国办发〔2020〕23号)."""

    basic = "basic"  # 基础类: safety and basics — water, power, gas, roads, fire safety, security
    complete = "complete"  # 完善类: lifts, parking, charging, parcel lockers, facilities
    improve = "improve"  # 提升类: public services, smart perimeter and sensing


CATEGORY_LABEL: dict[RenovationCategory, str] = {
    RenovationCategory.basic: N_("基础类"),
    RenovationCategory.complete: N_("完善类"),
    RenovationCategory.improve: N_("提升类"),
}


class Utility(enum.StrEnum):
    """The basics a 基础类 project may renovate that the street counts on their own (水电气)."""

    water = "water"  # 供水
    power = "power"  # 供电
    gas = "gas"  # 燃气


UTILITY_LABEL: dict[Utility, str] = {
    Utility.water: N_("供水"),
    Utility.power: N_("供电"),
    Utility.gas: N_("燃气"),
}


class ProjectState(enum.StrEnum):
    planned = "planned"  # 计划
    consulted = "consulted"  # 居民议事: residents decided (先自治)
    approved = "approved"  # 立项批准
    in_works = "in_works"  # 施工 (后整治)
    accepted = "accepted"  # 竣工验收
    managed = "managed"  # 常态管理
    dropped = "dropped"  # 终止: residents said no, or it was given up


PROJECT_STATE_LABEL: dict[ProjectState, str] = {
    ProjectState.planned: N_("计划"),
    ProjectState.consulted: N_("已议事"),
    ProjectState.approved: N_("已立项"),
    ProjectState.in_works: N_("施工中"),
    ProjectState.accepted: N_("已验收"),
    ProjectState.managed: N_("常态管理"),
    ProjectState.dropped: N_("已终止"),
}


class RenovationProject(Base):
    """A renovation of one courtyard or several: what it does, its money, its stages."""

    __tablename__ = "renovation_projects"
    __audited__ = True
    __audit_exclude__ = frozenset({"updated_at", "version"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The node the project belongs to: its sites' community (or the street when they are several
    # communities'): scope.
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255), index=True)
    sites: Mapped[list[int]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)  # RenovationCategory values
    works: Mapped[str] = mapped_column(Text)  # what is done, in words
    utilities: Mapped[list[str]] = mapped_column(JSON, default=list)  # Utility values (基础类)
    # The register items it brings (each `group.item`), present once it is accepted.
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    budget_yuan: Mapped[int] = mapped_column(Integer)
    funding: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{source, yuan}]
    state: Mapped[ProjectState] = mapped_column(
        Enum(ProjectState, native_enum=False, length=16), default=ProjectState.planned
    )
    planned_on: Mapped[date] = mapped_column(Date)
    consulted_on: Mapped[date | None] = mapped_column(Date)
    approved_on: Mapped[date | None] = mapped_column(Date)
    works_on: Mapped[date | None] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    managed_on: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Decision(enum.StrEnum):
    agreed = "agreed"  # 同意实施
    refused = "refused"  # 不同意


DECISION_LABEL: dict[Decision, str] = {
    Decision.agreed: N_("同意实施"),
    Decision.refused: N_("不同意"),
}


class Consultation(Base):
    """The residents' meeting before works (先自治后整治): who came, how they voted, what was
    decided, and its minutes."""

    __tablename__ = "renovation_consultations"
    __audited__ = True
    __audit_exclude__ = frozenset({"minutes"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("renovation_projects.id", ondelete="CASCADE"), index=True
    )
    held_on: Mapped[date] = mapped_column(Date)
    households: Mapped[int] = mapped_column(Integer)  # of the courtyards
    present: Mapped[int] = mapped_column(Integer)  # households there (or represented)
    votes_for: Mapped[int] = mapped_column(Integer)
    votes_against: Mapped[int] = mapped_column(Integer)
    abstained: Mapped[int] = mapped_column(Integer)
    decision: Mapped[Decision] = mapped_column(Enum(Decision, native_enum=False, length=16))
    note: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[bytes] = mapped_column(LargeBinary)  # the minutes: a PDF, or a photo of them
    minutes_type: Mapped[str] = mapped_column(String(32))  # application/pdf | image/jpeg
    minutes_sha256: Mapped[str] = mapped_column(String(64))
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def audit_scope_node_id(self) -> int | None:
        return None


class ProjectEntry(Base):
    """A line of a project's timeline: a stage reached, a consultation, a note, photos."""

    __tablename__ = "renovation_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("renovation_projects.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    on: Mapped[date] = mapped_column(Date)  # the day it happened (a stage's date)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class ProjectPhoto(StoredPhoto, Base):
    """A photo of a stage (before, during, after the works)."""

    __tablename__ = "renovation_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("renovation_projects.id", ondelete="CASCADE"), index=True
    )
    entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("renovation_entries.id", ondelete="SET NULL")
    )
    stage: Mapped[str] = mapped_column(String(16))
