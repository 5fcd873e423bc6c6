"""Normalised events from every channel, and what could not be processed (dead letters)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, UTCDateTime, utcnow


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_device_time", "device_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Globally unique: the sender's id (prefixed with the device) makes a repeat harmless.
    event_id: Mapped[str] = mapped_column(String(160), unique=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(8))  # mqtt | http | dc09 | system
    kind: Mapped[str] = mapped_column(String(32))
    code: Mapped[str | None] = mapped_column(String(32))
    zone: Mapped[str | None] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class DeadLetter(Base):
    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str | None] = mapped_column(String(200))  # topic, peer address, device code
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("devices.id", ondelete="SET NULL"), index=True
    )
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    reason_key: Mapped[str] = mapped_column(String(32))  # bad_json | schema | unknown_device …
    reason: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replay_result: Mapped[str | None] = mapped_column(Text)
