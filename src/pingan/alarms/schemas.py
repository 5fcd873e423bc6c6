from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pingan.alarms.flows import Action
from pingan.alarms.models import AlarmState


class AlarmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule_id: str
    category: str
    priority: int
    title: str = Field(
        description="The rule's title as the rules file words it; pages show it translated"
    )
    subject: str | None = Field(description="The device or route, as its people named it")
    device_id: int | None
    node_id: int
    path: str = Field(description="The place's path in the territory tree: /street/community/…")
    zone: str | None
    state: AlarmState
    level: int
    count: int
    restored: bool
    raised_at: datetime
    last_event_at: datetime
    restored_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    ack_seconds: float | None
    resolve_seconds: float | None
    version: int
    acknowledged: bool = Field(description="Whether a person has acknowledged it")
    actions: list[Action] = Field(default_factory=list, description="What may be done now")


class EntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    actor_user_id: int | None
    action: str
    from_state: str | None
    to_state: str | None
    note: str | None
    event_id: int | None


class AlarmDetail(AlarmOut):
    timeline: list[EntryOut]


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Action
    note: str | None = Field(None, max_length=2000)
    version: int | None = Field(None, description="The version you saw; a newer one is a 409")


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alarm_id: int | None
    incident_id: int | None = None
    channel: str
    kind: str
    event: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None


ChannelType = Literal["webhook", "wecom", "dingtalk", "email", "sms"]


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=r"^[a-z0-9_]{1,64}$", description="What rules name it by")
    name: str = Field(min_length=1, max_length=100)
    type: ChannelType
    url: str | None = Field(
        None, max_length=500, pattern=r"^https?://[^\s\x00-\x1f]+$", description="Secret"
    )
    secret: str | None = Field(None, max_length=200, description="Signing key (secret)")
    to: list[str] = Field(default_factory=list, max_length=50)
    mention: list[str] = Field(default_factory=list, max_length=50)
    every_alarm: bool = Field(False, description="Told of every alarm")
    responders: bool = Field(False, description="Reaches a responder whose phone page is closed")
    enabled: bool = True


class ChannelUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    url: str | None = Field(
        None, max_length=500, pattern=r"^https?://[^\s\x00-\x1f]+$", description="Secret"
    )
    secret: str | None = Field(None, max_length=200)
    to: list[str] | None = Field(None, max_length=50)
    mention: list[str] | None = Field(None, max_length=50)
    every_alarm: bool | None = None
    responders: bool | None = None
    enabled: bool | None = None


class ChannelOut(BaseModel):
    """A channel as the console shows it: where it goes, never its secrets."""

    id: int
    key: str
    name: str
    type: ChannelType
    host: str | None = Field(None, description="The address's host, without its key or path")
    has_secret: bool
    to: list[str] = Field(description="Recipients, numbers masked")
    every_alarm: bool
    responders: bool
    enabled: bool
    last_test_at: datetime | None
    last_test_result: str | None


class ChannelTested(BaseModel):
    ok: bool
    result: str
