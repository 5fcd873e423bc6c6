"""The street's measurable targets (目标任务): what each counts, its unit, baseline, target value
and deadline, where it applies (the street or one community), and the readings that make its
trend — computed from the platform's data where a measure exists, entered with evidence where
none does."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
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

from pingan.db.base import Base, UTCDateTime, utcnow
from pingan.i18n import N_


class Target(Base):
    __tablename__ = "targets"
    __audited__ = True
    __audit_exclude__ = frozenset({"updated_at", "version"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    definition: Mapped[str] = mapped_column(Text)  # what is counted, in words
    unit: Mapped[str] = mapped_column(String(20))  # 个, 条, 名, %
    baseline: Mapped[float] = mapped_column(Float, default=0.0)  # the value when it was set
    target_value: Mapped[float] = mapped_column(Float)
    starts_on: Mapped[date] = mapped_column(Date)  # what a counting measure counts from
    deadline: Mapped[date] = mapped_column(Date)
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255), index=True)  # the street's or a community's
    # A measure of targets/measures.py computes the value; none: it is entered with evidence.
    measure: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # withdrawn targets stay readable
    created_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Source(enum.StrEnum):
    computed = "computed"  # the measure's value that day
    entered = "entered"  # a person's entry with its evidence


SOURCE_LABEL: dict[Source, str] = {
    Source.computed: N_("平台计算"),
    Source.entered: N_("填报"),
}


class Reading(Base):
    """A target's value on a day: the trend. A computed target gets one a day (the last of the
    day wins); an entered one gets each entry, with what shows it (a note, a photo or a PDF)."""

    __tablename__ = "target_readings"
    __audited__ = True
    __audit_exclude__ = frozenset({"evidence"})
    __table_args__ = (UniqueConstraint("target_id", "on", "source", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("targets.id", ondelete="CASCADE"), index=True)
    on: Mapped[date] = mapped_column(Date)
    source: Mapped[Source] = mapped_column(Enum(Source, native_enum=False, length=16))
    seq: Mapped[int] = mapped_column(Integer, default=0)  # entries of one day: 0, 1, …
    value: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)  # an entry's evidence, in words
    evidence: Mapped[bytes | None] = mapped_column(LargeBinary)  # a photo or a PDF
    evidence_type: Mapped[str | None] = mapped_column(String(32))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    entered_by: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def audit_scope_node_id(self) -> int | None:
        return None
