"""The web application: API routers, error rendering, metrics, pages."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from pingan import __version__, logs, observability, problems
from pingan.alarms import api as alarms_api
from pingan.api_common import api_routes, declared
from pingan.assessment import api as figures_api
from pingan.auth import api as auth_api
from pingan.auth import service as auth_service
from pingan.config import Settings, get_settings
from pingan.db.base import configure_secrets
from pingan.db.engine import make_engine
from pingan.devices import api as devices_api
from pingan.events import api as events_api
from pingan.faces import api as faces_api
from pingan.faces.runtime import FaceRuntime
from pingan.facilities import api as facilities_api
from pingan.imports import api as imports_api
from pingan.incidents import api as incidents_api
from pingan.incidents import open311
from pingan.ingest import http as ingest_http
from pingan.limits import BodyLimits, Window
from pingan.patrol import api as patrol_api
from pingan.runtime import Runtime
from pingan.security import SecurityHeaders
from pingan.targets import api as targets_api
from pingan.territory import api as territory_api
from pingan.volunteers import api as volunteers_api
from pingan.web import pages
from pingan.workers import Workers

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_level)
    title = "平安社区智能化监管平台 pingan" + ("（演示 DEMO）" if settings.demo else "")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with app.state.sessionmaker() as session:
            auth_service.prune_login_attempts(session)
            session.commit()
        workers = Workers(
            settings, app.state.sessionmaker, app.state.runtime, app.state.engine, app.state.faces
        )
        app.state.workers = workers
        await workers.start()
        gc.freeze()  # what start-up made lives for good: keep it out of every collection
        try:
            yield
        finally:
            await workers.stop()
            app.state.faces.close()
            app.state.engine.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title=title,
        version=__version__,
        description="API of pingan. Errors are RFC 9457 problem+json; lists page with limit/offset.",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    configure_secrets(settings.data_key)
    engine = make_engine(settings, background_checkpoint=settings.run_workers)
    app.state.settings = settings
    app.state.engine = engine
    app.state.faces = FaceRuntime(settings)
    app.state.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.runtime = Runtime.build(settings)
    app.state.strangers = ingest_http.Strangers()
    app.state.public_reports = Window(incidents_api.PUBLIC_REPORTS_PER_HOUR, 3600)
    app.state.volunteer_sign_ups = Window(volunteers_api.SIGN_UPS_PER_HOUR, 3600)
    app.state.open311_clients = Window(open311.REQUESTS_PER_MINUTE, 60)
    problems.install(app)
    app.add_middleware(BodyLimits, openapi=app.openapi)
    app.add_middleware(SecurityHeaders, settings=settings)
    observability.install(app)
    app.include_router(auth_api.router, prefix=API_PREFIX)
    app.include_router(territory_api.router, prefix=API_PREFIX)
    app.include_router(imports_api.router, prefix=API_PREFIX)
    app.include_router(devices_api.router, prefix=API_PREFIX)
    app.include_router(events_api.router, prefix=API_PREFIX)
    app.include_router(alarms_api.router, prefix=API_PREFIX)
    app.include_router(ingest_http.router, prefix=API_PREFIX)
    app.include_router(figures_api.router, prefix=API_PREFIX)
    app.include_router(targets_api.router, prefix=API_PREFIX)
    app.include_router(volunteers_api.router, prefix=API_PREFIX)
    app.include_router(faces_api.router, prefix=API_PREFIX)
    app.include_router(patrol_api.router, prefix=API_PREFIX)
    app.include_router(patrol_api.map_router, prefix=API_PREFIX)
    app.include_router(incidents_api.router, prefix=API_PREFIX)
    app.include_router(facilities_api.router, prefix=API_PREFIX)
    app.include_router(open311.router)
    pages.install(app)
    declare_permissions(app)
    return app


def declare_permissions(app: FastAPI) -> None:
    """Every route of the API declares its permission (needs(...)); one that does not stops the
    start, naming it. The pages check theirs in pingan.web.pages (a 404 page, or the log-in).
    The declaration is also written under each route's description, for /docs."""
    missing = []
    for route in api_routes(app):
        if not (getattr(route, "include_in_schema", True) or route.path.startswith(API_PREFIX)):
            continue
        wanted = declared(route)
        if wanted is None:
            missing.append(f"{sorted(route.methods)[0]} {route.path}")
        elif "权限 Permission" not in (route.description or ""):
            line = "权限 Permission: " + " | ".join(f"`{p}`" for p in wanted)
            route.description = f"{route.description or ''}\n\n{line}".strip()
    if missing:
        raise RuntimeError(f"routes without a declared permission: {', '.join(missing)}")
