"""Pages: the start page and the API documentation, served with local assets only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError, ProgrammingError

from pingan import __version__
from pingan.alarms import service as alarm_service
from pingan.alarms.flows import ACTION_LABEL, MOVES, Action
from pingan.alarms.models import STATE_LABEL, AlarmState
from pingan.alarms.notify.feed import change_alarm
from pingan.api_common import (
    SESSION_COOKIE,
    client_ip,
    get_principal_detached,
    set_session_cookie,
)
from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db import meta
from pingan.db.engine import unit_of_work
from pingan.errors import PinganError
from pingan.i18n import t
from pingan.web.text import LANG_COOKIE, lang_of, words

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


def vendor_dir(configured: Path | None) -> Path | None:
    """Front-end packages installed from npm at set-up (none are committed)."""
    for candidate in (configured, Path.cwd() / "node_modules", HERE.parents[2] / "node_modules"):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


def install(app: FastAPI) -> None:
    vendor = vendor_dir(app.state.settings.vendor_dir)
    swagger = vendor / "swagger-ui-dist" if vendor else None
    if swagger is not None and swagger.is_dir():
        app.mount("/static/swagger", StaticFiles(directory=swagger), name="swagger")
    # After the vendor mounts: /static would otherwise answer for /static/swagger/… too.
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        if swagger is None or not swagger.is_dir():
            return HTMLResponse(
                "<p>API 文档页面需要前端资源：请运行 <code>make run</code> 或 <code>npm ci</code>。"
                f'OpenAPI 描述见 <a href="{app.openapi_url}">{app.openapi_url}</a>。</p>',
                status_code=503,
            )
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title} — API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    def context(request: Request, **extra: Any) -> dict[str, Any]:
        lang = lang_of(request)
        try:
            demo = meta.engine_is_demo(app.state.engine) or app.state.settings.demo
        except (OperationalError, ProgrammingError):
            demo = app.state.settings.demo
        return {"lang": lang, "t": words(lang), "demo": demo, "version": __version__, **extra}

    def render(request: Request, name: str, status: int = 200, **extra: Any) -> HTMLResponse:
        response = templates.TemplateResponse(
            request, name, context(request, **extra), status_code=status
        )
        if "lang" in request.query_params:
            response.set_cookie(LANG_COOKIE, lang_of(request), max_age=365 * 86400, samesite="lax")
        return response

    def signed_in(request: Request) -> tuple[Principal, str] | None:
        if not request.cookies.get(SESSION_COOKIE):
            return None
        try:
            principal = get_principal_detached(request)
        except PinganError:
            return None
        return principal, principal.name

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "/desk") -> HTMLResponse:
        return render(request, "login.html", next=next)

    @app.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = str(form.get("next") or "/desk")
        if not target.startswith("/") or target.startswith("//"):
            target = "/desk"  # never a redirect to another site
        lang = lang_of(request)
        with unit_of_work(
            app.state.sessionmaker, ip=client_ip(request), actor="anonymous"
        ) as session:
            try:
                raw, _token, _user = auth_service.login(
                    session, username=username, password=password, ip=client_ip(request)
                )
            except PinganError as exc:
                session.commit()  # the failed attempt counts
                params = dict(exc.params)
                return render(
                    request,
                    "login.html",
                    status=exc.status,
                    error=t(exc.key, lang, **params),
                    username=username,
                    next=target,
                )
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, request, raw)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        raw = request.cookies.get(SESSION_COOKIE)
        if raw:
            with unit_of_work(
                app.state.sessionmaker, ip=client_ip(request), actor="anonymous"
            ) as session:
                try:
                    _user, token = auth_service.authenticate_token(session, raw=raw)
                    auth_service.revoke(session, token=token)
                except PinganError:
                    pass  # already gone
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/desk", include_in_schema=False)
    def desk(request: Request) -> Response:
        who = signed_in(request)
        if who is None:
            return RedirectResponse("/login?next=/desk", status_code=303)
        principal, name = who
        lang = lang_of(request)
        with unit_of_work(app.state.sessionmaker, actor=principal.actor) as session:
            rows, _total = alarm_service.get_all(session, actor=principal, desk=True, limit=500)
            initial = [change_alarm(a) for a in rows]
        levels = [alarm_service.desk_level(p) for p in principal.paths(Perm.alarms_read)]
        labels = {
            "states": {
                s.value: (STATE_LABEL[s] if lang == "zh" else s.value.replace("_", " "))
                for s in AlarmState
            },
            "actions": {
                a.value: (ACTION_LABEL[a] if lang == "zh" else a.value.replace("_", " "))
                for a in Action
            },
            "moves": {s.value: [a.value for a in MOVES[s]] for s in AlarmState},
            "restored": "已恢复" if lang == "zh" else "restored",
            "desk_level": min(levels) if levels else 0,
        }
        return render(
            request, "desk.html", user=name, alarms=initial, initial=initial, labels=labels
        )

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        try:
            demo = meta.engine_is_demo(app.state.engine) or app.state.settings.demo
        except (OperationalError, ProgrammingError):  # not initialised yet: /healthz says so
            demo = app.state.settings.demo
        return templates.TemplateResponse(
            request, "home.html", {"demo": demo, "version": __version__}
        )
