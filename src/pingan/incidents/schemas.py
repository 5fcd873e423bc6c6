from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pingan.incidents.catalogue import Catalogue
from pingan.incidents.flows import Action
from pingan.incidents.models import Channel, IncidentState, Rating
from pingan.masking import MaskedNumber
from pingan.territory.geo import CRS

DESCRIPTION_MAX = 4000
PHOTOS_MAX = 4


class ReportIn(BaseModel):
    """What any channel reports. The position is WGS-84 unless `crs` says otherwise; without one,
    the address must name a place of the territory."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(
        max_length=64, description="The catalogue's category.kind, e.g. fire.ebike_indoor"
    )
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)
    attributes: dict[str, Any] = Field(
        default_factory=dict, description="Answers to the kind's fields, by their codes"
    )
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: CRS = CRS.wgs84
    address: str | None = Field(None, max_length=200)
    reporter_name: str | None = Field(None, max_length=50)
    reporter_phone: str | None = Field(None, pattern=r"^\+?[0-9]{5,15}$")
    notify_sms: bool = Field(False, description="Tell the reporter of each change by SMS")
    alarm_id: int | None = Field(None, description="The alarm this case comes from")
    checkpoint_id: int | None = Field(None, description="A patrol checkpoint found wrong")


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    data: dict[str, Any] | None
    photos: list[int] = Field(default_factory=list)


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    category: str
    priority: int
    handler: str
    state: IncidentState
    is_open: bool
    channel: Channel
    description: str
    attributes: dict[str, Any] | None
    address: str | None
    lon: float
    lat: float
    node_id: int
    path: str
    community_id: int
    grid_id: int | None
    street_line_id: int | None
    level: int
    assignee_user_id: int | None
    assignee: str | None
    reporter_name: str | None
    reporter_phone: MaskedNumber = None
    alarm_id: int | None
    checkpoint_id: int | None
    merged_into_id: int | None
    reject_reason: str | None
    reported_at: datetime
    accepted_at: datetime | None
    due_at: datetime | None
    overdue_at: datetime | None
    extension_asked: str | None
    extension_days: int | None
    supervised: bool
    assigned_at: datetime | None
    done_at: datetime | None
    verified_at: datetime | None
    closed_at: datetime | None
    on_time: bool | None
    reopened: int
    rating: Rating | None
    version: int
    photos: int = Field(0, description="How many photos the case has")
    actions: list[Action] = Field(default_factory=list, description="What you may do now")


class IncidentDetail(IncidentOut):
    timeline: list[EntryOut]
    duplicates: list[int] = Field(
        default_factory=list, description="Open cases of the same kind within 50 m and 72 h"
    )


class Reported(IncidentDetail):
    token: str = Field(description="The reporter's key to their own case page (/m/case/{token})")


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    note: str | None = Field(None, max_length=2000)
    reason: str | None = Field(None, max_length=32, description="Why: rejecting, sending back")
    assignee_user_id: int | None = Field(None, description="Assign to this account")
    assignee: str | None = Field(None, max_length=100, description="Or to a department by name")
    target_id: int | None = Field(None, description="Merge into this case")
    days: int | None = Field(None, ge=1, le=30, description="Working days asked or granted")
    version: int | None = Field(None, description="The version you saw; a newer one is a 409")


class RateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rating: Rating
    fixed: bool = Field(True, description="False: the problem is still there")
    note: str | None = Field(None, max_length=500)


class PublicCase(BaseModel):
    """A case as its reporter sees it: no other person's name, number or note."""

    id: int
    kind: str
    state: IncidentState
    description: str
    address: str | None
    reported_at: datetime
    accepted_at: datetime | None
    due_at: datetime | None
    done_at: datetime | None
    closed_at: datetime | None
    merged_into_id: int | None
    reject_reason: str | None
    rating: Rating | None
    may_rate: bool
    may_verify: bool
    steps: list[dict[str, Any]] = Field(description="What happened, when (no names)")
    photos: list[int]


class CatalogueIn(Catalogue):
    note: str | None = Field(None, max_length=500)


class StreetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    alley: bool = False
    geometry: dict[str, Any] = Field(description="GeoJSON LineString (or a Feature of one)")
    crs: CRS = CRS.wgs84
    node_id: int = Field(description="The street office (街道) it belongs to")
    chief_user_id: int | None = None
    officer_user_id: int | None = None


class StreetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    alley: bool
    geometry: dict[str, Any]
    node_id: int
    communities: list[int]
    chief_user_id: int | None
    officer_user_id: int | None
    chief: str | None = None
    officer: str | None = None


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    key_prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    requests: int


class ClientIssued(ClientOut):
    api_key: str = Field(description="Shown once: only its hash is kept")
