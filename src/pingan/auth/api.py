"""Login, tokens, users and role bindings, audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from pingan.api_common import (
    DB,
    PUBLIC,
    SESSION_COOKIE,
    SIGNED_IN,
    Actor,
    Page,
    Paging,
    StrictQuery,
    bearer,
    client_ip,
    needs,
    page_of,
    set_session_cookie,
)
from pingan.auth import audit, service
from pingan.auth.roles import Perm, Role
from pingan.auth.schemas import (
    AuditOut,
    BindingIn,
    BindingOut,
    LoginIn,
    LoginOut,
    PasswordChange,
    PasswordOut,
    TokenCreate,
    TokenIssued,
    TokenOut,
    UserCreate,
    UserCreated,
    UserOut,
    UserUpdate,
)
from pingan.config import get_settings
from pingan.errors import NotFound
from pingan.i18n import N_, phrase
from pingan.masking import NumberOut

router = APIRouter(dependencies=[StrictQuery])


@router.post("/auth/login", response_model=LoginOut, tags=["auth"], openapi_extra=needs(PUBLIC))
def login(data: LoginIn, request: Request, response: Response) -> LoginOut:
    """Log in with user name and password: a bearer token, also set as an HttpOnly cookie."""
    done = service.login(
        request.app.state.sessionmaker,
        username=data.username,
        password=data.password,
        ip=client_ip(request),
    )
    set_session_cookie(response, request, done.raw)
    return LoginOut(
        token=done.raw, expires_at=done.token.expires_at, user=UserOut.model_validate(done.user)
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["auth"],
    openapi_extra=needs(SIGNED_IN),
)
def logout(request: Request, response: Response, actor: Actor, session: DB) -> None:
    raw = bearer(request) or request.cookies.get(SESSION_COOKIE)
    if raw:
        _user, token = service.authenticate_token(session, raw=raw)
        service.revoke(session, token=token)
    response.delete_cookie(SESSION_COOKIE)


@router.get("/auth/me", response_model=UserOut, tags=["auth"], openapi_extra=needs(SIGNED_IN))
def me(actor: Actor, session: DB) -> UserOut:
    assert actor.user_id is not None
    user = service.get_visible_or_raise(session, actor=actor, user_id=actor.user_id)
    return UserOut.model_validate(user)


@router.get(
    "/auth/tokens", response_model=list[TokenOut], tags=["auth"], openapi_extra=needs(SIGNED_IN)
)
def my_tokens(actor: Actor, session: DB) -> list[TokenOut]:
    assert actor.user_id is not None
    return [TokenOut.model_validate(t) for t in service.tokens_of(session, user_id=actor.user_id)]


@router.post(
    "/auth/tokens",
    response_model=TokenIssued,
    status_code=201,
    tags=["auth"],
    openapi_extra=needs(SIGNED_IN),
)
def create_token(data: TokenCreate, actor: Actor, session: DB) -> TokenIssued:
    """An API token for scripts and integrations, acting as you. The token is shown once."""
    assert actor.user_id is not None
    user = service.get_visible_or_raise(session, actor=actor, user_id=actor.user_id)
    days = data.days or get_settings().token_days
    raw, token = service.issue_token(
        session, user=user, kind=service.API, name=data.name, lifetime=timedelta(days=days)
    )
    return TokenIssued(token=raw, **TokenOut.model_validate(token).model_dump())


@router.delete(
    "/auth/tokens/{token_id}", status_code=204, tags=["auth"], openapi_extra=needs(SIGNED_IN)
)
def revoke_token(token_id: int, actor: Actor, session: DB) -> None:
    assert actor.user_id is not None
    token = next(
        (t for t in service.tokens_of(session, user_id=actor.user_id) if t.id == token_id), None
    )
    if token is None:
        raise NotFound(what=phrase(N_("令牌 {n}"), n=token_id))
    service.revoke(session, token=token)


@router.post("/auth/password", status_code=204, tags=["auth"], openapi_extra=needs(SIGNED_IN))
def change_password(data: PasswordChange, actor: Actor, session: DB) -> None:
    """Choose your own password (the current one proves it is you); a generated first
    password must be changed so before anything else is allowed."""
    user = service.get_visible_or_raise(session, actor=actor, user_id=actor.user_id or 0)
    service.change_own_password(
        session, user=user, current=data.current_password, new=data.new_password
    )


@router.get(
    "/users", response_model=Page[UserOut], tags=["users"], openapi_extra=needs(Perm.users_read)
)
def list_users(
    actor: Actor,
    session: DB,
    paging: Paging,
    q: Annotated[
        str | None, Query(max_length=64, description="Part of user name or display name")
    ] = None,
    role: Role | None = None,
) -> Page[UserOut]:
    rows, total = service.get_all(
        session, actor=actor, q=q, role=role, limit=paging.limit, offset=paging.offset
    )
    return page_of([UserOut.model_validate(u) for u in rows], total, paging)


@router.post(
    "/users",
    response_model=UserCreated,
    status_code=201,
    tags=["users"],
    openapi_extra=needs(Perm.users_write),
)
def create_user(data: UserCreate, actor: Actor, session: DB) -> UserCreated:
    """A new account. Without `password`, one is generated and answered this once
    (`first_password`), and its holder must choose their own at first log-in."""
    if data.password is not None:
        return UserCreated.model_validate(service.create(session, actor=actor, data=data))
    user, first = service.invite(session, actor=actor, data=data)
    return UserCreated.model_validate(user).model_copy(update={"first_password": first})


@router.post(
    "/users/{user_id}/password-reset",
    response_model=PasswordOut,
    tags=["users"],
    openapi_extra=needs(Perm.users_write),
)
def reset_password(user_id: int, actor: Actor, session: DB) -> PasswordOut:
    """A new generated password for the account, answered this once; its sessions end and its
    holder chooses their own at the next log-in."""
    user = service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    return PasswordOut(password=service.reset_password(session, actor=actor, user=user))


@router.get(
    "/users/{user_id}", response_model=UserOut, tags=["users"], openapi_extra=needs(Perm.users_read)
)
def get_user(user_id: int, actor: Actor, session: DB) -> UserOut:
    return UserOut.model_validate(
        service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    )


@router.get(
    "/users/{user_id}/phone",
    response_model=NumberOut,
    tags=["users"],
    openapi_extra=needs(Perm.people_phone),
)
def user_phone(user_id: int, actor: Actor, session: DB) -> NumberOut:
    """An account's whole phone number, for those who manage the account. Audited."""
    user = service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    audit.record_number_read(
        session,
        entity="users",
        entity_id=user.id,
        field="phone",
        scope_path=service.scope_of(session, user=user),
    )
    return NumberOut(field="phone", value=user.phone)


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    tags=["users"],
    openapi_extra=needs(Perm.users_write),
)
def update_user(user_id: int, data: UserUpdate, actor: Actor, session: DB) -> UserOut:
    user = service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    return UserOut.model_validate(service.update(session, actor=actor, user=user, data=data))


