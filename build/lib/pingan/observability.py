"""/metrics (Prometheus) and /healthz."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.routing import Match

from pingan import __version__
from pingan.db import meta, migrate
from pingan.db.engine import database_ok

REQUESTS = Counter("pingan_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("pingan_http_request_seconds", "HTTP request duration", ["method", "route"])

router = APIRouter()


def _route_template(request: Request) -> str:
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match == Match.FULL:
            return str(getattr(route, "path", request.url.path))
    return "unmatched"


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def _measure(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = _route_template(request)
        LATENCY.labels(request.method, route).observe(time.perf_counter() - start)
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        return response

    app.include_router(router)


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz", tags=["system"])
def healthz(request: Request) -> JSONResponse:
    """Database status; 503 when the database cannot be reached."""
    engine = request.app.state.engine
    ok, detail = database_ok(engine)
    demo = False
    if ok:
        current, head = migrate.current_revision(engine), migrate.head_revision()
        if current != head:
            ok, detail = False, f"schema at {current}, code at {head}: run `pingan init`"
        else:
            demo = meta.engine_is_demo(engine)
    workers = getattr(request.app.state, "workers", None)
    body = {
        "status": "ok" if ok else "unavailable",
        "version": __version__,
        "demo": demo or request.app.state.settings.demo,
        "database": {"ok": ok, "backend": engine.dialect.name, "detail": detail},
        "workers": workers.health() if workers is not None else {"running": False},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
