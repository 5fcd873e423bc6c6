from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pingan.facilities.checklist import Checklist
from pingan.facilities.models import (
    Decision,
    ItemStatus,
    ProjectState,
    RenovationCategory,
    Utility,
)

NOTE_MAX = 1000
PHOTOS_MAX = 12  # an inspection's photos, each of a failed or doubtful item


class ItemIn(BaseModel):
    """A register entry as kept by staff (not an inspection): what is there now."""

    model_config = ConfigDict(extra="forbid")
    status: ItemStatus
    count: int | None = Field(None, ge=0, le=100_000)
    details: dict[str, Any] = Field(default_factory=dict, description="the item's fields")
    note: str | None = Field(None, max_length=NOTE_MAX)
    checked_on: date | None = None


class LevelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1, le=3, description="GB/T 21741-2021 protection level")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64, description="the checklist's group.item")
    status: ItemStatus
    count: int | None = Field(None, ge=0, le=100_000)
    details: dict[str, Any] = Field(default_factory=dict)
    note: str | None = Field(None, max_length=NOTE_MAX)
    photos: list[int] = Field(
        default_factory=list, max_length=PHOTOS_MAX, description="indices of the uploaded photos"
    )


class InspectionIn(BaseModel):
    """An inspection as the phone sends it, perhaps long after it was made (`at`)."""

    model_config = ConfigDict(extra="forbid")
    client_key: str = Field(
        min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="made on the phone"
    )
    site_id: int
    kind: str = Field("routine", max_length=32)
    at: datetime
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    note: str | None = Field(None, max_length=NOTE_MAX)
    answers: list[AnswerIn] = Field(min_length=1, max_length=200)


class EvidenceOut(BaseModel):
    kind: str  # device | checkpoint | management
    id: int | None = None
    name: str
    detail: str | None = None
    status: str | None = None


class ItemOut(BaseModel):
    code: str
    group: str
    name: str
    requirement: str
    clause: str
    required: bool
    counted: bool
    status: ItemStatus
    defect: bool  # an open grid event is being handled for it
    incident_id: int | None
    count: int | None
    details: dict[str, Any] | None
    note: str | None
    checked_on: date | None
    checked_by: str | None
    source: str | None
    photos: list[int]
    evidence: list[EvidenceOut]


class DueOut(BaseModel):
    kind: str
    name: str
    last_at: datetime | None
    due_on: date
    overdue: bool


class SheetOut(BaseModel):
    site_id: int
    name: str
    site_type: str | None
    community_id: int
    level: int
    required: int
    present: int
    defects: int
    completeness: float
    bundles: dict[str, bool]
    checklist_version: int
    items: list[ItemOut]
    due: list[DueOut]


class AnswerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    code: str
    status: ItemStatus
    count: int | None
    details: dict[str, Any] | None
    note: str | None
    incident_id: int | None
    photos: list[int] = Field(default_factory=list)


class ChangeOut(BaseModel):
    code: str
    before: ItemStatus | None
    after: ItemStatus


class InspectionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    site_id: int
    community_id: int
    kind: str
    checklist_version: int
    inspector: str
    at: datetime
    received_at: datetime
    previous_id: int | None
    passed: int
    failed: int
    not_applicable: int
    note: str | None


class InspectionDetail(InspectionOut):
    answers: list[AnswerOut]
    changes: list[ChangeOut]  # against the previous inspection of the same kind
    opened: list[int]  # grid events this inspection opened


class ScheduleRow(BaseModel):
    site_id: int
    site: str
    community_id: int
    site_type: str | None
    kind: str
    last_at: datetime | None
    due_on: date
    overdue: bool


class ChecklistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checklist: Checklist
    note: str | None = Field(None, max_length=500)


class ChecklistOut(BaseModel):
    version: int
    checklist: Checklist


# --- renovation ---------------------------------------------------------------------------------


class Funding(BaseModel):
    model_config = ConfigDict(extra="forbid")
    source: str = Field(
        min_length=1, max_length=100, description="区财政、街道、居民自筹、社会资金 …"
    )
    yuan: int = Field(ge=0, le=10_000_000_000)


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    sites: list[int] = Field(min_length=1, max_length=50, description="the courtyards it renovates")
    categories: list[RenovationCategory] = Field(min_length=1)
    works: str = Field(min_length=1, max_length=4000, description="what is done")
    utilities: list[Utility] = Field(
        default_factory=list, description="water, power, gas renovated (基础类 projects only)"
    )
    items: list[str] = Field(
        default_factory=list, max_length=100, description="register items it brings: group.item"
    )
    budget_yuan: int = Field(ge=0, le=10_000_000_000)
    funding: list[Funding] = Field(default_factory=list, max_length=20)
    planned_on: date


class ProjectOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    node_id: int
    sites: list[int]
    categories: list[RenovationCategory]
    works: str
    utilities: list[Utility]
    items: list[str]
    budget_yuan: int
    funding: list[Funding]
    state: ProjectState
    planned_on: date
    consulted_on: date | None
    approved_on: date | None
    works_on: date | None
    accepted_on: date | None
    managed_on: date | None
    created_by: str
    version: int
    actions: list[str] = Field(default_factory=list)


class ConsultationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    held_on: date
    households: int = Field(ge=1, le=100_000, description="households of the courtyards")
    present: int = Field(ge=0, le=100_000, description="households that took part")
    votes_for: int = Field(ge=0, le=100_000)
    votes_against: int = Field(ge=0, le=100_000)
    abstained: int = Field(0, ge=0, le=100_000)
    decision: Decision
    note: str | None = Field(None, max_length=4000)


class ConsultationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    held_on: date
    households: int
    present: int
    votes_for: int
    votes_against: int
    abstained: int
    decision: Decision
    note: str | None
    minutes_type: str
    minutes_sha256: str
    recorded_by: str
    recorded_at: datetime


class ProjectEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    on: date
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    photos: list[int] = Field(default_factory=list)


class ProjectDetail(ProjectOut):
    consultations: list[ConsultationOut]
    timeline: list[ProjectEntryOut]


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: str = Field(max_length=16)
    on: date | None = Field(None, description="the day it happened; today when not given")
    note: str | None = Field(None, max_length=4000)
    version: int | None = Field(None, description="the version you saw: a stale one is a 409")


class ProgressOut(BaseModel):
    community_id: int | None  # None: the street as a whole
    name: str | None
    projects: int
    by_state: dict[str, int]
    renovated: int  # courtyards whose works were accepted in the span
