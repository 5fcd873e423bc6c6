"""Renovation of old courtyards (老旧院落有机更新): projects over one courtyard or several, the
residents' consultation before any works (先自治后整治), the stages with their dates and photos
(flows.py), and, once accepted, the register items the works brought. Flushes only; the caller
commits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import today, utcnow
from pingan.db.paging import paginate
from pingan.errors import Conflict, Invalid, NotFound
from pingan.facilities import flows
from pingan.facilities import service as facility_service
from pingan.facilities.flows import Action
from pingan.facilities.models import (
    PROJECT_STATE_LABEL,
    Consultation,
    Decision,
    ItemStatus,
    ProjectEntry,
    ProjectPhoto,
    ProjectState,
    RenovationCategory,
    RenovationProject,
    Utility,
)
from pingan.facilities.schemas import ConsultationIn, ProjectIn
from pingan.i18n import N_, Phrase, phrase
from pingan.photos import Document, Photo
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, TerritoryNode, ancestor_id

# 民法典第二百七十八条: rebuilding and renovation are decided by owners of two thirds taking part,
# and three quarters of those taking part agreeing (counted here by households).
TAKE_PART = (2, 3)
AGREE = (3, 4)


def _what(project_id: int) -> Phrase:
    return phrase(N_("改造项目 {n}"), n=project_id)


def _sites(session: Session, actor: Principal, ids: Sequence[int]) -> list[TerritoryNode]:
    """The project's courtyards: sites the actor may renovate; one that is not is a 404."""
    out = []
    for site_id in dict.fromkeys(ids):
        node = territory_service.get(session, node_id=site_id)
        if node is None or node.kind != NodeKind.site or not actor.sees(node.path):
            raise NotFound(what=phrase(N_("小区/单位 {n}"), n=site_id))
        actor.require(Perm.renovation_manage, node.path, node.name)
        out.append(node)
    return out


def _home(session: Session, sites: list[TerritoryNode]) -> TerritoryNode:
    """The node a project belongs to: the deepest one holding all its courtyards (the courtyard
    itself, their grid, community or street), so that whoever sees them all sees it."""
    parts = [s.path.strip("/").split("/") for s in sites]
    common: list[str] = []
    for level in zip(*parts, strict=False):
        if len(set(level)) > 1:
            break
        common.append(level[0])
    found = territory_service.get(session, node_id=int(common[-1])) if common else None
    if found is None:
        raise Invalid("project_sites", field="sites")
    return found


def _check(session: Session, data: ProjectIn, sites: list[TerritoryNode]) -> None:
    book = facility_service.checklist(session)
    for n, code in enumerate(data.items):
        item = book.item(code)
        if item is None or not any(item.applies(facility_service.site_type(s)) for s in sites):
            raise Invalid("facility_item", field=f"items.{n}", item=code)
    if data.utilities and RenovationCategory.basic not in data.categories:
        raise Invalid("project_utilities", field="utilities")
    funded = sum(f.yuan for f in data.funding)
    if funded > data.budget_yuan:
        raise Invalid("project_funding", field="funding", funded=funded, budget=data.budget_yuan)
    if data.planned_on > today():
        raise Invalid("project_date", field="planned_on")


def create(session: Session, *, actor: Principal, data: ProjectIn) -> RenovationProject:
    sites = _sites(session, actor, data.sites)
    _check(session, data, sites)
    home = _home(session, sites)
    project = RenovationProject(
        name=data.name.strip(),
        node_id=home.id,
        path=home.path,
        sites=[s.id for s in sites],
        categories=[c.value for c in dict.fromkeys(data.categories)],
        works=data.works.strip(),
        utilities=[u.value for u in dict.fromkeys(data.utilities)],
        items=list(dict.fromkeys(data.items)),
        budget_yuan=data.budget_yuan,
        funding=[f.model_dump() for f in data.funding],
        state=ProjectState.planned,
        planned_on=data.planned_on,
        created_by=actor.actor,
        updated_at=utcnow(),
        version=1,
    )
    session.add(project)
    session.flush()
    _entry(session, project, actor, "created", None, data.planned_on)
    return project


def _entry(
    session: Session,
    project: RenovationProject,
    actor: Principal,
    action: str,
    before: ProjectState | None,
    on: date,
    note: str | None = None,
    at: datetime | None = None,
) -> ProjectEntry:
    entry = ProjectEntry(
        project_id=project.id,
        at=at or utcnow(),
        on=on,
        actor=actor.actor,
        action=action,
        from_state=before.value if before else None,
        to_state=project.state.value,
        note=note,
    )
    session.add(entry)
    session.flush()
    return entry


def get_visible_or_raise(
    session: Session, *, actor: Principal, project_id: int
) -> RenovationProject:
    project = session.get(RenovationProject, project_id)
    if project is None or not actor.can(Perm.facilities_read, project.path):
        raise NotFound(what=_what(project_id))
    return project


def scope_clause(actor: Principal) -> ColumnElement[bool]:
    return actor.filter(RenovationProject.path, Perm.facilities_read)


