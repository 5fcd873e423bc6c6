"""Pages: login, the start page and the API documentation; the console's pages are in console.py.

Front-end packages (htmx, ECharts, Leaflet, Swagger UI) come from npm at set-up and are served
from /static/vendor; no page loads anything from another host.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pingan import __version__
from pingan.api_common import (
    LANG_COOKIE,
    SESSION_COOKIE,
    client_ip,
    set_session_cookie,
    signed_in_principal,
)
from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db import meta
from pingan.db.engine import unit_of_work
from pingan.errors import PinganError
from pingan.i18n import N_, gettext, t
from pingan.security import same_origin
from pingan.territory import service as territory_service
from pingan.web import (
    admin,
    basemap,
    console,
    device_pages,
    face_pages,
    facility_pages,
    incident_pages,
    patrol,
    phone,
    target_pages,
    volunteer_pages,
)
from pingan.web.text import LABELS, home_of, lang_of, menu

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

# npm package → the folder of it that pages use, served at /static/vendor/<name>/
VENDOR = {
    "swagger": "swagger-ui-dist",
    "htmx": "htmx.org/dist",
    "echarts": "echarts/dist",
    "leaflet": "leaflet/dist",
    "jsqr": "jsqr/dist",
}


def vendor_dir(configured: Path | None) -> Path | None:
    """Front-end packages installed from npm at set-up (none are committed)."""
    for candidate in (configured, Path.cwd() / "node_modules", HERE.parents[2] / "node_modules"):
        if candidate is not None and candidate.is_dir():
            return candidate
    return None


PASSWORD_PAGE = "/account/password"


class LogInFirst(Exception):
    """A page asked for without a session (the log-in page), or with a generated password not
    yet changed (the password page); then back to `target`."""

    def __init__(self, target: str, page: str = "/login") -> None:
        super().__init__(target)
        self.target, self.page = target, page


class PageMissing(Exception):
    """A page (or a record on it) that is not the viewer's: a 404, as the API's scope answers."""

    def __init__(self, principal: Principal, what: str) -> None:
        super().__init__(what)
        self.principal, self.what = principal, what


class Pages:
    """Rendering and sign-in checks shared by every page."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.static_dir = HERE / "static"

    def demo(self) -> bool:
        try:
            return meta.engine_is_demo(self.app.state.engine) or self.app.state.settings.demo
        except (OperationalError, ProgrammingError):  # not initialised yet: /healthz says so
            return bool(self.app.state.settings.demo)

    def render(
        self,
        request: Request,
        name: str,
        *,
        principal: Principal | None = None,
        status: int = 200,
        **extra: Any,
    ) -> HTMLResponse:
        lang = lang_of(request)

        def translate(text: str, **params: Any) -> str:
            word = gettext(text, lang)
            return word.format(**params) if params else word

        def since(seconds: int | None) -> str:
            """How long ago, in the largest two units: 3 天 4 小时, 12 分钟."""
            if seconds is None:
                return translate(N_("从未上线"))
            days, rest = divmod(max(seconds, 0), 86400)
            hours, rest = divmod(rest, 3600)
            if days:
                return translate(N_("{d} 天 {h} 小时"), d=days, h=hours)
            if hours:
                return translate(N_("{h} 小时 {m} 分钟"), h=hours, m=rest // 60)
            if rest >= 60:
                return translate(N_("{m} 分钟"), m=rest // 60)
            return translate(N_("{s} 秒"), s=rest)

        def duration(minutes: int) -> str:
            """A length of time in hours and minutes: 1 小时 5 分钟, 12 分钟."""
            hours, rest = divmod(max(minutes, 0), 60)
            if hours:
                return translate(N_("{h} 小时 {m} 分钟"), h=hours, m=rest)
            return translate(N_("{m} 分钟"), m=rest)

        settings = self.app.state.settings
        demo = self.demo()
        streets = basemap.streets_source(settings, demo=demo) is not None
        context = {
            "basemap": {
                "layers": basemap.layers(settings),
                "crs": settings.map_tile_crs,
                "streets": basemap.STREETS if streets else None,
            },
            "lang": lang,
            "_": translate,
            "since": since,
            "duration": duration,
            "demo": demo,
            "version": __version__,
            "principal": principal,
            "user": principal.name if principal else None,
            "menu": menu(principal) if principal else [],
            "labels": LABELS,
            "here": request.url.path,
            **extra,
        }
        response = templates.TemplateResponse(request, name, context, status_code=status)
        if request.cookies.get(LANG_COOKIE) != lang:
            # Remembered, and the pages' own API calls then answer in the same language.
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return response

    def signed_in(self, request: Request) -> Principal | None:
        if not request.cookies.get(SESSION_COOKIE):
            return None
        try:
            return signed_in_principal(request)
        except PinganError:
            return None

    def session(self, principal: Principal, request: Request) -> Any:
        """A unit of work in the viewer's name (the audit log's who and where from)."""
        return unit_of_work(
            self.app.state.sessionmaker, actor=principal.actor, ip=client_ip(request)
        )

    def viewer(self, perm: Perm | tuple[Perm, ...] | None = None) -> Callable[[Request], Principal]:
        """The one way a page requires its user: a dependency giving the signed-in principal
        who holds `perm` (or one of several) somewhere (any signed-in user when None). Without a session the answer
        is the log-in page, coming back here after; a page the role has no part of is a 404."""

        def signed_in_viewer(request: Request) -> Principal:
            principal = self.signed_in(request)
            if principal is None:
                raise LogInFirst(
                    request.url.path + (f"?{request.url.query}" if request.url.query else "")
                )
            if principal.must_change_password and request.url.path != PASSWORD_PAGE:
                raise LogInFirst(request.url.path, page=PASSWORD_PAGE)
            wanted = perm if isinstance(perm, tuple) else (perm,) if perm else ()
            if wanted and not principal.holds(*wanted):
                raise PageMissing(principal, request.url.path)
            return principal

        signed_in_viewer.perm = perm  # type: ignore[attr-defined]  # read by the page tests
        return signed_in_viewer

    def within(self, session: Session, principal: Principal, community: int | None) -> str | None:
        """The path a page's list is narrowed to by its community filter (none: not narrowed,
        nor for a community the viewer does not see)."""
        if not community:
            return None
        try:
            return territory_service.path_within(session, actor=principal, node_id=community)
        except PinganError:
            return None

    def not_found(self, request: Request, principal: Principal, what: str) -> HTMLResponse:
        return self.render(request, "missing.html", principal=principal, status=404, what=what)


def install(app: FastAPI) -> None:
    vendor = vendor_dir(app.state.settings.vendor_dir)
    for name, folder in VENDOR.items():
        if vendor is not None and (vendor / folder).is_dir():
            app.mount(f"/static/vendor/{name}", StaticFiles(directory=vendor / folder), name=name)
    # After the vendor mounts: /static would otherwise answer for /static/vendor/… too.
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    pages = Pages(app)
    basemap.install(app, app.state.settings, demo=pages.demo)

    @app.exception_handler(LogInFirst)
    def log_in_first(request: Request, exc: LogInFirst) -> Response:
        return RedirectResponse(f"{exc.page}?next={quote(exc.target)}", status_code=303)

    @app.exception_handler(PageMissing)
    def page_missing(request: Request, exc: PageMissing) -> Response:
        return pages.not_found(request, exc.principal, exc.what)

    swagger = vendor / VENDOR["swagger"] if vendor else None

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        if swagger is None or not swagger.is_dir():
            return HTMLResponse(
                "<p>API 文档页面需要前端资源：请运行 <code>make run</code> 或 <code>npm ci</code>。"
                f'OpenAPI 描述见 <a href="{app.openapi_url}">{app.openapi_url}</a>。</p>',
                status_code=503,
            )
        # Swagger UI started by a file of ours, not an inline script (the pages' CSP).
        return pages.render(request, "docs.html", title=f"{app.title} — API", url=app.openapi_url)

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return FileResponse(pages.static_dir / "phone-icon.svg", media_type="image/svg+xml")

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request, next: str = "") -> HTMLResponse:
        return pages.render(request, "login.html", next=next)

    @app.post("/login", include_in_schema=False)
    async def login_submit(request: Request) -> Response:
        if not same_origin(request):
            return pages.render(
                request, "login.html", status=403, error=t("csrf", lang_of(request))
            )
        form = await request.form()
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        target = str(form.get("next") or "")
        if not target.startswith("/") or target.startswith("//"):
            target = ""  # never a redirect to another site
        lang = lang_of(request)
        try:
            done = await run_in_threadpool(
                auth_service.login,
                app.state.sessionmaker,
                username=username,
                password=password,
                ip=client_ip(request),
            )
        except PinganError as exc:
            return pages.render(
                request,
                "login.html",
                status=exc.status,
                error=t(exc.key, lang, **exc.params),
                username=username,
                next=target,
            )
        raw, principal = done.raw, done.principal
        home = target or home_of(principal)
        if principal.must_change_password:
            home = f"{PASSWORD_PAGE}?next={quote(home)}"
        response = RedirectResponse(home, status_code=303)
        set_session_cookie(response, request, raw)
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        if not same_origin(request):
            return pages.render(
                request, "login.html", status=403, error=t("csrf", lang_of(request))
            )
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

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        return pages.render(request, "home.html", principal=pages.signed_in(request))

    device_pages.install(app, pages)  # before the console's /devices/{…} pages
    console.install(app, pages)
    admin.install(app, pages)
    face_pages.install(app, pages)
    patrol.install(app, pages)
    phone.install(app, pages)
    incident_pages.install(app, pages)
    facility_pages.install(app, pages)
    facility_pages.install_renovation(app, pages)
    target_pages.install(app, pages)
    volunteer_pages.install(app, pages)
