"""Users, role bindings, tokens and logins. Flushes only; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from pingan.auth import audit
from pingan.auth.models import ApiToken, AuditEntry, LoginAttempt, RoleBinding, User
from pingan.auth.passwords import generate_password, hash_password, verify_password
from pingan.auth.principal import Grant, Principal
from pingan.auth.roles import PERMISSIONS, RANK, Perm, Role
from pingan.auth.schemas import BindingIn, UserCreate, UserUpdate
from pingan.config import get_settings
from pingan.db.base import utcnow
from pingan.db.engine import READONLY, unit_of_work
from pingan.db.paging import paginate
from pingan.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated
from pingan.i18n import N_, phrase
from pingan.territory import service as territory_service
from pingan.territory.models import TerritoryNode

SESSION = "session"
API = "api"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def get(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_username(session: Session, *, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def principal_for(session: Session, *, user: User) -> Principal:
    rows = session.execute(
        select(RoleBinding.role, TerritoryNode.path)
        .join(TerritoryNode, TerritoryNode.id == RoleBinding.node_id)
        .where(RoleBinding.user_id == user.id)
    )
    grants = tuple(Grant(role=Role(r.role), path=r.path) for r in rows)
    return Principal(
        user_id=user.id,
        name=user.username,
        grants=grants,
        person_id=user.person_id,
        must_change_password=user.must_change_password,
    )


def _visible_clause(actor: Principal, perm: Perm) -> ColumnElement[bool]:
    return exists(
        select(RoleBinding.id)
        .join(TerritoryNode, TerritoryNode.id == RoleBinding.node_id)
        .where(RoleBinding.user_id == User.id, actor.filter(TerritoryNode.path, perm))
    )


def get_visible_or_raise(session: Session, *, actor: Principal, user_id: int) -> User:
    """A user is visible to admins of any scope holding one of the user's bindings."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(what=phrase(N_("用户 {n}"), n=user_id))
    if actor.system or actor.user_id == user.id or actor.is_root_admin():
        return user
    visible = session.scalar(
        select(_visible_clause(actor, Perm.users_read)).where(User.id == user.id)
    )
    if not visible:
        raise NotFound(what=phrase(N_("用户 {n}"), n=user_id))
    return user


def get_all(
    session: Session,
    *,
    actor: Principal,
    q: str | None = None,
    role: Role | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[User], int]:
    stmt = select(User)
    if not (actor.system or actor.is_root_admin()):
        stmt = stmt.where(_visible_clause(actor, Perm.users_read))
    if q:
        like = f"%{q}%"
        stmt = stmt.where(User.username.ilike(like) | User.display_name.ilike(like))
    if role:
        stmt = stmt.where(
            exists(
                select(RoleBinding.id).where(
                    RoleBinding.user_id == User.id, RoleBinding.role == role
                )
            )
        )
    return paginate(session, stmt, order_by=User.id, limit=limit, offset=offset)


def usernames(session: Session, *, user_ids: Iterable[int]) -> dict[int, str]:
    """Login names by user id (labels beside records already in scope)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.username).where(User.id.in_(ids))).all())


def display_names(session: Session, *, user_ids: Iterable[int]) -> dict[int, str]:
    """Names as people know them, by user id (a street's chief, a case's handler)."""
    ids = list(set(user_ids))
    if not ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
    return {int(i): str(n) for i, n in rows}


def holders(session: Session, *, perm: Perm, path: str) -> list[tuple[User, Role, str]]:
    """Active accounts holding `perm` through a role bound at this node, above it or inside it
    (who may be given a case there), with that role and the node's name."""
    roles = [r.value for r in Role if perm in PERMISSIONS[r]]
    rows = session.execute(
        select(User, RoleBinding.role, TerritoryNode.name, TerritoryNode.path)
        .join(RoleBinding, RoleBinding.user_id == User.id)
        .join(TerritoryNode, TerritoryNode.id == RoleBinding.node_id)
        .where(User.is_active.is_(True), RoleBinding.role.in_(roles))
        .order_by(User.display_name)
    ).all()
    found: dict[int, tuple[User, Role, str]] = {}
    for user, role, name, node_path in rows:
        if node_path.startswith(path) or path.startswith(node_path):
            found.setdefault(user.id, (user, Role(role), str(name)))
    return list(found.values())


def _check_grant(session: Session, *, actor: Principal, binding: BindingIn) -> None:
    node = territory_service.get_visible_or_raise(
        session, actor=actor, node_id=binding.node_id, perm=Perm.users_write
    )
    if not may_grant(actor, role=binding.role, rank=actor.max_rank_at(node.path)):
        raise Forbidden("role_too_high", role=binding.role.value)


def may_grant(actor: Principal, *, role: Role, rank: int) -> bool:
    """Whether an admin of this rank may hand out a role: one below their own; the top rank
    hands out all."""
    return actor.system or rank == max(RANK.values()) or rank > RANK[role]


