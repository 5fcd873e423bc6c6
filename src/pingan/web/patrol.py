"""Human defence in the console: teams and who is on duty, routes with their printable codes,
open dispatch tasks, coverage and joint meetings; and the A4 sheet of a route's QR codes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import segno
from fastapi import FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.api_common import client_ip
from pingan.assessment import figures
from pingan.auth import service as auth_service
from pingan.auth.models import User
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm, Role
from pingan.db.base import utcnow
from pingan.db.engine import unit_of_work
from pingan.errors import PinganError
from pingan.i18n import t
from pingan.patrol import service as patrol_service
from pingan.patrol.models import (
    OPEN_TASKS,
    TEAM_LABEL,
    Checkpoint,
    Member,
    Route,
    Shift,
    Task,
    Team,
)
from pingan.territory.models import NodeKind, Person, TerritoryNode
from pingan.web.phone import WORDS
from pingan.web.text import PHONE, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages


def qr_svg(text: str, scale: int = 6) -> Markup:
    """A QR code as inline SVG (error correction M: a sheet outdoors gets scuffed)."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=scale, border=2, dark="#000"))


def checkpoint_url(public_url: str, token: str) -> str:
    """What a checkpoint's code holds: the phone page's address with the signed token, so any
    scanner opens the page and checks in."""
    return f"{public_url.rstrip('/')}{PHONE}?t={token}"


def _management(
    session: Session, principal: Principal, teams: Sequence[Team], names: dict[int, str]
) -> dict[str, Any]:
    """What the page's forms offer: places for a team, each team's members and coming shifts,
    and the patrol accounts to tie a member to."""
    places = session.execute(
        select(TerritoryNode.id, TerritoryNode.name, TerritoryNode.kind)
        .where(
            TerritoryNode.kind.in_([NodeKind.street, NodeKind.community, NodeKind.site]),
            principal.filter(TerritoryNode.path, Perm.patrol_manage),
        )
        .order_by(TerritoryNode.path)
        .limit(500)
    ).all()
    now = utcnow()
    members: dict[int, list[dict[str, Any]]] = {t.id: [] for t in teams}
    rows = session.scalars(
        select(Member).where(Member.team_id.in_(list(members))).order_by(Member.id)
    ).all()
    usernames = dict(
        session.execute(
            select(User.id, User.username).where(User.id.in_([m.user_id for m in rows]))
        ).all()
    )
    for member in rows:
        members[member.team_id].append(
            {
                "member": member,
                "name": names.get(member.id, ""),
                "account": usernames.get(member.user_id) if member.user_id else None,
            }
        )
    shifts: dict[int, list[Shift]] = {t.id: [] for t in teams}
    for shift in session.scalars(
        select(Shift)
        .where(Shift.team_id.in_(list(shifts)), Shift.ends_at > now)
        .order_by(Shift.starts_at)
        .limit(200)
    ):
        shifts[shift.team_id].append(shift)
    accounts: Sequence[User] = []
    if principal.system or principal.paths(Perm.users_read):
        accounts, _total = auth_service.get_all(
            session, actor=principal, role=Role.patrol_member, limit=500
        )
    return {
        "places": [{"id": i, "name": n, "kind": k.value} for i, n, k in places],
        "members": members,
        "shifts": shifts,
        "accounts": accounts,
    }


