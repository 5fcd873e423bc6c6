from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from pingan.alarms.flows import Action
from pingan.alarms.models import AlarmState


class AlarmOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rule_id: str
    category: str
    priority: int
    title: str
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
    alarm_id: int
    channel: str
    kind: str
    event: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    last_error: str | None