def grantable(actor: Principal) -> list[Role]:
    """The roles an admin may hand out somewhere in their scope (the pages' pickers)."""
    rank = max((actor.max_rank_at(p) for p in actor.paths(Perm.users_write)), default=-1)
    return [r for r in Role if may_grant(actor, role=r, rank=rank)]


def create(session: Session, *, actor: Principal, data: UserCreate) -> User:
    for binding in data.roles:
        _check_grant(session, actor=actor, binding=binding)
    if get_by_username(session, username=data.username):
        raise Conflict(
            field="username", reason=phrase(N_("用户名 {name} 已存在"), name=data.username)
        )
    if data.person_id is not None:
        # A reference in the body is scope-checked like an id in the path: a person outside the
        # actor's scope does not exist for them (404), whoever they would be linked to.
        territory_service.get_person_visible_or_raise(
            session, actor=actor, person_id=data.person_id, perm=Perm.people_write
        )
    user = User(
        username=data.username,
        display_name=data.display_name,
        password_hash=hash_password(data.password or generate_password()),
        phone=data.phone,
        person_id=data.person_id,
        is_active=True,
    )
    user.bindings = [RoleBinding(role=b.role.value, node_id=b.node_id) for b in data.roles]
    session.add(user)
    session.flush()
    return user


def invite(session: Session, *, actor: Principal, data: UserCreate) -> tuple[User, str]:
    """A new account with a generated first password, returned once to be handed over; its
    holder must choose their own at first log-in."""
    first = generate_password()
    user = create(session, actor=actor, data=data.model_copy(update={"password": first}))
    user.must_change_password = True
    session.flush()
    return user, first


def _set_password(
    session: Session, *, user: User, password: str, must_change: bool, end_sessions: bool = True
) -> None:
    """A new password, written to the audit log (not its value); the account's sessions end
    unless the holder changed it themselves."""
    user.password_hash = hash_password(password)
    user.must_change_password = must_change
    if end_sessions:
        revoke_all(session, user_id=user.id)
    audit.record(
        session,
        action="password",
        entity="users",
        entity_id=str(user.id),
        scope_path=scope_of(session, user=user),
    )
    session.flush()


def reset_password(session: Session, *, actor: Principal, user: User) -> str:
    """A new generated password for someone who lost theirs, returned once; their sessions end
    and they choose their own at the next log-in."""
    _require_manage(session, actor=actor, user=user)
    password = generate_password()
    _set_password(session, user=user, password=password, must_change=True)
    return password


def change_own_password(session: Session, *, user: User, current: str, new: str) -> None:
    """The holder sets their own password (the current one proves it is them)."""
    if not verify_password(current, user.password_hash):
        raise Invalid("bad_current_password", field="current_password")
    if new == current:
        raise Invalid("same_password", field="new_password")
    _set_password(session, user=user, password=new, must_change=False, end_sessions=False)


def update(session: Session, *, actor: Principal, user: User, data: UserUpdate) -> User:
    _require_manage(session, actor=actor, user=user)
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.phone is not None:
        user.phone = data.phone
    if data.is_active is not None:
        user.is_active = data.is_active
        if not data.is_active:
            revoke_all(session, user_id=user.id)
    if data.password is not None:
        _set_password(session, user=user, password=data.password, must_change=False)
    session.flush()
    return user


def scope_of(session: Session, *, user: User) -> str | None:
    """Where an account's audit entries lie: the place of its first role."""
    node_id = user.audit_scope_node_id()
    node = territory_service.get(session, node_id=node_id) if node_id is not None else None
    return node.path if node else None


def _require_manage(session: Session, *, actor: Principal, user: User) -> None:
    """May actor manage user: actor outranks the user at every one of the user's scopes."""
    if actor.system:
        return
    for binding in user.bindings:
        node = territory_service.get_or_raise(session, node_id=binding.node_id)
        rank = actor.max_rank_at(node.path)
        if not (rank == max(RANK.values()) or rank > RANK[Role(binding.role)]):
            raise Forbidden(action=Perm.users_write.value)


def add_binding(session: Session, *, actor: Principal, user: User, data: BindingIn) -> RoleBinding:
    _check_grant(session, actor=actor, binding=data)
    binding = RoleBinding(user_id=user.id, role=data.role.value, node_id=data.node_id)
    session.add(binding)
    session.flush()
    session.refresh(user)
    return binding


def remove_binding(session: Session, *, actor: Principal, user: User, binding_id: int) -> None:
    binding = session.get(RoleBinding, binding_id)
    if binding is None or binding.user_id != user.id:
        raise NotFound(what=phrase(N_("授权 {n}"), n=binding_id))
    _check_grant(
        session, actor=actor, binding=BindingIn(role=Role(binding.role), node_id=binding.node_id)
    )
    session.delete(binding)
    session.flush()
    session.refresh(user)


