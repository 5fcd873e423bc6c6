"""What every API route shares: the database session, who is asking, paging, query checks."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, FastAPI, Query, Request, Response, UploadFile
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.engine import unit_of_work
from pingan.errors import Forbidden, Invalid, PinganError, TooLarge, Unauthenticated
from pingan.i18n import DEFAULT_LANG, LANGS, pick_lang
from pingan.photos import DOCUMENT_MAX, MAX_BYTES, Document, Photo, PhotoError, document, intake
from pingan.territory.geo import CRS

SESSION_COOKIE = "pingan_session"
LANG_COOKIE = "pingan_lang"
T = TypeVar("T")


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: commit when the route returns, roll back when it raises."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with unit_of_work(factory, ip=client_ip(request), actor="anonymous") as session:
        yield session


DB = Annotated[Session, Depends(get_db)]


async def in_transaction(
    request: Request, work: Callable[[Session], T], *, actor: Principal | None = None
) -> T:
    """The database work of a route that awaits (uploads, face analysis): in a worker thread and
    a transaction of its own, committed before the route awaits anything else. Such a route takes
    no `DB` session, which would stay open across its awaits."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    info: dict[str, object] = {
        "ip": client_ip(request),
        "actor": actor.actor if actor else "anonymous",
    }
    if actor is not None and actor.user_id is not None:
        info["actor_user_id"] = actor.user_id

    def run() -> T:
        with unit_of_work(factory, **info) as session:
            return work(session)

    return await run_in_threadpool(run)


DEFAULT_BODY = 1024 * 1024  # any request body, unless its route declares another limit
BODY_LIMIT = "x-max-body-size"  # a route's own limit: openapi_extra={BODY_LIMIT: bytes}


PERMISSION = "x-permission"  # what a route needs, declared on it: openapi_extra=needs(...)
PUBLIC = "public"  # anyone, without logging in: the log-in itself, published schemas
SIGNED_IN = "signed-in"  # any account, about itself: its tokens, its own face data, log-out
DEVICE = "device"  # a device's own token (ingest, door readers), not a person's log-in
INTERNAL = "internal"  # PINGAN_METRICS_TOKEN or a caller on this machine (/metrics)
ACCESS_KINDS = (PUBLIC, SIGNED_IN, DEVICE, INTERNAL)


def needs(*perms: Perm | str, body: int | None = None) -> dict[str, Any]:
    """A route's declaration: the permission it needs (any one of those named; the scope of
    each record is checked by the service), or PUBLIC, SIGNED_IN, DEVICE or INTERNAL; its body limit
    when it differs from DEFAULT_BODY. Shown in the OpenAPI as `x-permission`."""
    if not perms or any(p not in ACCESS_KINDS and p not in set(Perm) for p in perms):
        raise ValueError(f"a route needs permissions or one of {ACCESS_KINDS}: {perms}")
    extra: dict[str, Any] = {PERMISSION: [str(p) for p in perms]}
    if body is not None:
        extra[BODY_LIMIT] = body
    return extra


def declared(route: Any) -> list[str] | None:
    """What a route declared with needs(...), or None."""
    extra = getattr(route, "openapi_extra", None) or {}
    value = extra.get(PERMISSION)
    return list(value) if value else None


def _allowed(request: Request, principal: Principal) -> Principal:
    """The route's declared permission, held in some scope (403 otherwise, before any record is
    looked at); a route that declared nothing lets nobody in."""
    wanted = declared(request.scope.get("route"))
    if wanted is None:
        raise Forbidden(action="undeclared")
    if SIGNED_IN in wanted or principal.system:
        return principal
    if principal.must_change_password:  # a generated password opens nothing but its own change
        raise Forbidden("password_change_required")
    if not any(principal.paths(Perm(p)) for p in wanted if p not in ACCESS_KINDS):
        raise Forbidden(action=" | ".join(wanted))
    return principal


