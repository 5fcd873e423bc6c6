"""Requests and answers of the targets register."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pingan.targets.models import Source

Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
LIMIT = 1e12  # no target counts more than this
# A target's days: this century (a trend is filled month by month from the first day).
Day = Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class TargetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[Words, StringConstraints(max_length=100)]
    definition: Annotated[Words, StringConstraints(max_length=2000)] = Field(
        description="what is counted, in words"
    )
    unit: Annotated[Words, StringConstraints(max_length=20)] = Field(
        description="个, 条, 名, % …: required"
    )
    baseline: float = Field(0.0, ge=-LIMIT, le=LIMIT, description="the value when it was set")
    target_value: float = Field(ge=-LIMIT, le=LIMIT)
    starts_on: Day = Field(description="the first day it counts from")
    deadline: Day
    node_id: int = Field(description="the street (street-wide) or one community")
    measure: str | None = Field(
        None,
        max_length=40,
        description="a measure of GET /targets/measures computes it; none: entered with evidence",
    )


class TargetPatch(BaseModel):
    """A change to a target's terms (its measure and node stay what they were)."""

    model_config = ConfigDict(extra="forbid")
    name: Annotated[Words, StringConstraints(max_length=100)] | None = None
    definition: Annotated[Words, StringConstraints(max_length=2000)] | None = None
    unit: Annotated[Words, StringConstraints(max_length=20)] | None = None
    baseline: float | None = Field(None, ge=-LIMIT, le=LIMIT)
    target_value: float | None = Field(None, ge=-LIMIT, le=LIMIT)
    starts_on: Day | None = None
    deadline: Day | None = None
    active: bool | None = None
    version: int = Field(ge=1, description="the version read: a change made since is refused")


class ReadingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=-LIMIT, le=LIMIT)
    on: Day = Field(description="the day the value is for")
    note: Annotated[Words, StringConstraints(max_length=2000)] = Field(
        description="what shows it: required"
    )


class MeasureOut(BaseModel):
    key: str
    name: str
    definition: str
    unit: str
    historic: bool


class StandingOut(BaseModel):
    value: float | None  # none: nothing entered yet
    progress: float | None  # 0‥1 of the way from the baseline to the target
    expected: float  # 0‥1 of the time from the first day to the deadline gone
    status: str  # met | on_track | behind | overdue | not_started
    as_of: date | None


class TargetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    definition: str
    unit: str
    baseline: float
    target_value: float
    starts_on: date
    deadline: date
    node_id: int
    node_name: str = ""
    measure: str | None
    active: bool
    version: int
    standing: StandingOut | None = None
    may_enter: bool = False


class ReadingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    on: date
    source: Source
    value: float
    note: str | None
    evidence_type: str | None
    entered_by: str | None
    at: datetime


class TargetDetail(TargetOut):
    readings: list[ReadingOut] = Field(default_factory=list)
