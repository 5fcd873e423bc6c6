"""Web hardening: the headers every answer carries, the Origin check of the log-in forms, and
who may read /metrics and the detailed /healthz."""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pingan.config import Settings

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def content_security_policy(settings: Settings) -> str:
    """No inline script anywhere: every page's scripts are files of /static (JSON data blocks
    are not run). Styles may be inline (Leaflet and ECharts set them)."""
    from pingan.web.basemap import image_sources

    images = ["'self'", "data:", "blob:", *image_sources(settings)]  # and a base map's server
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "font-src 'self' data:",
            "media-src 'self' blob:",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class SecurityHeaders:
    """Adds the security headers to every HTTP answer (pages and API alike)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(settings).encode()),
            (b"x-frame-options", b"DENY"),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(self), geolocation=(self), microphone=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _v in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((k, v) for k, v in self.headers if k not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def same_origin(request: Request) -> bool:
    """A form posted from this site: its Origin (or, without one, Sec-Fetch-Site) says so."""
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == f"{request.url.scheme}://{request.url.netloc}"
    return request.headers.get("sec-fetch-site") not in ("cross-site", "same-site")


def may_read_internals(request: Request) -> bool:
    """/metrics and the detailed /healthz: with PINGAN_METRICS_TOKEN as a bearer token, or,
    without one set, from this machine only."""
    token: str | None = request.app.state.settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        return given.lower().startswith("bearer ") and hmac.compare_digest(
            given[7:].strip().encode(), token.encode()
        )
    return (request.client.host if request.client else "") in LOOPBACK
