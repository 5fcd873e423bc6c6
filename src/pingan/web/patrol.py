"""Human defence in the console: teams and who is on duty, routes with their printable codes,
open dispatch tasks, coverage and joint meetings; and the A4 sheet of a route's QR codes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import segno
from fastapi import FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import func, select

from pingan.api_common import client_ip
from pingan.assessment import figures
from pingan.auth.roles import Perm
from pingan.db.engine import unit_of_work
from pingan.errors import PinganError
from pingan.i18n import t
from pingan.patrol import service as patrol_service
from pingan.patrol.models import OPEN_TASKS, TEAM_LABEL, Checkpoint, Member, Route, Task
from pingan.territory.models import Person, TerritoryNode
from pingan.web.phone import HOME, WORDS
from pingan.web.text import lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages


def qr_svg(text: str, scale: int = 6) -> Markup:
    """A QR code as inline SVG (error correction M: a sheet outdoors gets scuffed)."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=scale, border=2, dark="#000"))


def checkpoint_url(public_url: str, token: str) -> str:
    """What a checkpoint's code holds: the phone page's address with the signed token, so any
    scanner opens the page and checks in."""
    return f"{public_url.rstrip('/')}{HOME}?t={token}"


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
            names = dict(
                session.execute(
                    select(Member.id, Person.name).join(Person, Person.id == Member.person_id)
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
            coverage = figures.Figures(session, actor=principal, period=span).patrol_coverage()
            meetings = patrol_service.meetings(session, actor=principal)[:10]
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
