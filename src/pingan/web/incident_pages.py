"""Grid incidents in the console (the incident desk and one case) and on the phone (a resident's
report and their own case, the officers' case list). Pages read through incidents.service, so the
scope of each viewer applies as in the API; the pages' scripts act through the API."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.assessment import figures
from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import LABEL as ROLE_LABEL
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.errors import PinganError
from pingan.i18n import N_, gettext
from pingan.incidents import flows, service
from pingan.incidents.catalogue import HANDLER_LABEL, Catalogue
from pingan.incidents.models import (
    CHANNEL_LABEL,
    RATING_LABEL,
    STATE_LABEL,
    Channel,
    Incident,
    IncidentState,
    StreetLine,
)
from pingan.masking import mask_optional
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.geo import CRS
from pingan.territory.models import NodeKind
from pingan.volunteers import service as volunteer_service
from pingan.web.text import PHONE, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages

READERS = (Perm.incidents_read, Perm.incidents_streets)
WORKERS = (Perm.incidents_work, Perm.incidents_verify)
VIEWS: dict[str, str] = {
    "open": N_("办理中"),
    "new": N_("待立案"),
    "overdue": N_("超期"),
    "verify": N_("待核查"),
    "mine": N_("我的"),
    "all": N_("全部"),
}
PAGE_SIZE = 50
ACTOR_LABEL = {"system": N_("系统"), "resident": N_("居民"), "reporter": N_("上报人")}


def incident_words(request: Request, catalogue: Catalogue) -> dict[str, Any]:
    """The words of the incident pages' scripts in the page's language."""
    lang = lang_of(request)

    def tr(labels: dict[Any, str]) -> dict[str, str]:
        return {getattr(k, "value", k): gettext(v, lang) for k, v in labels.items()}

    return {
        "states": tr(STATE_LABEL),
        "actions": tr(flows.ACTION_LABEL),
        "entries": tr(flows.ENTRY_LABEL),
        "reasons": tr(flows.REASON_LABEL),
        "channels": tr(CHANNEL_LABEL),
        "ratings": tr(RATING_LABEL),
        "handlers": tr(HANDLER_LABEL),
        "roles": tr(ROLE_LABEL),
        "kinds": {
            f"{c.code}.{k.code}": gettext(k.name, lang)
            for c in catalogue.categories
            for k in c.kinds
        },
        "categories": {c.code: gettext(c.name, lang) for c in catalogue.categories},
        # Who acted when it was no account: the platform, a resident, an Open311 client.
        "actors": {k: gettext(v, lang) for k, v in ACTOR_LABEL.items()},
    }


def _age_class(incident: Incident, now: datetime) -> str:
    if incident.overdue_at is not None and incident.is_open:
        return "late"
    if incident.is_open and incident.remind_at is not None and incident.remind_at <= now:
        return "soon"
    return ""


def _places(session: Session, rows: list[Incident]) -> dict[int, str]:
    ids = {r.community_id for r in rows} | {r.grid_id for r in rows if r.grid_id}
    return territory_service.names(session, node_ids=ids)


def install(app: FastAPI, pages: Pages) -> None:
    # --- the incident desk ------------------------------------------------------------------------

    @app.get("/incidents", include_in_schema=False)
    def incident_desk(
        request: Request,
        principal: Principal = Depends(pages.viewer(READERS)),
        view: str = "open",
        category: str = "",
        community: int | None = None,
        grid: int | None = None,
        handler: str = "",
        state: str = "",
        channel: str = "",
        page: int = 1,
    ) -> Response:
        view = view if view in VIEWS else "open"
        page = max(page, 1)
        with pages.session(principal, request) as session:
            catalogue = service.catalogue(session)
            within = None
            for node_id in (grid, community):  # the narrower first
                if node_id and within is None:
                    try:
                        within = territory_service.get_visible_or_raise(
                            session, actor=principal, node_id=node_id
                        ).path
                    except PinganError:
                        within = None
            filters = service.Filters(
                view=None if view == "all" else view,
                category=category or None,
                state=IncidentState(state) if state in IncidentState.__members__ else None,
                channel=Channel(channel) if channel in Channel.__members__ else None,
                within_path=within,
                assignee=handler or None,
            )
            rows, total = service.get_all(
                session,
                actor=principal,
                filters=filters,
                limit=PAGE_SIZE,
                offset=(page - 1) * PAGE_SIZE,
            )
            counts = {
                v: service.get_all(
                    session, actor=principal, filters=service.Filters(view=v), limit=1
                )[1]
                for v in ("new", "overdue", "verify")
            }
            names = _places(session, list(rows))
            areas = territory_service.get_all_of_kinds(
                session,
                actor=principal,
                kinds=[NodeKind.community, NodeKind.grid],
                perm=Perm.incidents_read,
            )
            communities = [
                {"id": n.id, "name": n.name} for n in areas if n.kind == NodeKind.community
            ]
            grids = [
                {"id": n.id, "name": n.name, "community": n.parent_id}
                for n in areas
                if n.kind == NodeKind.grid and (not community or n.parent_id == community)
            ]
            handlers = service.handler_names(session, actor=principal)
            # A street chief's own streets: their cases and how quickly they were closed.
            streets = (
                figures.Figures(
                    session, actor=principal, period=figures.period(None, None)
                ).incidents_by_street()
                if principal.holds(Perm.incidents_streets)
                and not principal.holds(Perm.incidents_read)
                else None
            )
            now = utcnow()
            shown = [
                {
                    "incident": r,
                    "place": " / ".join(
                        filter(None, [names.get(r.community_id), names.get(r.grid_id or 0)])
                    ),
                    "age": _age_class(r, now),
                }
                for r in rows
            ]
            words = incident_words(request, catalogue)
        return pages.render(
            request,
            "incidents.html",
            principal=principal,
            rows=shown,
            total=total,
            page=page,
            pages_count=max(1, -(-total // PAGE_SIZE)),
            view=view,
            views=VIEWS,
            counts=counts,
            words=words,
            communities=communities,
            grids=grids,
            handlers=handlers,
            streets=streets,
            chosen={
                "category": category,
                "community": community,
                "grid": grid,
                "handler": handler,
                "state": state,
                "channel": channel,
            },
            may_report=principal.holds(Perm.incidents_report),
            may_work=principal.holds(*WORKERS),
        )

    # --- one case ---------------------------------------------------------------------------------

    @app.get("/incidents/{incident_id}", include_in_schema=False)
    def incident_page(
        request: Request, incident_id: int, principal: Principal = Depends(pages.viewer(READERS))
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                incident = service.get_visible_or_raise(
                    session, actor=principal, incident_id=incident_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{incident_id}")
            catalogue = service.catalogue(session)
            found = catalogue.kind(incident.kind)
            kind = found[1] if found else None
            entries = service.timeline(session, incident=incident)
            before = [p for e, ps in entries for p in ps if e.action != flows.Action.done.value]
            after = [p for e, ps in entries for p in ps if e.action == flows.Action.done.value]
            names = territory_service.names(
                session, node_ids=[incident.community_id, incident.grid_id or 0]
            )
            line = (
                session.get(StreetLine, incident.street_line_id)
                if incident.street_line_id
                else None
            )
            alarm = (
                alarm_service.get(session, alarm_id=incident.alarm_id)
                if incident.alarm_id
                else None
            )
            alarm_link = alarm if alarm and principal.can(Perm.alarms_read, alarm.path) else None
            dupes = service.duplicates_seen(session, actor=principal, incident=incident)
            actions = service.actions_for(session, principal, incident)
            handlers = (
                service.handlers_for(session, incident=incident)
                if flows.Action.assign in actions
                else []
            )
            merged = service.merged_reporters(session, incident=incident)
            mediations = volunteer_service.mediations(
                session, actor=principal, incident_id=incident.id
            )
            shown = geo.from_wgs84(incident.lon, incident.lat, CRS(app.state.settings.map_tile_crs))
            words = incident_words(request, catalogue)
            fields = {f.code: f for f in kind.fields} if kind else {}
            attributes = [
                (
                    fields[code].description if code in fields else code,
                    ", ".join(
                        gettext(
                            next((c.name for c in fields[code].values if c.key == v), str(v)),
                            lang_of(request),
                        )
                        for v in (value if isinstance(value, list) else [value])
                    )
                    if code in fields and fields[code].values
                    else value,
                )
                for code, value in (incident.attributes or {}).items()
            ]
        return pages.render(
            request,
            "incident.html",
            principal=principal,
            incident=incident,
            mediations=mediations,
            kind=kind,
            timeline=entries,
            before=before,
            after=after,
            community=names.get(incident.community_id, "—"),
            grid=names.get(incident.grid_id or 0),
            street=line,
            alarm=alarm_link,
            duplicates=dupes,
            merged=merged,
            actions=actions,
            handlers=handlers,
            point=shown,
            phone=mask_optional(incident.reporter_phone),
            attributes=attributes,
            words=words,
            data={
                "id": incident.id,
                "version": incident.version,
                "actions": [a.value for a in actions],
                "reasons": {a.value: list(r) for a, r in flows.REASONS.items()},
                "boundaries": principal.holds(Perm.territory_read),
            },
        )

    # --- the phone: a resident's report and their own case ----------------------------------------

    @app.get(f"{PHONE}report", include_in_schema=False)
    def report_page(request: Request) -> Response:
        """Anyone may report, signed in or not: a staff member's report is theirs, a resident's
        is answered with the key to their own case page (kept on the phone)."""
        principal = pages.signed_in(request)
        staff = principal is not None and principal.holds(Perm.incidents_report)
        with pages.session(principal or SYSTEM, request) as session:
            catalogue = service.catalogue(session)
        lang = lang_of(request)
        kinds = [
            {
                "category": gettext(c.name, lang),
                "kinds": [
                    {
                        "code": f"{c.code}.{k.code}",
                        "name": gettext(k.name, lang),
                        "fields": [
                            {
                                "code": f.code,
                                "description": gettext(f.description, lang),
                                "datatype": f.datatype,
                                "required": f.required,
                                "values": [
                                    {"key": v.key, "name": gettext(v.name, lang)} for v in f.values
                                ],
                            }
                            for f in k.fields
                        ],
                    }
                    for k in c.kinds
                ],
            }
            for c in catalogue.categories
        ]
        alarm = request.query_params.get("alarm", "")
        checkpoint = request.query_params.get("checkpoint", "")
        return pages.render(
            request,
            "report.html",
            principal=principal,
            staff=staff,
            # The centre taking a call (12345 transfers): the caller's name and number.
            hotline=principal is not None and principal.holds(Perm.incidents_dispatch),
            checkpoint=checkpoint if staff and checkpoint.isdigit() else "",
            kinds=kinds,
            alarm=alarm if staff and alarm.isdigit() else "",
            words={k: gettext(v, lang) for k, v in REPORT_WORDS.items()},
            states={s.value: gettext(v, lang) for s, v in STATE_LABEL.items()},
        )

    @app.get(PHONE + "case/{token}", include_in_schema=False)
    def own_case_page(request: Request, token: str) -> Response:
        principal = pages.signed_in(request)
        with pages.session(principal or SYSTEM, request) as session:
            incident = service.get_by_token(session, token=token) if len(token) <= 64 else None
            if incident is None:
                return pages.render(
                    request, "missing.html", principal=principal, status=404, what="?"
                )
            case = service.public_case(session, incident=incident)
            catalogue = service.catalogue(session)
            found = catalogue.kind(incident.kind)
        lang = lang_of(request)
        return pages.render(
            request,
            "case.html",
            principal=principal,
            case=case,
            token=token,
            kind=gettext(found[1].name, lang) if found else incident.kind,
            states={s.value: gettext(v, lang) for s, v in STATE_LABEL.items()},
            steps={k: gettext(v, lang) for k, v in flows.ENTRY_LABEL.items()},
            reasons={k: gettext(v, lang) for k, v in flows.REASON_LABEL.items()},
            ratings={k.value: gettext(v, lang) for k, v in RATING_LABEL.items()},
            words={k: gettext(v, lang) for k, v in REPORT_WORDS.items()},
        )

    # --- the phone: the officers' cases -----------------------------------------------------------

    @app.get(PHONE + "cases", include_in_schema=False)
    def officer_cases(
        request: Request, principal: Principal = Depends(pages.viewer(WORKERS))
    ) -> Response:
        """A grid officer's (or property manager's) open cases, for the phone: nearest and most
        overdue first (the phone sorts by its own position)."""
        with pages.session(principal, request) as session:
            rows, _total = service.get_all(
                session, actor=principal, filters=service.Filters(view="open"), limit=500
            )
            catalogue = service.catalogue(session)
            words = incident_words(request, catalogue)
            cases = [
                {
                    "id": r.id,
                    "kind": words["kinds"].get(r.kind, r.kind),
                    "state": r.state.value,
                    "description": r.description[:200],
                    "address": r.address,
                    "lon": r.lon,
                    "lat": r.lat,
                    "due_at": r.due_at.isoformat() if r.due_at else None,
                    "overdue": r.overdue_at is not None,
                    "priority": r.priority,
                    "version": r.version,
                    "actions": [
                        a.value
                        for a in service.actions_for(session, principal, r)
                        if a in PHONE_ACTIONS
                    ],
                }
                for r in rows
            ]
        lang = lang_of(request)
        return pages.render(
            request,
            "cases.html",
            principal=principal,
            cases=cases,
            words={
                **{k: gettext(v, lang) for k, v in REPORT_WORDS.items()},
                "states": words["states"],
                "actions": words["actions"],
            },
        )


# What an officer does on the phone; the rest is the console's.
PHONE_ACTIONS = frozenset(
    {flows.Action.take, flows.Action.done, flows.Action.verify, flows.Action.not_fixed}
)

# The words of the phone's report, case and case-list scripts; Chinese here, English from the
# catalogue.
REPORT_WORDS: dict[str, str] = {
    "locate": N_("用手机定位"),
    "locating": N_("正在定位……"),
    "located": N_("已定位（精度约 {m} 米）"),
    "no_position": N_("无法定位：请在地图上点选位置，或写明地址"),
    "pick": N_("或在地图上点选位置"),
    "picked": N_("已选定地图上的位置"),
    "nearby": N_("附近 72 小时内已有 {n} 条相同问题的上报，仍可继续提交"),
    "sent": N_("已提交，编号 {id}。可在“我的上报”中查看办理进展"),
    "queued": N_("无网络：上报已保存在手机上，联网后自动提交"),
    "pending": N_("{n} 条上报待提交"),
    "failed": N_("提交未成功：{reason}"),
    "too_many": N_("最多 4 张照片"),
    "mine": N_("我的上报"),
    "none": N_("还没有上报"),
    "open": N_("查看"),
    "distance": N_("{m} 米"),
    "due": N_("时限"),
    "overdue": N_("已超期"),
    "photo": N_("处置后照片"),
    "done": N_("已完成"),
    "no_cases": N_("没有待办事件"),
    "rated": N_("感谢您的评价"),
    "fixed": N_("问题已解决"),
    "not_fixed": N_("问题仍未解决"),
}