def size_words(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"


def body_limit(request: Request) -> int:
    """The body limit in force for this request."""
    return int(request.scope.get(BODY_LIMIT, DEFAULT_BODY))


async def read_body(request: Request, what: str = "") -> bytes:
    """The request body; TooLarge (413) past the route's limit (see pingan.limits)."""
    try:
        return await request.body()
    except HTTPException as exc:
        if exc.status_code == 413:
            raise TooLarge(what=what, limit=size_words(body_limit(request))) from None
        raise


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def request_lang(request: Request, *, header: bool = True) -> str:
    """The language chosen on the pages (?lang=, then its cookie), else Accept-Language's."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return asked
    return pick_lang(request.headers.get("accept-language")) if header else DEFAULT_LANG


def bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, if there is one."""
    header = request.headers.get("authorization", "")
    return header[7:].strip() or None if header.lower().startswith("bearer ") else None


def _bearer(request: Request) -> tuple[str | None, bool]:
    """The caller's token and whether it came from the login cookie."""
    token = bearer(request)
    if token:
        return token, False
    cookie = request.cookies.get(SESSION_COOKIE)
    return cookie, cookie is not None


def set_session_cookie(response: Response, request: Request, raw: str) -> None:
    """A page login: HttpOnly, same-site only, for one shift."""
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=request.app.state.settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


_SAFE = {"GET", "HEAD", "OPTIONS"}


def _check_same_origin(request: Request) -> None:
    """A cookie is sent by the browser on its own: refuse writes that come from another site."""
    from pingan.security import same_origin

    if not same_origin(request):
        raise PinganError("csrf", field="Origin")


def _authenticate(request: Request, session: Session) -> Principal:
    raw, from_cookie = _bearer(request)
    if not raw:
        raise Unauthenticated(headers={"WWW-Authenticate": "Bearer"})
    if from_cookie and request.method not in _SAFE:
        _check_same_origin(request)
    try:
        user, _token = auth_service.authenticate_token(session, raw=raw)
    except Unauthenticated as exc:
        exc.headers = {"WWW-Authenticate": "Bearer"}
        raise
    principal = auth_service.principal_for(session, user=user)
    session.info["actor"] = principal.actor
    session.info["actor_user_id"] = user.id
    request.state.principal = principal
    return principal


def get_principal(request: Request, session: DB) -> Principal:
    return _allowed(request, _authenticate(request, session))


def signed_in_principal(request: Request) -> Principal:
    """Who is asking, found in a transaction of its own that has ended when this returns (the
    pages check their own permission)."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with unit_of_work(factory, ip=client_ip(request), actor="anonymous") as session:
        return _authenticate(request, session)


def get_principal_detached(request: Request) -> Principal:
    """For long responses (live streams) and routes that await: who is asking, found in a
    transaction of its own that has ended when the route starts."""
    return _allowed(request, signed_in_principal(request))


Actor = Annotated[Principal, Depends(get_principal)]
DetachedActor = Annotated[Principal, Depends(get_principal_detached)]


class PageParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=500, description="Rows per page")] = 50,
        offset: Annotated[int, Query(ge=0, description="Rows to skip")] = 0,
    ) -> None:
        self.limit = limit
        self.offset = offset


Paging = Annotated[PageParams, Depends()]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


def page_of(items: list[T], total: int, paging: PageParams) -> Page[T]:
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query(request: Request) -> None:
    """List endpoints refuse query parameters they do not know, rather than ignore them.
    (A coroutine: a few set operations, not worth a trip to a worker thread.)"""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        raise Invalid(
            "unknown_query",
            field=unknown[0],
            names=", ".join(unknown),
            allowed=", ".join(sorted(allowed)) or "（无）",
        )


StrictQuery = Depends(reject_unknown_query)


def api_routes(app: FastAPI) -> Iterator[Any]:
    """Every route the application serves, routers included (each with .path, .methods,
    .endpoint and .dependant as it is served, the router's own dependencies in it)."""

    def walk(routes: Any) -> Iterator[Any]:
        for route in routes:
            if hasattr(route, "effective_candidates"):
                yield from walk(route.effective_candidates())
            elif getattr(route, "dependant", None) is not None:
                yield route

    yield from walk(app.router.routes)


# The `crs` of a map layer's answer: the system of the base map it is drawn on.
MapCRS = Annotated[CRS, Query(description="Coordinates of the answer (the base map's system)")]


async def read_photos(uploads: list[UploadFile] | None, most: int) -> list[Photo]:
    """Uploaded photos re-encoded (off the event loop); one that is no photo is refused by name."""
    uploads = uploads or []
    if len(uploads) > most:
        raise Invalid("photo_count", field="photos", most=most)
    kept: list[Photo] = []
    for upload in uploads:
        data = await upload.read(MAX_BYTES + 1)
        name = upload.filename or "photo"
        try:
            kept.append(await run_in_threadpool(intake, data))
        except PhotoError as exc:
            raise Invalid("bad_photo", field="photos", photo=name, reason=str(exc)) from exc
    return kept


async def read_document(upload: UploadFile, *, problem: str, field: str) -> Document:
    """An uploaded paper (a PDF, or a photo of it) as kept, read off the event loop; anything
    else is refused with the `problem` naming the field."""
    data = await upload.read(DOCUMENT_MAX + 1)
    try:
        return await run_in_threadpool(document, data)
    except ValueError as exc:
        raise Invalid(problem, field=field, reason=str(exc)) from exc


def document_response(data: bytes, content_type: str, name: str) -> Response:
    """A stored paper (PDF or JPEG) for the one who may see it, opened in the browser as
    `name.pdf` or `name.jpg`; not cached by anything shared."""
    ending = "pdf" if content_type == "application/pdf" else "jpg"
    return Response(
        data,
        media_type=content_type,
        headers={
            "Cache-Control": "private",
            "Content-Disposition": f'inline; filename="{name}.{ending}"',
        },
    )


def form_json(model: type[Any], raw: str, field: str) -> Any:
    """A JSON form field (beside uploaded files) as its model; a mistake is the API's usual 422
    (problems.py renders it), each error's place within the field."""
    try:
        return model.model_validate(json.loads(raw))
    except json.JSONDecodeError as exc:
        where = ("body", field)
        raise RequestValidationError(
            [{"loc": where, "msg": f"not JSON: {exc.msg}", "type": "json_invalid"}]
        ) from exc
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", field, *e["loc"])} for e in exc.errors()]
        ) from exc


def jpeg_response(data: bytes) -> Response:
    """A stored photo (re-encoded JPEG, pingan.photos) for the one who may see it: not cached
    by anything shared."""
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})
