"""Physical defence in the console (the community's desk with its map, a site's facility sheet,
one inspection) and on the phone (an inspection, made with or without a network). Pages read
through facilities.service, so each viewer's scope applies as in the API; the scripts act through
the API."""

from __future__ import annotations

from datetime import date, datetime
from statistics import mean
from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db import base as db_base
from pingan.devices.models import KIND_LABEL as DEVICE_LABEL
from pingan.errors import PinganError
from pingan.facilities import flows, renovation, service
from pingan.facilities.checklist import Checklist
from pingan.facilities.models import (
    CATEGORY_LABEL,
    DECISION_LABEL,
    PROJECT_STATE_LABEL,
    STATUS_LABEL,
    UTILITY_LABEL,
    ItemStatus,
    ProjectState,
)
from pingan.i18n import N_, gettext
from pingan.targets import service as target_service
from pingan.territory import service as territory_service
from pingan.territory.models import SITE_TYPE_LABEL, NodeKind
from pingan.web.device_pages import STATUS_WORDS
from pingan.web.text import PHONE, lang_of

if TYPE_CHECKING:
    from pingan.web.pages import Pages


def checklist_words(request: Request, book: Checklist) -> dict[str, Any]:
    """The checklist's and the pages' words in the page's language, for templates and scripts."""
    lang = lang_of(request)

    def tr(text: str) -> str:
        return gettext(text, lang)

    return {
        "statuses": {s.value: tr(STATUS_LABEL[s]) for s in ItemStatus},
        "groups": {g.code: tr(g.name) for g in book.groups},
        "items": {f"{g.code}.{i.code}": tr(i.name) for g, i in book.items()},
        "kinds": {k.code: tr(k.name) for k in book.inspections},
        "bundles": {b.code: tr(b.name) for b in book.bundles},
        "site_types": {k.value: tr(v) for k, v in SITE_TYPE_LABEL.items()},
        "devices": {k.value: tr(v) for k, v in DEVICE_LABEL.items()},
        **{k: tr(v) for k, v in WORDS.items()},
    }


def phone_checklist(request: Request, book: Checklist) -> list[dict[str, Any]]:
    """What the phone needs to draw any site's inspection: every item with its groups, types,
    fields and whether it is counted, in the page's language."""
    lang = lang_of(request)
    return [
        {
            "code": f"{g.code}.{i.code}",
            "group": g.code,
            "name": gettext(i.name, lang),
            "requirement": gettext(i.requirement, lang),
            "types": [t.value for t in i.types],
            "counted": i.counted,
            "fields": [
                {
                    "code": f.code,
                    "description": gettext(f.description, lang),
                    "datatype": f.datatype,
                    "values": [{"key": v.key, "name": gettext(v.name, lang)} for v in f.values],
                }
                for f in i.fields
            ],
        }
        for g, i in book.items()
    ]


