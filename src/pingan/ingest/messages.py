"""The JSON device message shared by MQTT and HTTP: parse, validate, normalise."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pingan.db.base import utcnow
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


MAX_DEPTH = 16  # an event is flat; its `data` may nest a little
MAX_BYTES = 1024 * 1024  # as HTTP's body limit, for MQTT payloads too
FUTURE = timedelta(minutes=10)  # a device clock this far ahead, or PAST behind, is not believed
PAST = timedelta(days=30)


def _depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects, counted before anything is parsed."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise BadMessage("bad_json", f"{name} is not a number JSON allows")


def _check_text(value: Any, where: str = "") -> None:
    """Strings a database and every page can hold: no NUL, no lone surrogate."""
    if isinstance(value, str):
        if "\x00" in value:
            raise BadMessage(
                "bad_text", f"NUL character in {where or 'the message'}", field=where or None
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise BadMessage(
                "bad_text", f"lone surrogate in {where or 'the message'}", field=where or None
            ) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            _check_text(item, f"{where}[{n}]")


def parse(raw: bytes) -> list[EventIn]:
    """One event object, a list of them, or {"events": [...]}."""
    if len(raw) > MAX_BYTES:
        raise BadMessage("too_large", f"message of {len(raw)} bytes, over {MAX_BYTES}")
    if _depth(raw) > MAX_DEPTH:
        raise BadMessage("bad_json", f"nested deeper than {MAX_DEPTH} levels")
    try:
        data: Any = json.loads(raw, parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage("bad_json", f"not valid JSON: {exc}") from exc
    _check_text(data)
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
    device: DeviceInfo,
    channel: str,
    event: EventIn,
    *,
    fallback_id: str | None = None,
    now: datetime | None = None,
) -> Incoming:
    """A device time far ahead of ours or long past is kept in the payload, flagged, and the
    event is placed by the time it was received."""
    occurred, payload = event.time, event.data
    now = now or utcnow()
    if occurred is not None and not now - PAST <= occurred <= now + FUTURE:
        payload = {
            **(payload or {}),
            "device_time": occurred.isoformat(),
            "device_time_suspect": True,
        }
        occurred = None
    return Incoming(
        device=device,
        channel=channel,
        kind=event.kind,
        code=event.code,
        zone=event.zone,
        occurred_at=occurred,
        sender_id=event.event_id or fallback_id,
        payload=payload,
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
