"""Facts about this database itself: whether it holds demo data, when it was set up."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from pingan.db.base import Base


class InstanceMeta(Base):
    __tablename__ = "instance_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


def get(session: Session, key: str) -> str | None:
    return session.scalar(select(InstanceMeta.value).where(InstanceMeta.key == key))


def put(session: Session, key: str, value: str) -> None:
    row = session.get(InstanceMeta, key)
    if row is None:
        session.add(InstanceMeta(key=key, value=value))
    else:
        row.value = value
    session.flush()


def is_demo(session: Session) -> bool:
    return get(session, "demo") == "1"


def engine_is_demo(engine: Engine) -> bool:
    """For status pages: a read that never waits for writers."""
    from pingan.db.engine import READONLY

    with engine.connect().execution_options(**{READONLY: True}) as conn:
        return demo_on(conn)


def demo_on(conn: Connection) -> bool:
    return conn.scalar(select(InstanceMeta.value).where(InstanceMeta.key == "demo")) == "1"
