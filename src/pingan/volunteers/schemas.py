"""Requests and answers of volunteer service."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from pingan.masking import MaskedNumber
from pingan.volunteers.models import ActivityKind, State

Words = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
MOBILE = r"^1[3-9][0-9]{9}$"  # a mainland mobile number: the one the community calls


class SignUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[Words, StringConstraints(max_length=50)]
    phone: str = Field(pattern=MOBILE, description="a mainland mobile number, 11 digits")
    community_id: int
    programme_id: int


class SignedUp(BaseModel):
    id: int
    state: State
    key: str = Field(description="opens the volunteer's own page: keep it, it is shown once")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["confirm", "refuse", "leave"]
    team_id: int | None = None
    note: str | None = Field(None, max_length=200)


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: Annotated[Words, StringConstraints(max_length=50)]
    description: str | None = Field(None, max_length=1000)


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    description: str | None
    builtin: bool
    active: bool


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    programme_id: int
    node_id: int = Field(description="the community")
    name: Annotated[Words, StringConstraints(max_length=100)]


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    programme_id: int
    node_id: int
    name: str


class VolunteerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    programme_id: int
    team_id: int | None
    community_id: int
    name: str
    phone: MaskedNumber
    person_id: int | None
    state: State
    created_at: datetime
    decided_at: datetime | None
    hours: float = 0.0
    level: str | None = None


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ActivityKind
    title: Annotated[Words, StringConstraints(max_length=100)]
    programme_id: int | None = None
    node_id: int = Field(description="the community (or a grid, a site of it)")
    place: Annotated[Words, StringConstraints(max_length=200)]
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    radius_m: int = Field(300, ge=20, le=5000)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    capacity: int | None = Field(None, ge=1, le=10_000)
    incident_id: int | None = Field(None, description="mediation: the grid event it mediates")


class ActivityOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: ActivityKind
    title: str
    programme_id: int | None
    node_id: int
    place: str
    lon: float | None
    lat: float | None
    radius_m: int
    starts_at: datetime
    ends_at: datetime
    capacity: int | None
    code: str | None = None  # to those who run it
    incident_id: int | None
    cancelled: bool
    signed_up: int = 0
    checked_in: int = 0


class AttendanceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    activity_id: int
    volunteer_id: int
    signed_up_at: datetime | None
    in_at: datetime | None
    out_at: datetime | None
    flags: list[str]
    accepted: bool | None
    minutes: int
    activity: str = ""  # its title, on the volunteer's own page


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(pattern=r"^[0-9]{6}$", description="the activity's code, shown on the spot")
    action: Literal["in", "out"]
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accept: bool


class Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[Words, StringConstraints(max_length=20)]
    hours: float = Field(gt=0, le=100_000)


class LevelsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: list[Level] = Field(min_length=1, max_length=10)


class OwnPage(BaseModel):
    volunteer: VolunteerOut
    programme: str
    community: str
    hours_activities: float
    hours_patrol: float
    next_level: Level | None
    attendances: list[AttendanceOut]
    activities: list[ActivityOut]  # of their community, to come


class Span(BaseModel):
    start: date
    end: date
