"""RFC 9457 problem+json for every error the API returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from pingan.api_common import body_limit, request_lang, size_words
from pingan.errors import PinganError
from pingan.i18n import t

log = logging.getLogger("pingan.api")
MEDIA = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def problem(
    request: Request,
    status: int,
    key: str,
    detail: str,
    *,
    field: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{key.replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if field:
        body["field"] = field
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA, headers=headers)


def _loc(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts)


def _out_of_range(exc: BaseException) -> bool:
    """A number too large for the database (SQLite's OverflowError, PostgreSQL's 22003), found
    anywhere in the exception's causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OverflowError) or getattr(seen, "sqlstate", None) == "22003":
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


def install(app: FastAPI) -> None:
    @app.exception_handler(PinganError)
    async def _domain(request: Request, exc: PinganError) -> JSONResponse:
        lang = request_lang(request)
        params = dict(exc.params)
        params.setdefault("fields", exc.field or "")
        return problem(
            request,
            exc.status,
            exc.key,
            t(exc.key, lang, **params),
            field=exc.field,
            errors=exc.errors,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = request_lang(request)
        errors = []
        for err in exc.errors():
            message = str(err.get("msg", ""))
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, ValueError):
                message = str(ctx_error)
            errors.append(
                {
                    "field": _loc(tuple(err.get("loc", ()))),
                    "message": message,
                    "type": err.get("type"),
                }
            )
        fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
        return problem(
            request,
            422,
            "validation",
            t("validation", lang, fields=fields),
            field=errors[0]["field"] if errors else None,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        key = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}.get(
            exc.status_code, "http_error"
        )
        detail = str(exc.detail)
        if exc.status_code == 413:  # a body over its route's limit (pingan.limits)
            detail = t(
                "too_large", request_lang(request), what="", limit=size_words(body_limit(request))
            )
        elif exc.status_code == 404:
            detail = t(
                "not_found",
                request_lang(request),
                what=request.url.path,
            )
        return problem(request, exc.status_code, key, detail, headers=getattr(exc, "headers", None))

    async def _numbers(request: Request, exc: Exception) -> JSONResponse:
        if _out_of_range(exc):  # an id, limit or offset past 64 bits: the caller's mistake
            return problem(request, 422, "out_of_range", t("out_of_range", request_lang(request)))
        return await _unexpected(request, exc)

    app.add_exception_handler(OverflowError, _numbers)
    app.add_exception_handler(DataError, _numbers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        lang = request_lang(request)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(request, 500, "internal", t("internal", lang))
