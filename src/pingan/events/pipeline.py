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

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
        """One statement: insert what is new, skip what is stored (here or by another process)."""
        firsts: dict[str, Incoming] = {}
        for item in items:
            firsts.setdefault(item.event_id, item)
        rows = {event_id: _row(item) for event_id, item in firsts.items()}
        if not rows:
            return [], []
        insert_new = _insert_ignoring_repeats(session).returning(Event.event_id, Event.id)
        new_ids = {
            event_id: row_id
            for event_id, row_id in session.execute(insert_new, list(rows.values()))
        }
        outcomes: list[Outcome] = []
        stored: list[Stored] = []
        claimed: set[str] = set()
        for item in items:
            event_id = item.event_id
            fresh = event_id in new_ids and event_id not in claimed
            outcomes.append(Outcome(event_id, not fresh))
            if fresh:
                claimed.add(event_id)
                stored.append(_stored(new_ids[event_id], item, rows[event_id]))
        return outcomes, stored


def _insert_ignoring_repeats(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return pg_insert(EVENTS).on_conflict_do_nothing(index_elements=["event_id"])
    return sqlite_insert(EVENTS).on_conflict_do_nothing(index_elements=["event_id"])


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


KEPT_BYTES = 64 * 1024


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
    """Keep what could not be processed, with the raw bytes and why (at most KEPT_BYTES of
    them: a message refused for its size is not stored whole)."""
    if len(raw) > KEPT_BYTES:
        reason = f"{reason} (first {KEPT_BYTES} of {len(raw)} bytes kept)"
        raw = raw[:KEPT_BYTES]
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
