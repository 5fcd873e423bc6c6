"""The health of a long-lived part of the platform (a worker pool, a listener, a loop): its state,
its last success and last error, how often it was restarted. Each part keeps one and says what
happens to it; /healthz and /metrics read them all, and a part down too long raises an alarm."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pingan.db.base import utcnow

STARTING, RUNNING, RESTARTING, DOWN, STOPPED = (
    "starting",
    "running",
    "restarting",
    "down",
    "stopped",
)


@dataclass
class Component:
    name: str
    state: str = STARTING
    last_success: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    restarts: int = 0
    runs: int = 0  # successes counted (a periodic job's rounds)
    down_since: datetime | None = None  # since when it has not been running
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.down_since = utcnow()  # not running until it says so

    def succeeded(self) -> None:
        with self._lock:
            self.state = RUNNING
            self.last_success = utcnow()
            self.down_since = None
            self.runs += 1

    def failed(self, error: BaseException | str, *, state: str = RESTARTING) -> None:
        with self._lock:
            self.state = state
            self.last_error = (
                error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            )[:500]
            self.last_error_at = utcnow()
            if self.down_since is None:
                self.down_since = self.last_error_at

    def restarted(self) -> None:
        with self._lock:
            self.restarts += 1

    def stopped(self) -> None:
        with self._lock:
            self.state = STOPPED

    @property
    def up(self) -> bool:
        return self.state == RUNNING

    def down_for_s(self, now: datetime | None = None) -> float:
        if self.down_since is None or self.state == STOPPED:
            return 0.0
        return ((now or utcnow()) - self.down_since).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "restarts": self.restarts,
            "runs": self.runs,
            "down_since": self.down_since.isoformat() if self.down_since else None,
        }


DOWN_ALARM_S = 60.0  # a part not running this long raises "platform component down"
