"""Path supervision: a device that falls silent past its window is offline, which is an event
(raising the "device offline" alarm), and its next message brings it back (restoring it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from pingan.db.base import utcnow
from pingan.devices import service as device_service
from pingan.events.pipeline import Incoming, Stored

OFFLINE = "offline"


def liveness(session: Session, events: list[Stored]) -> list[Incoming]:
    """Pipeline consumer: every message is a sign of life."""
    seen: dict[int, datetime] = {}
    gone: list[int] = []
    devices = {}
    for event in events:
        if event.channel == "system":
            continue
        if event.kind == OFFLINE:  # the device's last will: its connection is gone
            gone.append(event.device.id)
            seen.pop(event.device.id, None)
            continue
        seen[event.device.id] = max(event.received_at, seen.get(event.device.id, event.received_at))
        devices[event.device.id] = event.device
    device_service.mark_offline(session, device_ids=gone)
    back = device_service.mark_seen(session, seen=seen)
    return [
        Incoming(
            device=devices[device_id],
            channel="system",
            kind="restore",
            code=OFFLINE,
            sender_id=f"online-{seen[device_id].timestamp():.6f}",
            occurred_at=seen[device_id],
            payload={"reason": "device reported again"},
        )
        for device_id in back
    ]


def check(session: Session, *, now: datetime | None = None) -> list[Incoming]:
    """Devices silent past their window: mark them offline; the events to raise the alarms."""
    now = now or utcnow()
    overdue = device_service.overdue(session, now=now)
    if not overdue:
        return []
    device_service.mark_offline(session, device_ids=[d.id for d in overdue], now=now)
    infos = device_service.infos_by_codes(session, codes=[d.code for d in overdue])
    out = []
    for device in overdue:
        info = infos.get(device.code)
        if info is None:
            continue
        silent = (now - device.last_seen_at).total_seconds() if device.last_seen_at else None
        out.append(
            Incoming(
                device=info,
                channel="system",
                kind=OFFLINE,
                code=OFFLINE,
                sender_id=f"offline-{now.timestamp():.6f}",
                occurred_at=now,
                payload={"silent_s": silent, "supervision_s": device.supervision_s},
            )
        )
    return out
