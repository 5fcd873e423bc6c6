"""The device message: one JSON shape for MQTT and HTTP (published as JSON Schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_serializer

from pingan.masking import mask_optional


class EventIn(BaseModel):
    """One event as a device sends it."""

    model_config = ConfigDict(extra="forbid", title="pingan device event")

    event_id: str | None = Field(
        None,
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="The sender's id; a message repeated with the same id is stored once",
    )
    kind: str = Field(
        pattern=r"^[a-z_]{2,32}$",
        description="heartbeat, door, fire, burglary, panic, medical, gas, tamper, trouble, "
        "sensor, restore, open_close, status, test …",
    )
    code: str | None = Field(
        None,
        max_length=32,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="What exactly: door_forced, smoke …",
    )
    zone: str | None = Field(None, max_length=32, description="Zone, door or sensor of the device")
    time: AwareDatetime | None = Field(
        None, description="When it happened, at the device (with offset)"
    )
    data: dict[str, Any] | None = Field(None, description="Anything else the device reports")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    event_id: str
    device_id: int
    channel: str
    kind: str
    code: str | None
    zone: str | None
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any] | None

    @field_serializer("payload")
    def _masked(self, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        # A dementia watch entry's alert carries the family's number to text.
        if payload and isinstance(payload.get("notify_sms"), list):
            return {**payload, "notify_sms": [mask_optional(str(n)) for n in payload["notify_sms"]]}
        return payload


class DeadLetterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    channel: str
    received_at: datetime
    source: str | None
    device_id: int | None
    raw_text: str = ""
    reason_key: str
    reason: str
    replayed_at: datetime | None
    replay_result: str | None


class IngestResult(BaseModel):
    event_id: str
    status: str = Field(description="stored | duplicate")
