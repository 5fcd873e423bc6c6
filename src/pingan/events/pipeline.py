"""The one event pipeline: validate → deduplicate by event id → store → hand to consumers.

Adapters at the edge turn a message into `Incoming` values; consumers (device liveness, the alarm
engine …) receive the stored events in the same transaction and may answer with follow-up events
(a device back online restores its "offline" alarm), which go through the same steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.db.base import utcnow
from pingan.devices.service import DeviceInfo
from pingan.events.models import DeadLetter, Event

MAX_FOLLOW_UPS = 3
# Core table: inserting rows this way skips the ORM's per-object bookkeeping (the hot path).
EVENTS = cast(Table, Event.__table__)


@dataclass
class Incoming:
    device: DeviceInfo
    channel: str
    kind: str
    code: str | None = None
    zone: str | None = None
    occurred_at: datetime | None = None
    sender_id: str | None = None
    payload: dict[str, Any] | None = None
    received_at: datetime = field(default_factory=utcnow)

    @property
    def event_id(self) -> str:
        """Namespaced by device, so two devices' ids never collide."""
        if self.sender_id is None:
            self.sender_id = uuid.uuid4().hex
        return f"{self.device.code}:{self.sender_id}"


@dataclass
class Stored:
    """An event as consumers see it: the row's id, and the device it came from."""

    id: int
    event_id: str
    device: DeviceInfo
    channel: str
    kind: str
    code: str
    zone: str | None
    occurred_at: datetime
    received_at: datetime
    payload: dict[str, Any] | None


Consumer = Callable[[Session, list[Stored]], list[Incoming]]


@dataclass
class Outcome:
    event_id: str
    duplicate: bool


class Pipeline:
    def __init__(self, consumers: Sequence[Consumer]) -> None:
        self.consumers = list(consumers)

    def process(self, session: Session, items: Sequence[Incoming]) -> list[Outcome]:
        """Store what is new and run the consumers. Flushes; the caller commits."""
        outcomes, stored = self._store(session, items)
        follow = self._consume(session, stored)
        for _ in range(MAX_FOLLOW_UPS):
            if not follow:
                break
            _o, more = self._store(session, follow)
            follow = self._consume(session, more)
        return outcomes

    def _consume(self, session: Session, stored: list[Stored]) -> list[Incoming]:
        follow: list[Incoming] = []
        if stored:
            for consumer in self.consumers:
                follow.extend(consumer(session, stored))
        return follow

    def _store(
        self, session: Session, items: Sequence[Incoming]
    ) -> tuple[list[Outcome], list[Stored]]:
        ids = [item.event_id for item in items]
        existing = set(session.scalars(select(Event.event_id).where(Event.event_id.in_(ids))))
        outcomes: list[Outcome] = []
        fresh: list[Incoming] = []
        seen: set[str] = set()
        for item in items:
            duplicate = item.event_id in existing or item.event_id in seen
            outcomes.append(Outcome(item.event_id, duplicate))
            if not duplicate:
                seen.add(item.event_id)
                fresh.append(item)
        if not fresh:
            return outcomes, []
        rows = [_row(item) for item in fresh]
        try:
            with session.begin_nested():
                # executemany without RETURNING: the fast path on every driver.
                session.execute(insert(EVENTS), rows)
        except IntegrityError:
            # Another process stored one of these meanwhile: take them one at a time.
            return self._store_one_by_one(session, items)
        found = session.execute(
            select(Event.event_id, Event.id).where(
                Event.event_id.in_([r["event_id"] for r in rows])
            )
        )
        new_ids = {event_id: row_id for event_id, row_id in found}
        stored = [
            _stored(new_ids[row["event_id"]], item, row)
            for item, row in zip(fresh, rows, strict=True)
        ]
        return outcomes, stored

    def _store_one_by_one(
        self, session: Session, items: Sequence[Incoming]
    ) -> tuple[list[Outcome], list[Stored]]:
        outcomes: list[Outcome] = []
        stored: list[Stored] = []
        for item in items:
            row = _row(item)
            try:
                with session.begin_nested():
                    new_id = session.execute(insert(EVENTS).returning(Event.id), row).scalar_one()
            except IntegrityError:
                outcomes.append(Outcome(item.event_id, True))
                continue
            outcomes.append(Outcome(item.event_id, False))
            stored.append(_stored(new_id, item, row))
        return outcomes, stored


def _row(item: Incoming) -> dict[str, Any]:
    return {
        "event_id": item.event_id,
        "device_id": item.device.id,
        "channel": item.channel,
        "kind": item.kind,
        "code": item.code or item.kind,
        "zone": item.zone,
        "occurred_at": item.occurred_at or item.received_at,
        "received_at": item.received_at,
        "payload": item.payload,
    }


def _stored(new_id: int, item: Incoming, row: dict[str, Any]) -> Stored:
    return Stored(
        id=new_id,
        event_id=row["event_id"],
        device=item.device,
        channel=item.channel,
        kind=item.kind,
        code=row["code"],
        zone=item.zone,
        occurred_at=row["occurred_at"],
        received_at=item.received_at,
        payload=item.payload,
    )


def dead_letter(
    session: Session,
    *,
    channel: str,
    raw: bytes,
    reason_key: str,
    reason: str,
    source: str | None = None,
    device_id: int | None = None,
) -> DeadLetter:
    """Keep what could not be processed, with the raw bytes and why."""
    letter = DeadLetter(
        channel=channel,
        raw=raw,
        reason_key=reason_key,
        reason=reason[:2000],
        source=source[:200] if source else None,
        device_id=device_id,
        received_at=utcnow(),
    )
    session.add(letter)
    session.flush()
    return letter
