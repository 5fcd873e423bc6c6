"""Request bodies bounded before they are read, per route."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pingan.api_common import BODY_LIMIT, DEFAULT_BODY


class BodyLimits:
    """Every request body within its route's limit, before it is read: a body that says it is
    larger is refused (413) at the first attempt to read it, without reading any; one sent
    without a length as soon as it passes the limit. Limits come from the routes'
    `needs(..., body=...)`, else DEFAULT_BODY; problem+json says the limit."""

    def __init__(self, app: ASGIApp, openapi: Callable[[], dict[str, Any]]) -> None:
        self.app = app
        self._openapi = openapi
        self._limits: list[tuple[str, re.Pattern[str], int]] | None = None

    def _table(self) -> list[tuple[str, re.Pattern[str], int]]:
        if self._limits is None:
            self._limits = [
                (method.upper(), compile_path(path)[0], int(operation[BODY_LIMIT]))
                for path, operations in self._openapi().get("paths", {}).items()
                for method, operation in operations.items()
                if isinstance(operation, dict) and BODY_LIMIT in operation
            ]
        return self._limits

    def limit_for(self, method: str, path: str) -> int:
        for wanted, pattern, limit in self._table():
            if wanted == method and pattern.match(path):
                return limit
        return DEFAULT_BODY

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        scope[BODY_LIMIT] = limit
        declared = Headers(scope=scope).get("content-length")
        over = declared is not None and declared.isdigit() and int(declared) > limit
        got = 0

        async def bounded() -> Message:
            # Raised where the body is first read: a device route has checked the token by then.
            nonlocal got
            if over:
                raise BodyTooLarge()
            message = await receive()
            if message["type"] == "http.request":
                got += len(message.get("body", b""))
                if got > limit:
                    raise BodyTooLarge()
            return message

        await self.app(scope, bounded, send)


class BodyTooLarge(HTTPException):
    """An HTTP error, so that the framework's body parsing passes it on as it is."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="too_large")


class Window:
    """At most `most` hits per key in a sliding window of `window_s` seconds: a key past it waits.
    Kept in memory per process, bounded in the keys it remembers."""

    KEYS = 10_000

    def __init__(self, most: int, window_s: float) -> None:
        self.failures, self.window_s = most, window_s
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def wait_s(self, key: str) -> int | None:
        """Seconds this key must wait, or None when it may go on."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(key, now)
            if len(times) < self.failures:
                if not times:
                    self._seen.pop(key, None)
                return None
            return int(times[0] + self.window_s - now) + 1

    def hit(self, key: str) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())
            if len(self._seen) > self.KEYS:  # a flood of spoofed keys cannot grow this forever
                self._seen.pop(next(iter(self._seen)))