def install(app: FastAPI, pages: Pages) -> None:
    # --- the community's physical-defence desk ----------------------------------------------------

    @app.get("/facilities", include_in_schema=False)
    def facility_desk(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.facilities_read)),
        community: int | None = None,
    ) -> Response:
        with pages.session(principal, request) as session:
            book = service.checklist(session)
            within = pages.within(session, principal, community)
            sheets = service.sheets(session, actor=principal, within=within)
            due = service.schedule(session, actor=principal, within=within)
            late = [d for d in due if d.overdue]
            last: dict[int, datetime] = {}
            for d in due:
                if d.last_at and (d.site.id not in last or d.last_at > last[d.site.id]):
                    last[d.site.id] = d.last_at
            found = service.defects(session, actor=principal, within=within)
            names = territory_service.names(session, node_ids=[s.site_id for _i, s in found])
            communities = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=[NodeKind.community], perm=Perm.facilities_read
            )
        courtyards = [sheet for site, sheet in sheets if site.site_type in service.COURTYARDS]
        summary = {
            "sites": len(sheets),
            "completeness": round(mean(s.completeness for _n, s in sheets) * 100) if sheets else 0,
            "courtyards": len(courtyards),
            "three_basics": sum(bool(s.bundles.get(service.THREE_BASICS)) for s in courtyards),
            "defects": len(found),
            "late": len({d.site.id for d in late}),
        }
        rows = sorted(sheets, key=lambda r: (r[1].completeness, r[0].path))
        return pages.render(
            request,
            "facilities.html",
            principal=principal,
            rows=rows,
            last=last,
            late=late[:200],
            defects=[(item, names.get(sheet.site_id, "")) for item, sheet in found[:200]],
            summary=summary,
            communities=communities,
            chosen=community,
            words=checklist_words(request, book),
            may_inspect=principal.holds(Perm.facilities_inspect),
        )

    # --- a site's sheet ---------------------------------------------------------------------------

    @app.get("/facilities/sites/{site_id}", include_in_schema=False)
    def site_sheet(
        request: Request,
        site_id: int,
        principal: Principal = Depends(pages.viewer(Perm.facilities_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                site = service.site_visible_or_raise(session, actor=principal, site_id=site_id)
            except PinganError:
                return pages.not_found(request, principal, f"#{site_id}")
            book = service.checklist(session)
            sheet = service.sheet_of(session, site=site, keep=False)
            items = service.sheet_items(session, site=site, sheet=sheet)
            due = service.due_for(session, site=site)
            done, _total = service.inspections(session, actor=principal, site_id=site.id, limit=24)
            community = territory_service.get(session, node_id=service.community_of(site))
        groups: dict[str, list[Any]] = {}
        for item in items:
            groups.setdefault(item.group.code, []).append(item)
        return pages.render(
            request,
            "facility_site.html",
            principal=principal,
            site=site,
            sheet=sheet,
            groups=groups,
            due=due,
            inspections=done,
            community=community,
            words=checklist_words(request, book),
            may_write=principal.can(Perm.facilities_write, site.path),
            see_devices=principal.can(Perm.devices_read, site.path),
            status_words={k.value: v for k, v in STATUS_WORDS.items()},
            may_inspect=principal.can(Perm.facilities_inspect, site.path),
        )

    @app.get("/facilities/inspections/{inspection_id}", include_in_schema=False)
    def inspection_page(
        request: Request,
        inspection_id: int,
        principal: Principal = Depends(pages.viewer(Perm.facilities_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                found = service.inspection_visible_or_raise(
                    session, actor=principal, inspection_id=inspection_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{inspection_id}")
            book = service.checklist(session)
            answers = service.answers_of(session, inspection=found)
            photos = service.answer_photos(session, answer_ids=[a.id for a in answers])
            changed = {c.code: c for c in service.changes(session, inspection=found)}
            site = territory_service.get(session, node_id=found.site_id)
        return pages.render(
            request,
            "inspection.html",
            principal=principal,
            inspection=found,
            answers=answers,
            photos=photos,
            changed=changed,
            site=site,
            words=checklist_words(request, book),
        )

    # --- the phone: an inspection -----------------------------------------------------------------

    @app.get(PHONE + "inspect", include_in_schema=False)
    def inspect_page(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.facilities_inspect))
    ) -> Response:
        """The inspector's phone page: the sites they may inspect with what is due (late first)
        and the checklist, kept on the phone so that an inspection can be made with no network."""
        with pages.session(principal, request) as session:
            book = service.checklist(session)
            due = [
                d
                for d in service.schedule(session, actor=principal)
                if principal.can(Perm.facilities_inspect, d.site.path)
            ]
        sites: dict[int, dict[str, Any]] = {}
        for d in due:
            entry = sites.setdefault(
                d.site.id,
                {
                    "id": d.site.id,
                    "name": d.site.name,
                    "site_type": d.site.site_type,
                    "lon": d.site.lon,
                    "lat": d.site.lat,
                    "due": {},
                },
            )
            entry["due"][d.kind.code] = {"on": d.due_on.isoformat(), "late": d.overdue}
        return pages.render(
            request,
            "inspect.html",
            principal=principal,
            sites=list(sites.values()),
            checklist=phone_checklist(request, book),
            kinds=[{"code": k.code, "groups": k.groups} for k in book.inspections],
            words=checklist_words(request, book),
        )


# The words of the facility pages' scripts; Chinese here, English from the catalogue.
WORDS: dict[str, str] = {
    "choose_site": N_("请选择小区/单位"),
    "all_present": N_("其余全部完好"),
    "count": N_("数量"),
    "note": N_("情况说明"),
    "photo": N_("照片"),
    "send": N_("提交检查"),
    "sent": N_("已提交：{failed} 项不合格，已生成 {opened} 个整改事件"),
    "queued": N_("无网络：检查已保存在手机上（含照片），联网后自动提交"),
    "pending": N_("{n} 份检查待提交"),
    "failed": N_("提交未成功：{reason}"),
    "unanswered": N_("还有 {n} 项未填写"),
    "late": N_("已超期"),
    "due_on": N_("应于 {day} 前检查"),
    "none_due": N_("没有需要检查的小区/单位"),
}


def renovation_words(request: Request) -> dict[str, Any]:
    lang = lang_of(request)
    return {
        "states": {s.value: gettext(w, lang) for s, w in PROJECT_STATE_LABEL.items()},
        "categories": {c.value: gettext(w, lang) for c, w in CATEGORY_LABEL.items()},
        "utilities": {u.value: gettext(w, lang) for u, w in UTILITY_LABEL.items()},
        "actions": {a.value: gettext(w, lang) for a, w in flows.ACTION_LABEL.items()},
        "decisions": {d.value: gettext(w, lang) for d, w in DECISION_LABEL.items()},
        "entries": {"created": gettext(N_("立项计划"), lang)}
        | {a.value: gettext(w, lang) for a, w in flows.ACTION_LABEL.items()},
        "failed": gettext(WORDS["failed"], lang),
    }


# The targets whose progress the renovation board shows.
RENOVATION_MEASURES = ("courtyards_renovated", "courtyards_utilities_renovated")


def install_renovation(app: FastAPI, pages: Pages) -> None:
    @app.get("/facilities/renovation", include_in_schema=False)
    def renovation_board(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.facilities_read)),
        community: int | None = None,
    ) -> Response:
        today = db_base.today()
        with pages.session(principal, request) as session:
            within = pages.within(session, principal, community)
            projects, _total = renovation.get_all(
                session, actor=principal, within=within, limit=1000
            )
            year = renovation.progress(
                session, actor=principal, since=date(today.year, 1, 1), until=today
            )
            three = renovation.progress(
                session, actor=principal, since=date(today.year - 2, 1, 1), until=today
            )
            site_ids = {s for p in projects for s in p.sites}
            names = territory_service.names(
                session,
                node_ids=[*site_ids, *(r.community_id for r in year if r.community_id)],
            )
            communities = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=[NodeKind.community], perm=Perm.facilities_read
            )
            courtyards = [
                s
                for s in territory_service.get_all_of_kinds(
                    session,
                    actor=principal,
                    kinds=[NodeKind.site],
                    perm=Perm.renovation_manage,
                    limit=100_000,
                )
                if s.site_type in service.COURTYARDS
            ]
            book = service.checklist(session)
            aims = [
                (t, target_service.standing(session, target=t))
                for t in target_service.get_all(
                    session,
                    actor=principal,
                    within=within,
                    active=True,
                    measures=RENOVATION_MEASURES,
                    perm=Perm.facilities_read,
                )
            ]
            names |= territory_service.names(session, node_ids=[t.node_id for t, _s in aims])
        columns: dict[str, list[Any]] = {s.value: [] for s in ProjectState}
        for project in projects:
            columns[project.state.value].append(project)
        spans = {r.community_id: len(r.renovated) for r in three}
        return pages.render(
            request,
            "renovation.html",
            principal=principal,
            columns=columns,
            progress=[(r, spans.get(r.community_id, 0)) for r in year],
            aims=aims,
            may_targets=principal.holds(Perm.targets_read),
            names=names,
            communities=communities,
            chosen=community,
            courtyards=courtyards,
            items=[(f"{g.code}.{i.code}", i.name) for g, i in book.items()],
            today=today,
            words=renovation_words(request),
            may_plan=principal.holds(Perm.renovation_manage),
        )

    @app.get("/facilities/renovation/{project_id}", include_in_schema=False)
    def renovation_project(
        request: Request,
        project_id: int,
        principal: Principal = Depends(pages.viewer(Perm.facilities_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                project = renovation.get_visible_or_raise(
                    session, actor=principal, project_id=project_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{project_id}")
            meetings = renovation.consultations(session, project=project)
            entries = renovation.timeline(session, project=project)
            names = territory_service.names(session, node_ids=project.sites)
            book = service.checklist(session)
        return pages.render(
            request,
            "renovation_project.html",
            principal=principal,
            project=project,
            meetings=meetings,
            entries=entries,
            names=names,
            items={f"{g.code}.{i.code}": i.name for g, i in book.items()},
            actions=[a.value for a in renovation.actions_for(principal, project)],
            may_consult=principal.can(Perm.renovation_manage, project.path)
            and flows.next_state(project.state, flows.Action.consult) is not None,
            today=db_base.today(),
            words=renovation_words(request),
        )
