"""Pages: the start page and the API documentation, served with local assets only."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError, ProgrammingError

from pingan import __version__
from pingan.db import meta

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

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> HTMLResponse:
        try:
            demo = meta.engine_is_demo(app.state.engine) or app.state.settings.demo
        except (OperationalError, ProgrammingError):  # not initialised yet: /healthz says so
            demo = app.state.settings.demo
        return templates.TemplateResponse(
            request, "home.html", {"demo": demo, "version": __version__}
        )
