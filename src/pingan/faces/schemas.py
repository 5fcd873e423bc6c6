from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan.faces.models import (
    PURPOSE_LABEL,
    ConsentMethod,
    ConsentPurpose,
    CredentialKind,
    Decision,
    WatchKind,
)
from pingan.i18n import keyed
from pingan.masking import MaskedNumber


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentIn(Strict):
    node_id: int = Field(description="Where face access applies: the person's site, usually")
    purpose: Annotated[ConsentPurpose, keyed(PURPOSE_LABEL)] = Field(
        ConsentPurpose.door_access, description="door_access (门禁通行) or care (关爱与防走失)"
    )
    central_storage: bool = Field(
        description="Whether the template may be held by the platform (else only on the device)"
    )
    method: ConsentMethod
    given_at: datetime | None = None
    guardian_name: str | None = Field(None, max_length=50, description="Required under 14")
    guardian_relation: str | None = Field(None, max_length=20)


class ConsentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    node_id: int
    purpose: ConsentPurpose
    central_storage: bool
    method: ConsentMethod
    given_at: datetime
    recorded_by: str
    guardian_name: str | None
    guardian_relation: str | None
    withdrawn_at: datetime | None
    withdrawn_by: str | None
    withdraw_reason: str | None


class WithdrawIn(Strict):
    reason: str | None = Field(None, max_length=200)


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    consent_id: int
    engine: str
    quality: dict[str, Any]
    created_at: datetime
    created_by: str


class PhotoResult(BaseModel):
    photo: str
    accepted: bool
    reason_key: str | None = None
    reason: str | None = None
    template_id: int | None = None
    quality: dict[str, Any] | None = None


class EnrolOut(BaseModel):
    results: list[PhotoResult]
    templates: int = Field(description="Templates the person has now")


class CredentialIn(Strict):
    node_id: int = Field(description="The site whose doors it opens")
    kind: CredentialKind
    secret: str = Field(
        min_length=4, max_length=32, pattern="^[0-9A-Za-z]+$", description="Card number or PIN"
    )
    expires_at: datetime | None = None

    @model_validator(mode="after")
    def _pin_digits(self) -> CredentialIn:
        if self.kind == CredentialKind.pin and not (
            self.secret.isdigit() and 6 <= len(self.secret) <= 12
        ):
            raise ValueError("a PIN is 6 to 12 digits")
        return self


class CredentialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    person_id: int
    node_id: int
    kind: CredentialKind
    hint: str
    expires_at: datetime | None
    revoked_at: datetime | None
    issued_by: str
    created_at: datetime


class DecisionOut(BaseModel):
    decision: Decision
    reason: str
    person_id: int | None = None
    name: str | None = Field(None, description="Masked: 张* — what a door's screen may show")
    score: float | None = None
    threshold: float | None = None
    recognition_id: int | None = None


class WatchIn(Strict):
    kind: WatchKind
    node_id: int = Field(description="Where it applies (the street, for the blocked list)")
    person_id: int | None = Field(None, description="Care and dementia lists: the resident")
    subject: str | None = Field(None, max_length=100, description="Blocked list: who is sought")
    legal_basis: str | None = Field(None, max_length=200, description="Blocked list: required")
    case_ref: str | None = Field(None, max_length=64, description="Blocked list: required")
    expires_at: datetime | None = Field(None, description="Blocked list: required, within a year")
    not_seen_days: int | None = Field(None, ge=1, le=60, description="Care list (default 3)")
    contact: str | None = Field(None, max_length=100, description="Dementia list: family to call")
    contact_phone: str | None = Field(
        None,
        pattern=r"^\+?\d{5,20}$",
        description="Dementia list: told by SMS when seen at an exit",
    )


class WatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: WatchKind
    node_id: int
    person_id: int | None
    subject: str | None
    legal_basis: str | None
    case_ref: str | None
    expires_at: datetime | None
    not_seen_days: int | None
    contact: str | None
    contact_phone: MaskedNumber
    created_by: str
    created_at: datetime
    ended_at: datetime | None
    last_seen_at: datetime | None
