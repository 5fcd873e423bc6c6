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
