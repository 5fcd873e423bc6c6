"""Human defence in the console: teams and who is on duty, routes with their printable codes,
open dispatch tasks, coverage and joint meetings; and the A4 sheet of a route's QR codes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

import segno
from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from markupsafe import Markup

from pingan.assessment import figures
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.errors import PinganError
from pingan.i18n import t
from pingan.patrol import dispatch
from pingan.patrol import service as patrol_service
from pingan.patrol.models import TEAM_LABEL
from pingan.territory.models import NodeKind, ancestor_id
from pingan.web.phone import WORDS
from pingan.web.text import PHONE, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages


def qr_svg(text: str, scale: int = 6) -> Markup:
    """A QR code as inline SVG (error correction M: a sheet outdoors gets scuffed)."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=scale, border=2, dark="#000"))


def is_local_address(url: str) -> bool:
    """An address only this computer can open (a phone scanning the code cannot)."""
    host = (urlparse(url).hostname or "").lower()
    return host in ("localhost", "0.0.0.0", "::1") or host.startswith("127.")


def checkpoint_url(public_url: str, token: str) -> str:
    """What a checkpoint's code holds: the phone page's address with the signed token, so any
    scanner opens the page and checks in."""
    return f"{public_url.rstrip('/')}{PHONE}?t={token}"


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/patrol", include_in_schema=False)
    def overview(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.patrol_manage))
    ) -> Response:
        span = figures.period(None, None)
        with pages.session(principal, request) as session:
            rows = patrol_service.team_rows(session, actor=principal)
            duty = patrol_service.on_duty(session, actor=principal)
            team_names = {r.team.id: r.team.name for r in rows}
            routes = patrol_service.routes_with_points(session, actor=principal)
            tasks = dispatch.open_tasks(session, actor=principal)
            names = patrol_service.member_names(
                session, member_ids={m.id for _s, m in duty} | {t.member_id for t in tasks}
            )
            coverage = figures.Figures(session, actor=principal, period=span).patrol_coverage()
            meetings = patrol_service.meetings(session, actor=principal)[:10]
            manage = patrol_service.roster(
                session, actor=principal, teams_shown=[r.team for r in rows]
            )
            return pages.render(
                request,
                "patrol.html",
                principal=principal,
                teams=[
                    {
                        "team": r.team,
                        "kind": TEAM_LABEL[r.team.kind],
                        "place": r.place,
                        "members": r.members,
                        "on_duty": r.on_duty,
                        # The community whose ground the team's checkpoints lie on (a street's
                        # team: all of them).
                        "area": ancestor_id(r.team.path, NodeKind.community),
                    }
                    for r in rows
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
                names_by_member={
                    **names,
                    **{m["member"].id: m["name"] for ms in manage["members"].values() for m in ms},
                },
                team_kinds=TEAM_LABEL,
            )

    @app.get("/patrol/routes/{route_id}/print", include_in_schema=False)
    def print_codes(
        request: Request,
        route_id: int,
        principal: Principal = Depends(pages.viewer(Perm.patrol_manage)),
    ) -> Response:
        """A route's checkpoint codes on A4, six to a sheet, to print and put up."""
        public_url = app.state.settings.public_url
        with pages.session(principal, request) as session:
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
                request,
                "route_print.html",
                principal=principal,
                route=route,
                codes=codes,
                public_url=public_url,
                local_address=is_local_address(public_url),
            )
