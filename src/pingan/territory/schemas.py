from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pingan.i18n import keyed
from pingan.masking import MaskedNumber
from pingan.territory.geo import CRS
from pingan.territory.models import (
    KIND_LABEL,
    RELATION_LABEL,
    RESIDENCE_LABEL,
    SITE_TYPE_LABEL,
    Management,
    NodeKind,
    PersonKind,
    Relation,
    Residence,
    SiteType,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeFields(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    code: str | None = Field(None, max_length=32)
    address: str | None = Field(None, max_length=200)
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude (WGS-84 unless crs)")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude (WGS-84 unless crs)")
    boundary: dict[str, Any] | None = Field(
        None, description="GeoJSON Polygon or MultiPolygon (street, community, grid or site)"
    )
    crs: CRS = Field(CRS.wgs84, description="Coordinate system of lon/lat and boundary as sent")
    site_type: SiteType | None = None
    management: Management | None = None
    management_name: str | None = Field(None, max_length=100)
    management_contact: str | None = Field(None, max_length=50)
    floors: int | None = Field(None, ge=1, le=200)
    units: int | None = Field(None, ge=1, le=50)
    notes: str | None = Field(None, max_length=2000)


class NodeCreate(NodeFields):
    kind: NodeKind
    parent_id: int | None = None
    name: str = Field(min_length=1, max_length=100)


class NodeUpdate(NodeFields):
    parent_id: int | None = Field(None, description="Move under another node of the right kind")


class NodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: NodeKind
    kind_label: str = ""
    parent_id: int | None
    path: str
    name: str
    code: str | None
    address: str | None
    lon: float | None
    lat: float | None
    boundary: dict[str, Any] | None
    site_type: SiteType | None
    site_type_label: str | None = None
    management: Management | None
    management_name: str | None
    management_contact: str | None
    floors: int | None
    units: int | None
    notes: str | None
    created_at: datetime
    updated_at: datetime

    @field_validator("boundary", mode="before")
    @classmethod
    def _geojson(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    def model_post_init(self, _context: Any) -> None:
        self.kind_label = KIND_LABEL[self.kind]
        self.site_type_label = SITE_TYPE_LABEL[self.site_type] if self.site_type else None


class LocateOut(BaseModel):
    lon: float
    lat: float
    community: NodeOut | None
    grid: NodeOut | None


class PersonFields(Strict):
    kind: PersonKind | None = None
    node_id: int | None = Field(
        None, description="Household, site or community the person belongs to"
    )
    name: str | None = Field(None, min_length=1, max_length=50)
    gender: str | None = Field(None, pattern="^[MF]$")
    birth_date: date | None = None
    id_number: str | None = Field(None, description="18-digit resident identity card number")
    phone: str | None = Field(None, pattern=r"^[0-9+\- ]{5,20}$")
    relation: Annotated[Relation | None, keyed(RELATION_LABEL)] = Field(
        None, description="To the householder: head, spouse … (or the word)"
    )
    residence: Annotated[Residence | None, keyed(RESIDENCE_LABEL)] = Field(
        None, description="registered, permanent … (or the word)"
    )
    resident_group_id: int | None = None
    notes: str | None = Field(None, max_length=2000)

    @field_validator("id_number")
    @classmethod
    def _id_number(cls, value: str | None) -> str | None:
        from pingan.territory.idcard import validate_id_number

        return validate_id_number(value) if value else None


class PersonCreate(PersonFields):
    kind: PersonKind = PersonKind.resident
    node_id: int
    name: str = Field(min_length=1, max_length=50)


class PersonUpdate(PersonFields):
    pass


class PersonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: PersonKind
    node_id: int
    name: str
    gender: str | None
    birth_date: date | None
    id_number: MaskedNumber = Field(description="Masked; GET …/id-number reads it whole (audited)")
    phone: MaskedNumber = Field(description="Masked; GET …/phone reads it whole (audited)")
    relation: Relation | None
    residence: Residence | None
    resident_group_id: int | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class GroupCreate(Strict):
    community_id: int
    name: str = Field(min_length=1, max_length=50)
    leader_person_id: int | None = None


class GroupUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=50)
    leader_person_id: int | None = None


class GroupOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    community_id: int
    name: str
    leader_person_id: int | None