@router.post(
    "/users/{user_id}/roles",
    response_model=BindingOut,
    status_code=201,
    tags=["users"],
    openapi_extra=needs(Perm.users_write),
)
def add_role(user_id: int, data: BindingIn, actor: Actor, session: DB) -> BindingOut:
    user = service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    return BindingOut.model_validate(
        service.add_binding(session, actor=actor, user=user, data=data)
    )


@router.delete(
    "/users/{user_id}/roles/{binding_id}",
    status_code=204,
    tags=["users"],
    openapi_extra=needs(Perm.users_write),
)
def remove_role(user_id: int, binding_id: int, actor: Actor, session: DB) -> None:
    user = service.get_visible_or_raise(session, actor=actor, user_id=user_id)
    service.remove_binding(session, actor=actor, user=user, binding_id=binding_id)


@router.get(
    "/audit", response_model=Page[AuditOut], tags=["audit"], openapi_extra=needs(Perm.audit_read)
)
def audit_log(
    actor: Actor,
    session: DB,
    paging: Paging,
    entity: Annotated[
        str | None, Query(max_length=64, description="Table, e.g. territory_nodes")
    ] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    action: Annotated[
        str | None, Query(max_length=16, description="create, update, delete, read, login")
    ] = None,
    actor_user_id: int | None = None,
    who: Annotated[str | None, Query(max_length=64, description="Part of the actor's name")] = None,
    reads: Annotated[
        bool | None,
        Query(description="Only the looks at personal data (true), or only the rest (false)"),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditOut]:
    """Who did what, when, with before and after; admins see entries within their scope."""
    rows, total = service.audit_entries(
        session,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_user_id=actor_user_id,
        who=who,
        reads=reads,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([AuditOut.model_validate(r) for r in rows], total, paging)
