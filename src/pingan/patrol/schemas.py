from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pingan.patrol.models import RunState, TeamKind
from pingan.territory.geo import CRS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TeamIn(Strict):
    kind: TeamKind
    name: str = Field(min_length=1, max_length=100)
    node_id: int = Field(description="The street, community or site the team serves")


class TeamOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: TeamKind
    name: str
    node_id: int


class MemberIn(Strict):
    person_id: int
    user_id: int | None = Field(None, description="The account the member logs in with")
    leader: bool = False
    programme: str | None = Field(None, max_length=32, description="红袖套, 蓝马甲, 橙丝带 …")


class MemberOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    team_id: int
    person_id: int
    user_id: int | None
    leader: bool
    programme: str | None
    active: bool
    service_minutes: int = Field(0, description="Runs walked and tasks worked on, in minutes")


class ShiftIn(Strict):
    member_id: int
    starts_at: datetime
    ends_at: datetime
    note: str | None = Field(None, max_length=200)


class ShiftOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    team_id: int
    member_id: int
    starts_at: datetime
    ends_at: datetime
    note: str | None


class SwapIn(Strict):
    other_shift_id: int


class MeetingIn(Strict):
    node_id: int
    held_at: datetime
    title: str = Field(min_length=1, max_length=200)
    attendees: list[str] = Field(min_length=1, max_length=200)
    decisions: str = Field(min_length=1, max_length=10_000)


class MeetingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    node_id: int
    held_at: datetime
    title: str
    attendees: list[Any]
    decisions: str


class CheckpointIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    radius_m: int = Field(50, ge=5, le=1000)
    due_min: int = Field(ge=0, le=24 * 60, description="Minutes into a run it is due by")


class RouteIn(Strict):
    team_id: int
    name: str = Field(min_length=1, max_length=100)
    duration_min: int = Field(ge=5, le=24 * 60)
    checkpoints: list[CheckpointIn] = Field(min_length=1, max_length=100)
    crs: CRS = Field(CRS.wgs84, description="Coordinates of the checkpoints (stored in WGS-84)")


class CheckpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    seq: int
    name: str
    lon: float
    lat: float
    radius_m: int
    due_min: int


class RouteOut(BaseModel):
    id: int
    team_id: int
    name: str
    duration_min: int
    checkpoints: list[CheckpointOut]


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    route_id: int
    member_id: int
    started_at: datetime
    due_at: datetime
    finished_at: datetime | None
    state: RunState
    missed: list[Any] | None


class CheckInIn(Strict):
    token: str = Field(min_length=8, max_length=200, description="From the checkpoint's QR code")
    lon: float
    lat: float
    at: datetime | None = Field(None, description="When it was scanned (queued offline: then)")


class CheckInOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    run_id: int
    checkpoint_id: int
    at: datetime = Field(description="When it was scanned (earlier than received when queued)")
    received_at: datetime
    distance_m: float
    flags: list[Any]
