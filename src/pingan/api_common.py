"""What every API route shares: the database session, who is asking, paging, query checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.orm import Session, sessionmaker

from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.db.engine import unit_of_work
from pingan.errors import Invalid, PinganError, Unauthenticated
from pingan.i18n import DEFAULT_LANG, LANGS, pick_lang

SESSION_COOKIE = "pingan_session"
LANG_COOKIE = "pingan_lang"
T = TypeVar("T")


def get_db(request: Request) -> Iterator[Session]:
    """One transaction per request: commit when the route returns, roll back when it raises."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with unit_of_work(factory, ip=client_ip(request), actor="anonymous") as session:
        yield session


DB = Annotated[Session, Depends(get_db)]


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
    origin = request.headers.get("origin")
    if origin is not None:
        expected = f"{request.url.scheme}://{request.url.netloc}"
        if origin != expected:
            raise PinganError("csrf", field="Origin")
    elif request.headers.get("sec-fetch-site") == "cross-site":
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
    return _authenticate(request, session)


def get_principal_detached(request: Request) -> Principal:
    """For long responses (live streams): who is asking, without holding a transaction open."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with unit_of_work(factory, ip=client_ip(request), actor="anonymous") as session:
        return _authenticate(request, session)


Actor = Annotated[Principal, Depends(get_principal)]
StreamActor = Annotated[Principal, Depends(get_principal_detached)]


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


def reject_unknown_query(request: Request) -> None:
    """List endpoints refuse query parameters they do not know, rather than ignore them."""
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