def get_all(
    session: Session,
    *,
    actor: Principal,
    within: str | None = None,
    state: ProjectState | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[RenovationProject], int]:
    stmt = select(RenovationProject).where(scope_clause(actor))
    if within:
        stmt = stmt.where(RenovationProject.path.startswith(within, autoescape=True))
    if state is not None:
        stmt = stmt.where(RenovationProject.state == state)
    return paginate(
        session,
        stmt,
        order_by=(RenovationProject.planned_on.desc(), RenovationProject.id.desc()),
        limit=limit,
        offset=offset,
    )


def actions_for(actor: Principal, project: RenovationProject) -> list[Action]:
    if not actor.can(Perm.renovation_manage, project.path):
        return []
    return flows.allowed(project.state)


# --- the residents' consultation ----------------------------------------------------------------


def consult(
    session: Session,
    *,
    actor: Principal,
    project: RenovationProject,
    data: ConsultationIn,
    minutes: Document,
) -> Consultation:
    """The residents' meeting, with its minutes. The numbers must add up (no more taking part
    than households, no more votes than those taking part); "agreed" must have the Civil Code's
    majorities. The project is then consulted, and may go on only if they agreed."""
    actor.require(Perm.renovation_manage, project.path, _what(project.id))
    target = flows.next_state(project.state, Action.consult)
    if target is None:
        raise Conflict(
            "project_move",
            field="action",
            action=flows.ACTION_LABEL[Action.consult],
            state=PROJECT_STATE_LABEL[project.state],
        )
    if data.present > data.households:
        raise Invalid("consultation_present", field="present", households=data.households)
    votes = data.votes_for + data.votes_against + data.abstained
    if votes > data.present:
        raise Invalid("consultation_votes", field="votes_for", votes=votes, present=data.present)
    if data.decision == Decision.agreed and not (
        data.present * TAKE_PART[1] >= data.households * TAKE_PART[0]
        and data.votes_for * AGREE[1] >= data.present * AGREE[0]
    ):
        raise Invalid("consultation_majority", field="decision")
    if data.held_on > today() or data.held_on < project.planned_on:
        raise Invalid("project_date", field="held_on")
    row = Consultation(
        project_id=project.id,
        held_on=data.held_on,
        households=data.households,
        present=data.present,
        votes_for=data.votes_for,
        votes_against=data.votes_against,
        abstained=data.abstained,
        decision=data.decision,
        note=data.note,
        minutes=minutes.data,
        minutes_type=minutes.content_type,
        minutes_sha256=hashlib.sha256(minutes.data).hexdigest(),
        recorded_by=actor.actor,
        recorded_at=utcnow(),
    )
    session.add(row)
    before = project.state
    project.state = target
    project.consulted_on = data.held_on
    _flush(session)
    _entry(session, project, actor, Action.consult.value, before, data.held_on, data.note)
    return row


def consultations(session: Session, *, project: RenovationProject) -> list[Consultation]:
    return list(
        session.scalars(
            select(Consultation)
            .where(Consultation.project_id == project.id)
            .order_by(Consultation.held_on, Consultation.id)
        )
    )


def consultation_or_raise(
    session: Session, *, project: RenovationProject, consultation_id: int
) -> Consultation:
    row = session.get(Consultation, consultation_id)
    if row is None or row.project_id != project.id:
        raise NotFound(what=phrase(N_("议事记录 {n}"), n=consultation_id))
    return row


def agreed(session: Session, *, project: RenovationProject) -> bool:
    """The residents' latest word on the project was yes."""
    found = consultations(session, project=project)
    return bool(found) and found[-1].decision == Decision.agreed


# --- the stages ---------------------------------------------------------------------------------


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise Conflict("project_changed", field="version") from exc


def move(
    session: Session,
    *,
    actor: Principal,
    project: RenovationProject,
    action: Action,
    on: date | None = None,
    note: str | None = None,
    photos: Sequence[Photo] = (),
    expected_version: int | None = None,
    at: datetime | None = None,
) -> RenovationProject:
    """Take the project to its next stage on the day it happened. Approval and works need the
    residents' agreement recorded; acceptance brings the register the items the works made."""
    actor.require(Perm.renovation_manage, project.path, _what(project.id))
    if action == Action.consult:
        raise Invalid("project_consult", field="action")
    if expected_version is not None and expected_version != project.version:
        raise Conflict("project_changed", field="version")
    target = flows.next_state(project.state, action)
    if target is None:
        raise Conflict(
            "project_move",
            field="action",
            action=flows.ACTION_LABEL[action],
            state=PROJECT_STATE_LABEL[project.state],
        )
    if action in (Action.approve, Action.start) and not agreed(session, project=project):
        raise Conflict("project_not_agreed", field="action")
    day = on or today()
    last = max(
        d
        for d in (
            project.planned_on,
            project.consulted_on,
            project.approved_on,
            project.works_on,
            project.accepted_on,
        )
        if d is not None
    )
    if day > today() or day < last:
        raise Invalid("project_date", field="on")
    before = project.state
    project.state = target
    if target in flows.STAGE_DATE:
        setattr(project, flows.STAGE_DATE[target], day)
    project.updated_at = at or utcnow()
    _flush(session)
    entry = _entry(session, project, actor, action.value, before, day, note, at)
    for photo in photos:
        session.add(
            ProjectPhoto(
                project_id=project.id,
                entry_id=entry.id,
                stage=target.value,
                data=photo.jpeg,
                width=photo.width,
                height=photo.height,
                created_at=entry.at,
            )
        )
    if target == ProjectState.accepted:
        _bring(session, actor=actor, project=project, on=day)
    session.flush()
    return project