def install(app: FastAPI, pages: Pages) -> None:
    def session_for(request: Request, actor: str) -> Any:
        return unit_of_work(app.state.sessionmaker, actor=actor, ip=client_ip(request))

    @app.get("/patrol", include_in_schema=False)
    def overview(request: Request) -> Response:
        principal = pages.require(request, Perm.patrol_manage)
        if isinstance(principal, Response):
            return principal
        span = figures.period(None, None)
        with session_for(request, principal.actor) as session:
            teams = patrol_service.teams(session, actor=principal)
            places = dict(
                session.execute(
                    select(TerritoryNode.id, TerritoryNode.name).where(
                        TerritoryNode.id.in_([t.node_id for t in teams])
                    )
                ).all()
            )
            sizes = dict(
                session.execute(
                    select(Member.team_id, func.count())
                    .where(Member.active)
                    .group_by(Member.team_id)
                ).all()
            )
            duty = patrol_service.on_duty(session, actor=principal)
            team_names = {t.id: t.name for t in teams}
            routes = session.execute(
                select(Route, func.count(Checkpoint.id))
                .join(Checkpoint, Checkpoint.route_id == Route.id, isouter=True)
                .where(principal.filter(Route.path, Perm.territory_read))
                .group_by(Route.id)
                .order_by(Route.id)
            ).all()
            tasks = session.scalars(
                select(Task)
                .where(
                    Task.state.in_(OPEN_TASKS),
                    principal.filter(Task.path, Perm.alarms_read),
                )
                .order_by(Task.offered_at.desc())
            ).all()
            # Names of the members shown: on duty, on a task, or in a team of this scope.
            shown = {m.id for _s, m in duty} | {t.member_id for t in tasks}
            shown |= set(
                session.scalars(select(Member.id).where(Member.team_id.in_([t.id for t in teams])))
            )
            names = dict(
                session.execute(
                    select(Member.id, Person.name)
                    .join(Person, Person.id == Member.person_id)
                    .where(Member.id.in_(shown))
                ).all()
            )
            coverage = figures.Figures(session, actor=principal, period=span).patrol_coverage()
            meetings = patrol_service.meetings(session, actor=principal)[:10]
            manage = _management(session, principal, teams, names)
            return pages.render(
                request,
                "patrol.html",
                principal=principal,
                teams=[
                    {
                        "team": t,
                        "kind": TEAM_LABEL[t.kind],
                        "place": places.get(t.node_id, ""),
                        "members": sizes.get(t.id, 0),
                        "on_duty": sum(1 for s, _m in duty if s.team_id == t.id),
                    }
                    for t in teams
                ],
                duty=[
                    {
                        "shift": s,
                        "member": m,
                        "name": names.get(m.id, ""),
                        "team": team_names.get(s.team_id, ""),
                    }
                    for s, m in duty
                ],
                routes=[
                    {"route": r, "points": n, "team": team_names.get(r.team_id, "")}
                    for r, n in routes
                ],
                tasks=[{"task": t, "name": names.get(t.member_id, "")} for t in tasks],
                coverage=coverage,
                span=span,
                words=WORDS,
                meetings=meetings,
                manage=manage,
                names_by_member=names,
                team_kinds=TEAM_LABEL,
                tile_url=app.state.settings.map_tile_url,
            )

    @app.get("/patrol/routes/{route_id}/print", include_in_schema=False)
    def print_codes(request: Request, route_id: int) -> Response:
        """A route's checkpoint codes on A4, six to a sheet, to print and put up."""
        principal = pages.require(request, Perm.patrol_manage)
        if isinstance(principal, Response):
            return principal
        public_url = app.state.settings.public_url
        with session_for(request, principal.actor) as session:
            try:
                route = patrol_service.route_visible_or_raise(
                    session, actor=principal, route_id=route_id
                )
                principal.require(Perm.patrol_manage, route.path, route.name)
            except PinganError:
                return pages.not_found(request, principal, f"#{route_id}")
            try:
                vault = app.state.faces.vault()  # the codes are signed with the data key
            except PinganError as exc:
                return pages.render(
                    request,
                    "route_print.html",
                    principal=principal,
                    route=route,
                    codes=[],
                    error=t(exc.key, lang_of(request), **exc.params),
                    status=exc.status,
                )
            codes = [
                {
                    "checkpoint": c,
                    "svg": qr_svg(checkpoint_url(public_url, patrol_service.token(vault, c))),
                }
                for c in patrol_service.checkpoints(session, route=route)
            ]
            return pages.render(
                request, "route_print.html", principal=principal, route=route, codes=codes
            )
