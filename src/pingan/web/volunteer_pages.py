"""Volunteer service on the pages: the community's desk (sign-ups to confirm, activities and their
codes, check-ins to look at, the volunteers and their hours, the export), an activity's page, and
on the phone, without an account, signing up and the volunteer's own page (hours, level,
activities, check-in and check-out on the spot)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request, Response
from sqlalchemy import func, select

from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, day_start, utcnow
from pingan.errors import PinganError
from pingan.i18n import N_, gettext
from pingan.masking import mask
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind
from pingan.volunteers import service
from pingan.volunteers.models import (
    FLAG_LABEL,
    KIND_LABEL,
    STATE_LABEL,
    Activity,
    State,
    Volunteer,
)
from pingan.web.text import PHONE, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages

PAGE = 50


def volunteer_words(request: Request) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "kinds": {k.value: gettext(w, lang) for k, w in KIND_LABEL.items()},
        "flags": {f.value: gettext(w, lang) for f, w in FLAG_LABEL.items()},
        "states": {s.value: gettext(w, lang) for s, w in STATE_LABEL.items()},
        "failed": gettext(N_("未能保存：{reason}"), lang),
        "hours": gettext(N_("{h} 小时"), lang),
        "signed": gettext(N_("已报名"), lang),
        "join": gettext(N_("报名"), lang),
        "checked_in": gettext(N_("已签到 {t}"), lang),
        "checked_out": gettext(N_("已签退，计 {m} 分钟"), lang),
        "waiting": gettext(N_("待社区确认：{flags}"), lang),
        "refused": gettext(N_("社区未认可此次签到"), lang),
        "pending": gettext(N_("报名已提交，等待社区确认。确认后即可报名参加活动。"), lang),
        "key_saved": gettext(N_("已在本机保存您的志愿者码。换手机时请输入："), lang),
        "next": gettext(N_("距“{level}”还差 {h} 小时"), lang),
        "none": gettext(N_("暂无"), lang),
        "places": gettext(N_("剩余名额 {n}"), lang),
        "no_position": gettext(N_("手机未能定位，签到将请社区确认"), lang),
        "in_done": gettext(N_("签到成功"), lang),
        "out_done": gettext(N_("签退成功"), lang),
    }


def install(app: FastAPI, pages: Pages) -> None:
    @app.get("/volunteers", include_in_schema=False)
    def volunteer_desk(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.volunteers_read)),
        community: int | None = None,
        programme: int | None = None,
        q: str | None = None,
        page: int = 1,
    ) -> Response:
        now = utcnow()
        today = day_start(now.astimezone(SHANGHAI).date())
        with pages.session(principal, request) as session:
            within = pages.within(session, principal, community)
            programmes = service.programmes(session)
            pending, pending_total = service.get_all(
                session,
                actor=principal,
                filters=service.Filters(within=within, state=State.pending),
                limit=100,
            )
            shown, total = service.get_all(
                session,
                actor=principal,
                filters=service.Filters(
                    within=within,
                    programme_id=programme,
                    state=State.confirmed,
                    q=(q or "").strip()[:50] or None,
                ),
                limit=PAGE,
                offset=(max(page, 1) - 1) * PAGE,
            )
            served = service.hours(session, volunteers=shown)
            ladder = service.levels(session)
            recent = service.activities(
                session,
                actor=principal,
                within=within,
                since=today - timedelta(days=14),
                until=today + timedelta(days=15),
            )
            turnout = service.turnout(session, activity_ids=[a.id for a in recent])
            waiting = service.flagged(session, actor=principal, within=within)
            activity_names = {
                a.id: a.title
                for a in session.scalars(
                    select(Activity).where(Activity.id.in_({w.activity_id for w in waiting}))
                )
            }
            volunteer_names = {
                v.id: v.name
                for v in session.scalars(
                    select(Volunteer).where(Volunteer.id.in_({w.volunteer_id for w in waiting}))
                )
            }
            counts = dict(
                session.execute(
                    select(Volunteer.state, func.count(Volunteer.id))
                    .where(service.scope_clause(principal))
                    .where(Volunteer.path.startswith(within or "/", autoescape=True))
                    .group_by(Volunteer.state)
                ).all()
            )
            communities = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=[NodeKind.community], perm=Perm.volunteers_read
            )
            places = territory_service.get_all_of_kinds(
                session,
                actor=principal,
                kinds=[NodeKind.community, NodeKind.grid, NodeKind.site],
                perm=Perm.volunteers_manage,
                limit=5000,
            )
            teams = service.teams(session, actor=principal)
            names = {c.id: c.name for c in communities}
        this_week = [a for a in recent if today <= a.starts_at < today + timedelta(days=7)]
        return pages.render(
            request,
            "volunteers.html",
            principal=principal,
            programmes=programmes,
            pending=pending,
            pending_total=pending_total,
            shown=[(v, served[v.id], service.level_of(served[v.id].total, ladder)) for v in shown],
            total=total,
            page=max(page, 1),
            pages_count=max(1, -(-total // PAGE)),
            recent=[(a, turnout.get(a.id, (0, 0))) for a in recent],
            waiting=waiting,
            activity_names=activity_names,
            volunteer_names=volunteer_names,
            summary={
                "confirmed": counts.get(State.confirmed, 0),
                "pending": counts.get(State.pending, 0),
                "this_week": len(this_week),
                "flagged": len(waiting),
            },
            communities=communities,
            places=places,
            teams=teams,
            names=names,
            ladder=ladder,
            chosen=community,
            chosen_programme=programme,
            q=q or "",
            now=now,
            today=today,
            may_manage=principal.holds(Perm.volunteers_manage),
            may_programmes=principal.holds(Perm.volunteers_programmes),
            manages=lambda path: principal.can(Perm.volunteers_manage, path),
            mask=mask,
            words=volunteer_words(request),
        )

    @app.get("/volunteers/activities/{activity_id}", include_in_schema=False)
    def activity_page(
        request: Request,
        activity_id: int,
        principal: Principal = Depends(pages.viewer(Perm.volunteers_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                activity = service.activity_visible_or_raise(
                    session, actor=principal, activity_id=activity_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{activity_id}")
            rows = service.attendances(session, activity=activity)
            people = {
                v.id: v
                for v in session.scalars(
                    select(Volunteer).where(Volunteer.id.in_({r.volunteer_id for r in rows}))
                )
            }
            place = territory_service.names(session, node_ids=[activity.node_id])
            programme = (
                service.programme_or_raise(session, programme_id=activity.programme_id)
                if activity.programme_id
                else None
            )
        return pages.render(
            request,
            "volunteer_activity.html",
            principal=principal,
            activity=activity,
            rows=rows,
            people=people,
            place=place.get(activity.node_id, ""),
            programme=programme,
            may_manage=principal.can(Perm.volunteers_manage, activity.path),
            words=volunteer_words(request),
        )

    @app.get(f"{PHONE}volunteer", include_in_schema=False)
    def volunteer_phone(request: Request) -> Response:
        """Anyone may sign up; the volunteer's own page opens with the key kept on the phone."""
        principal = pages.signed_in(request)
        with pages.session(principal or SYSTEM, request) as session:
            programmes = service.programmes(session, active_only=True)
            communities = territory_service.get_all_of_kinds(
                session, actor=SYSTEM, kinds=[NodeKind.community]
            )
        lang = lang_of(request)
        return pages.render(
            request,
            "volunteer_phone.html",
            principal=principal,
            programmes=[
                {
                    "id": p.id,
                    "name": gettext(p.name, lang),
                    "about": gettext(p.description or "", lang),
                }
                for p in programmes
            ],
            communities=[{"id": c.id, "name": c.name} for c in communities],
            words=volunteer_words(request),
        )