def _bring(session: Session, *, actor: Principal, project: RenovationProject, on: date) -> None:
    """The register takes what the works brought: each of the project's items present at each
    of its courtyards it applies to (an item with a grid event still open stays a defect until
    that event is closed as verified)."""
    book = facility_service.checklist(session)
    for site_id in project.sites:
        site = territory_service.get(session, node_id=site_id)
        if site is None:
            continue
        facility_service.record(
            session,
            site=site,
            codes=[
                c
                for c in project.items
                if (item := book.item(c)) is not None
                and item.applies(facility_service.site_type(site))
            ],
            status=ItemStatus.present,
            on=on,
            by=actor.name,
            source="renovation",
        )


def timeline(
    session: Session, *, project: RenovationProject
) -> list[tuple[ProjectEntry, list[int]]]:
    entries = list(
        session.scalars(
            select(ProjectEntry)
            .where(ProjectEntry.project_id == project.id)
            .order_by(ProjectEntry.on, ProjectEntry.id)
        )
    )
    photos: dict[int, list[int]] = {}
    for photo_id, entry_id in session.execute(
        select(ProjectPhoto.id, ProjectPhoto.entry_id).where(ProjectPhoto.project_id == project.id)
    ):
        if entry_id is not None:
            photos.setdefault(int(entry_id), []).append(int(photo_id))
    return [(e, photos.get(e.id, [])) for e in entries]


def photo_or_raise(session: Session, *, project: RenovationProject, photo_id: int) -> ProjectPhoto:
    photo = session.get(ProjectPhoto, photo_id)
    if photo is None or photo.project_id != project.id:
        raise NotFound(what=phrase(N_("照片 {n}"), n=photo_id))
    return photo


# --- progress -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    community_id: int | None  # None: the street
    projects: int
    by_state: dict[str, int]
    renovated: set[int]  # courtyards whose works were accepted in the span


def renovated_sites(
    session: Session,
    *,
    actor: Principal,
    since: date | None = None,
    until: date | None = None,
    within: str | None = None,
    utilities: bool = False,
) -> dict[int, date]:
    """The courtyards renovated (their project's works accepted) within a span, with the day;
    with `utilities`, only those whose accepted projects together renovated water, power and gas
    (the day the last of the three was)."""
    stmt = select(RenovationProject).where(
        scope_clause(actor), RenovationProject.state.in_(list(flows.DONE))
    )
    if within:
        stmt = stmt.where(RenovationProject.path.startswith(within, autoescape=True))
    out: dict[int, date] = {}
    covered: dict[int, dict[str, date]] = {}
    for project in session.scalars(stmt):
        day = project.accepted_on
        if day is None or (since and day < since) or (until and day > until):
            continue
        for site_id in project.sites:
            if within and not _inside(session, site_id, within):
                continue
            out[site_id] = min(day, out.get(site_id, day))
            kinds = covered.setdefault(site_id, {})
            for kind in project.utilities:
                kinds[kind] = min(day, kinds.get(kind, day))
    if not utilities:
        return out
    every = {u.value for u in Utility}
    return {s: max(k.values()) for s, k in covered.items() if every <= set(k)}


def _inside(session: Session, site_id: int, within: str) -> bool:
    """A project of the street may span communities: each site is counted where it lies."""
    node = territory_service.get(session, node_id=site_id)
    return node is not None and node.path.startswith(within)


def progress(session: Session, *, actor: Principal, since: date, until: date) -> list[Progress]:
    """Per community, and for the street (community None): projects by stage, and courtyards
    renovated in the span (what the street's targets count)."""
    projects = session.scalars(select(RenovationProject).where(scope_clause(actor))).all()
    done = renovated_sites(session, actor=actor, since=since, until=until)
    community: dict[int, int | None] = {}
    for site_id in {s for p in projects for s in p.sites}:
        node = territory_service.get(session, node_id=site_id)
        community[site_id] = ancestor_id(node.path, NodeKind.community) if node else None
    rows: dict[int | None, Progress] = {}

    def row(key: int | None) -> Progress:
        return rows.setdefault(key, Progress(key, 0, {}, set()))

    for project in projects:
        for key in {*(community.get(s) for s in project.sites), None}:
            r = row(key)
            rows[key] = Progress(
                key,
                r.projects + 1,
                {**r.by_state, project.state.value: r.by_state.get(project.state.value, 0) + 1},
                r.renovated,
            )
    for site_id in done:
        for key in (community.get(site_id), None):
            row(key).renovated.add(site_id)
    return sorted(rows.values(), key=lambda p: (p.community_id is None, p.community_id or 0))