def set_password(session: Session, *, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    session.flush()


# --- tokens and logins -----------------------------------------------------------------------


def issue_token(
    session: Session, *, user: User, kind: str, name: str, lifetime: timedelta
) -> tuple[str, ApiToken]:
    raw = f"pa_{secrets.token_urlsafe(32)}"
    token = ApiToken(
        user_id=user.id,
        kind=kind,
        name=name,
        token_hash=_digest(raw),
        created_at=utcnow(),
        expires_at=utcnow() + lifetime,
    )
    session.add(token)
    session.flush()
    return raw, token


def authenticate_token(session: Session, *, raw: str) -> tuple[User, ApiToken]:
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(raw)))
    now = utcnow()
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise Unauthenticated()
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        raise Unauthenticated()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
    return user, token


def revoke(session: Session, *, token: ApiToken) -> None:
    token.revoked_at = utcnow()
    session.flush()


def revoke_all(session: Session, *, user_id: int) -> None:
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = utcnow()


def tokens_of(session: Session, *, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(
        select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id.desc())
    ).all()


def _recent_failures(session: Session, *, username: str, ip: str, since: datetime) -> int:
    return (
        session.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.username == username,
                LoginAttempt.ip == ip,
                LoginAttempt.success.is_(False),
                LoginAttempt.at > since,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class LoggedIn:
    raw: str
    token: ApiToken
    user: User
    principal: Principal


def login(factory: sessionmaker[Session], *, username: str, password: str, ip: str) -> LoggedIn:
    """Check the password, limited per user name and address; a page login lasts one shift.

    In three steps, each in a transaction of its own or none, so that the password hash (slow
    on purpose) is never computed while the database is held for writing: read the user and
    the recent failures; check the password; record the attempt and, when right, the token."""
    settings = get_settings()
    window = timedelta(seconds=settings.login_window_s)
    now = utcnow()
    with unit_of_work(factory, ip=ip, actor="anonymous") as session:
        session.connection(execution_options={READONLY: True})
        failures = _recent_failures(session, username=username, ip=ip, since=now - window)
        if failures >= settings.login_max_failures:
            oldest = session.scalar(
                select(func.min(LoginAttempt.at)).where(
                    LoginAttempt.username == username,
                    LoginAttempt.ip == ip,
                    LoginAttempt.success.is_(False),
                    LoginAttempt.at > now - window,
                )
            )
            wait = int(((oldest or now) + window - now).total_seconds()) + 1
            raise RateLimited(seconds=wait, headers={"Retry-After": str(wait)})
        found = get_by_username(session, username=username)
        user_id, password_hash = (found.id, found.password_hash) if found else (None, None)
    ok = password_hash is not None and verify_password(password, password_hash)
    logged_in: LoggedIn | None = None
    disabled = False
    with unit_of_work(factory, ip=ip, actor="anonymous") as session:
        session.add(LoginAttempt(username=username, ip=ip, at=now, success=ok))
        user = session.get(User, user_id) if ok and user_id is not None else None
        disabled = user is not None and not user.is_active
        if user is not None and not disabled:
            user.last_login_at = now
            raw, token = issue_token(
                session,
                user=user,
                kind=SESSION,
                name=f"login from {ip}",
                lifetime=timedelta(hours=settings.session_hours),
            )
            session.info["actor"] = f"user:{user.id}:{user.username}"
            session.info["actor_user_id"] = user.id
            audit.record(
                session,
                action="login",
                entity="users",
                entity_id=str(user.id),
                scope_path=scope_of(session, user=user),
            )
            logged_in = LoggedIn(raw, token, user, principal_for(session, user=user))
    if disabled:
        raise Unauthenticated("user_disabled")
    if logged_in is None:
        raise Unauthenticated("bad_credentials")
    return logged_in


def prune_login_attempts(session: Session, *, older_than: timedelta = timedelta(days=30)) -> int:
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - older_than))
    return int(getattr(result, "rowcount", 0) or 0)


# --- audit log --------------------------------------------------------------------------------


def audit_entries(
    session: Session,
    *,
    actor: Principal,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
    actor_user_id: int | None = None,
    who: str | None = None,
    reads: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[AuditEntry], int]:
    """Entries within the actor's audit scope, newest first. `who`: part of the actor's name;
    `reads`: only the looks at personal data (True), or only the rest (False)."""
    stmt = select(AuditEntry)
    if not actor.system:
        clause = actor.filter(AuditEntry.scope_path, Perm.audit_read)
        if actor.is_root_admin():
            clause = clause | AuditEntry.scope_path.is_(None)
        stmt = stmt.where(clause)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if actor_user_id is not None:
        stmt = stmt.where(AuditEntry.actor_user_id == actor_user_id)
    if who:
        stmt = stmt.where(AuditEntry.actor.ilike(f"%{who}%"))
    if reads is not None:
        kinds = AuditEntry.action.in_(audit.READS)
        stmt = stmt.where(kinds if reads else ~kinds)
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    return paginate(session, stmt, order_by=AuditEntry.id.desc(), limit=limit, offset=offset)
