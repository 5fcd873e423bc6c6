"""Declarative base, naming convention and shared column types."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, DateTime, Integer, LargeBinary, MetaData, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the platform's local time: days, night hours, messages


def utcnow() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    """Today in Beijing (the platform's days)."""
    return utcnow().astimezone(SHANGHAI).date()


def day_start(day: date) -> datetime:
    """The moment a day begins in Beijing (days are Beijing days wherever they are typed)."""
    return datetime.combine(day, time(), SHANGHAI)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored in UTC on every backend (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; pingan stores timezone-aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        if stored.tzinfo is None:
            return stored.replace(tzinfo=UTC)
        return stored.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    # Models that set this are written to the audit log on every insert, update and delete.
    __audited__: bool = False
    # Columns never copied into the audit log (secrets).
    __audit_exclude__: frozenset[str] = frozenset()
    # Personal identifiers recorded masked (PIPL: the log must not become a copy of them).
    __audit_mask__: frozenset[str] = frozenset()


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class StoredPhoto:
    """A photo as kept: re-encoded JPEG with no metadata (pingan.photos), its size, when."""

    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DataVersion:
    """A street's edit of a shipped data file (the event catalogue, the checklist), kept whole:
    the latest is in force (datafile.Versions)."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))


SEALED_PREFIX = "sealed:v1:"
_data_key: list[str] = []  # the running platform's data key (configure_secrets), else the env's


def configure_secrets(data_key: str) -> None:
    """The data key sealed columns use in this process (the application's and CLI's settings)."""
    _data_key[:] = [data_key] if data_key else []


def _secrets_vault() -> Any:
    from pingan.config import get_settings
    from pingan.faces.vault import Vault

    return Vault.from_setting(_data_key[0] if _data_key else get_settings().data_key)


def secrets_ready() -> bool:
    """Whether a data key is there to seal secrets with."""
    from pingan.faces.vault import KeyMissing

    try:
        _secrets_vault()
    except KeyMissing:
        return False
    return True


class Sealed(TypeDecorator[str]):
    """A secret (a DC-09 AES key, a camera URL with its password) encrypted under the data key
    (AES-256-GCM) in the database and so in every backup; plain text in Python only. A value
    stored before encryption came in is read as it is (the migration seals those it can)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or value.startswith(SEALED_PREFIX):
            return value
        sealed = _secrets_vault().seal(value.encode())
        return SEALED_PREFIX + base64.b64encode(sealed).decode()

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None or not str(value).startswith(SEALED_PREFIX):
            return value  # type: ignore[no-any-return]
        blob = base64.b64decode(str(value)[len(SEALED_PREFIX) :])
        opened: bytes = _secrets_vault().open(blob)
        return opened.decode()
