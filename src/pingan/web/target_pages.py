"""The targets page: each of the street's targets with its progress against the time gone and its
trend; a target's own page with its readings and entries (with evidence); setting a target and
entering a value go through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import today
from pingan.errors import PinganError
from pingan.i18n import N_, gettext
from pingan.targets import service
from pingan.targets.measures import MEASURES
from pingan.targets.models import SOURCE_LABEL, Target
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind
from pingan.web.text import lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages

STATUS_LABEL: dict[str, str] = {
    "met": N_("已完成"),
    "on_track": N_("按进度"),
    "behind": N_("滞后"),
    "overdue": N_("逾期未完成"),
    "not_started": N_("尚未填报"),
}


def target_words(request: Request) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "status": {k: gettext(v, lang) for k, v in STATUS_LABEL.items()},
        "sources": {s.value: gettext(w, lang) for s, w in SOURCE_LABEL.items()},
        "measures": {k: gettext(m.name, lang) for k, m in MEASURES.items()},
        "definitions": {k: gettext(m.definition, lang) for k, m in MEASURES.items()},
        "units": {k: gettext(m.unit, lang) for k, m in MEASURES.items()},
        "value": gettext(N_("数值"), lang),
        "target": gettext(N_("目标值"), lang),
        "expected": gettext(N_("按时间应达到"), lang),
        "failed": gettext(N_("未能保存：{reason}"), lang),
    }


def _trend(session: Session, target: Target, standing: service.Standing) -> list[list[Any]]:
    """[day, value] of each day's last reading, the value now as the last point."""
    points: dict[str, float] = {}
    for row in service.readings(session, target=target):
        points[row.on.isoformat()] = row.value
    if standing.value is not None and standing.as_of is not None:
        points[standing.as_of.isoformat()] = standing.value
    return [[day, points[day]] for day in sorted(points)]


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/targets", include_in_schema=False)
    def targets_page(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.targets_read)),
        community: int | None = None,
    ) -> Response:
        with pages.session(principal, request) as session:
            within = pages.within(session, principal, community)
            rows = service.get_all(session, actor=principal, within=within)
            cards = []
            for target in rows:
                standing = service.standing(session, target=target)
                cards.append((target, standing, _trend(session, target, standing)))
            names = territory_service.names(session, node_ids=[t.node_id for t in rows])
            communities = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=[NodeKind.community], perm=Perm.targets_read
            )
            places = territory_service.get_all_of_kinds(
                session,
                actor=principal,
                kinds=[NodeKind.street, NodeKind.community],
                perm=Perm.targets_manage,
            )
        return pages.render(
            request,
            "targets.html",
            principal=principal,
            active=[c for c in cards if c[0].active],
            withdrawn=[c for c in cards if not c[0].active],
            names=names,
            communities=communities,
            chosen=community,
            places=places,
            today=today(),
            may_set=principal.holds(Perm.targets_manage),
            words=target_words(request),
        )

    @app.get("/targets/{target_id}", include_in_schema=False)
    def target_page(
        request: Request,
        target_id: int,
        principal: Principal = Depends(pages.viewer(Perm.targets_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                target = service.get_visible_or_raise(session, actor=principal, target_id=target_id)
            except PinganError:
                return pages.not_found(request, principal, f"#{target_id}")
            standing = service.standing(session, target=target)
            readings = service.readings(session, target=target)
            trend = _trend(session, target, standing)
            name = territory_service.names(session, node_ids=[target.node_id]).get(
                target.node_id, ""
            )
        return pages.render(
            request,
            "target.html",
            principal=principal,
            target=target,
            standing=standing,
            entries=[r for r in readings if r.source.value == "entered"],
            trend=trend,
            place=name,
            today=today(),
            may_enter=service.may_enter(principal, target),
            may_manage=service.may_manage(principal, target),
            words=target_words(request),
        )
