"""/metrics (Prometheus) and /healthz."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import Engine, text
from starlette.routing import Match

from pingan import __version__
from pingan.api_common import INTERNAL, PUBLIC, needs
from pingan.db import meta, migrate
from pingan.db.engine import READONLY
from pingan.security import may_read_internals

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


@router.get("/metrics", include_in_schema=False, openapi_extra=needs(INTERNAL))
def metrics(request: Request) -> Response:
    """Prometheus metrics: with PINGAN_METRICS_TOKEN, or from this machine."""
    if not may_read_internals(request):
        return Response(
            "metrics: give PINGAN_METRICS_TOKEN as a bearer token\n",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
            media_type="text/plain",
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


_HEALTH_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pingan-health")
HEALTH_DB_TIMEOUT_S = 1.0


def _database_state(engine: Engine) -> tuple[bool, str, bool]:
    """Reachable, at the code's schema, a demo: on one connection (a busy pool is met once)."""
    try:
        with engine.connect().execution_options(**{READONLY: True}) as conn:
            conn.execute(text("SELECT 1"))
            current, head = migrate.revision_on(conn), migrate.head_revision()
            if current != head:
                return False, f"schema at {current}, code at {head}: run `pingan init`", False
            return True, "ok", meta.demo_on(conn)
    except Exception as exc:  # reported on /healthz, never swallowed silently
        return False, f"{type(exc).__name__}: {exc}", False


@router.get("/healthz", tags=["system"], openapi_extra=needs(PUBLIC))
async def healthz(request: Request) -> JSONResponse:
    """Database status; 503 when the database cannot be reached. The database is asked on a
    thread of its own, never the request threads, so a busy platform still answers at once.
    The workers' detail only with PINGAN_METRICS_TOKEN, or from this machine; anyone else is
    told whether it is up."""
    engine = request.app.state.engine
    loop = asyncio.get_running_loop()
    try:
        ok, detail, demo = await asyncio.wait_for(
            loop.run_in_executor(_HEALTH_POOL, _database_state, engine), HEALTH_DB_TIMEOUT_S
        )
    except TimeoutError:
        ok, detail, demo = False, f"no answer within {HEALTH_DB_TIMEOUT_S:.0f} s", False
    if not may_read_internals(request):
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "version": __version__},
            status_code=200 if ok else 503,
        )
    workers = getattr(request.app.state, "workers", None)
    body = {
        "status": "ok" if ok else "unavailable",
        "version": __version__,
        "demo": demo or request.app.state.settings.demo,
        "database": {"ok": ok, "backend": engine.dialect.name, "detail": detail},
        "workers": workers.health() if workers is not None else {"running": False},
    }
    return JSONResponse(body, status_code=200 if ok else 503)
