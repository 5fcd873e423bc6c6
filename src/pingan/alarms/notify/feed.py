"""Live push of alarm changes to open pages (server-sent events).

The alarm timeline is the change feed: every new alarm and every move writes an entry. A commit
that wrote one wakes this process's feed at once; a short poll also picks up what other
processes wrote. Each open page gets the changes of the alarms within its user's scope.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from pingan.alarms import flows
from pingan.alarms.models import Alarm, AlarmEntry
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.engine import READONLY

log = logging.getLogger("pingan.feed")
WAKE = threading.Event()
POLL_S = 0.25
LOOKBACK = 200  # entries re-read each poll
TOUCHED = "pingan_alarms_touched"


def touched(session: Session) -> None:
    """Say that this transaction changed alarms: its commit wakes the feed."""
    session.info[TOUCHED] = True


@event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    if session.info.pop(TOUCHED, False):
        WAKE.set()


@dataclass(eq=False)
class Subscriber:
    principal: Principal
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=1000)
    )
    # Which changes this page gets (path, change); by default those of alarms in its scope.
    wants: Callable[[str, dict[str, Any]], bool] | None = None

    def takes(self, path: str, item: dict[str, Any]) -> bool:
        if self.wants is not None:
            return self.wants(path, item)
        return self.principal.can(Perm.alarms_read, path)


def change_alarm(alarm: Alarm) -> dict[str, Any]:
    """An alarm as live pages show it (the same shape the desk renders from)."""
    return {
        "id": alarm.id,
        "title": alarm.title,
        "subject": alarm.subject,
        "priority": alarm.priority,
        "category": alarm.category,
        "state": alarm.state.value if hasattr(alarm.state, "value") else alarm.state,
        "level": alarm.level,
        "count": alarm.count,
        "restored": alarm.restored,
        "node_id": alarm.node_id,
        "path": alarm.path,
        "device_id": alarm.device_id,
        "zone": alarm.zone,
        "raised_at": alarm.raised_at.isoformat(),
        "version": alarm.version,
        "acknowledged": alarm.acknowledged,
        # What may be done now (the same list as the API's): the pages' buttons follow it.
        "actions": [a.value for a in flows.allowed(alarm.state, acknowledged=alarm.acknowledged)],
    }


def change(entry: AlarmEntry, alarm: Alarm) -> dict[str, Any]:
    return {
        "entry_id": entry.id,
        "action": entry.action,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "alarm": change_alarm(alarm),
    }


class Feed:
    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory
        self.subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cursor = 0
        self.delivered = 0
        self._sent: set[int] = set()

    def start(self) -> None:
        with self.factory() as session:
            session.connection(execution_options={READONLY: True})
            self.cursor = session.scalar(select(func.max(AlarmEntry.id))) or 0
            self._sent = set(
                session.scalars(select(AlarmEntry.id).where(AlarmEntry.id > self.cursor - LOOKBACK))
            )
        self._thread = threading.Thread(target=self._run, name="pingan-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        WAKE.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def subscribe(
        self,
        principal: Principal,
        wants: Callable[[str, dict[str, Any]], bool] | None = None,
    ) -> Subscriber:
        sub = Subscriber(principal=principal, loop=asyncio.get_running_loop(), wants=wants)
        with self._lock:
            self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self.subscribers.discard(sub)

    def _run(self) -> None:
        while not self._stop.is_set():
            WAKE.wait(POLL_S)
            WAKE.clear()
            try:
                self.poll()
            except Exception:  # the database is away: try again on the next round
                log.exception("alarm feed poll failed")

    def poll(self) -> int:
        # Timeline ids are handed out at insert but become visible at commit, which on
        # PostgreSQL need not be in id order: look back a little and skip what went out already.
        with self.factory() as session:
            session.connection(execution_options={READONLY: True})
            rows = session.execute(
                select(AlarmEntry, Alarm)
                .join(Alarm, Alarm.id == AlarmEntry.alarm_id)
                .where(AlarmEntry.id > self.cursor - LOOKBACK)
                .order_by(AlarmEntry.id)
                .limit(2000)
            ).all()
            changes = [
                (alarm.path, change(entry, alarm))
                for entry, alarm in rows
                if entry.id not in self._sent
            ]
        if not changes:
            return 0
        for _path, item in changes:
            self._sent.add(item["entry_id"])
            self.cursor = max(self.cursor, item["entry_id"])
        if len(self._sent) > 4 * LOOKBACK:
            self._sent = {i for i in self._sent if i > self.cursor - LOOKBACK}
        with self._lock:
            subs = list(self.subscribers)
        for path, item in changes:
            for sub in subs:
                if sub.takes(path, item):
                    sub.loop.call_soon_threadsafe(_offer, sub.queue, item)
                    self.delivered += 1
        return len(changes)


def _offer(queue: asyncio.Queue[dict[str, Any]], item: dict[str, Any]) -> None:
    try:
        queue.put_nowait(item)
    except asyncio.QueueFull:  # a page that does not read: it reloads the list when it reconnects
        log.warning("a live page is not keeping up; change %s dropped for it", item["entry_id"])
