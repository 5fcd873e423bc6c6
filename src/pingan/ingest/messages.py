"""The JSON device message shared by MQTT and HTTP: parse, validate, normalise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pingan.devices import service as device_service
from pingan.devices.service import DeviceInfo
from pingan.events.models import DeadLetter
from pingan.events.pipeline import Incoming
from pingan.events.schemas import EventIn
from pingan.ingest import topics

MAX_BATCH = 1000


@dataclass
class BadMessage(Exception):
    """Why a message cannot be processed: a stable key and words for the dead-letter store."""

    key: str
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.key}: {self.reason}"


def parse(raw: bytes) -> list[EventIn]:
    """One event object, a list of them, or {"events": [...]}."""
    try:
        data: Any = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage("bad_json", f"not valid JSON: {exc}") from exc
    if isinstance(data, dict) and set(data) == {"events"}:
        data = data["events"]
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BadMessage("schema", "no events in the message")
    if len(items) > MAX_BATCH:
        raise BadMessage("schema", f"at most {MAX_BATCH} events in one message")
    events = []
    for index, item in enumerate(items):
        try:
            events.append(EventIn.model_validate(item))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            prefix = f"[{index}]." if isinstance(data, list) else ""
            raise BadMessage(
                "schema", f"{prefix}{where}: {err['msg']}", field=where or None
            ) from exc
    return events


def to_incoming(
    device: DeviceInfo, channel: str, event: EventIn, *, fallback_id: str | None = None
) -> Incoming:
    return Incoming(
        device=device,
        channel=channel,
        kind=event.kind,
        code=event.code,
        zone=event.zone,
        occurred_at=event.time,
        sender_id=event.event_id or fallback_id,
        payload=event.data,
    )


def schema() -> dict[str, Any]:
    return EventIn.model_json_schema()


def reparse(session: Session, letter: DeadLetter) -> list[Incoming]:
    """A JSON dead letter (HTTP or MQTT) parsed again, for its device as it is now."""
    device = (
        device_service.info_by_id(session, device_id=letter.device_id) if letter.device_id else None
    )
    if device is None and letter.channel == "mqtt" and letter.source:
        where = topics.parse(letter.source)
        device = (
            device_service.infos_by_codes(session, codes=[where.code]).get(where.code)
            if where
            else None
        )
    if device is None:
        raise BadMessage("unknown_device", "the device is still unknown")
    if not device.enabled:
        raise BadMessage("disabled", "the device is disabled")
    return [to_incoming(device, letter.channel, event) for event in parse(letter.raw)]
