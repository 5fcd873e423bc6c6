"""Physical defence: the checklist, each site's facility sheet and register, inspections from the
phone, their schedule, and the map layer of sites coloured by completeness."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response
from fastapi import UploadFile as Upload
from sqlalchemy.orm import Session

from pingan import geojson
from pingan.api_common import (
    DB,
    Actor,
    DetachedActor,
    MapCRS,
    Page,
    Paging,
    StrictQuery,
    document_response,
    form_json,
    in_transaction,
    jpeg_response,
    needs,
    page_of,
    read_document,
    read_photos,
)
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db import base as db_base
from pingan.errors import Invalid
from pingan.facilities import renovation, service
from pingan.facilities.checklist import Checklist
from pingan.facilities.flows import Action
from pingan.facilities.models import FacilitySite, Inspection, ProjectState, RenovationProject
from pingan.facilities.schemas import (
    PHOTOS_MAX,
    AnswerOut,
    ChangeOut,
    ChecklistIn,
    ChecklistOut,
    ConsultationIn,
    ConsultationOut,
    DueOut,
    EvidenceOut,
    InspectionDetail,
    InspectionIn,
    InspectionOut,
    ItemIn,
    ItemOut,
    LevelIn,
    MoveIn,
    ProgressOut,
    ProjectDetail,
    ProjectEntryOut,
    ProjectIn,
    ProjectOut,
    ScheduleRow,
    SheetOut,
)
from pingan.photos import DOCUMENT_MAX, MAX_BYTES
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.geo import CRS
from pingan.territory.models import TerritoryNode

router = APIRouter(dependencies=[StrictQuery], tags=["facilities"])

INSPECTION_BODY = PHOTOS_MAX * MAX_BYTES + 256 * 1024
ITEM_BODY = 4 * MAX_BYTES + 64 * 1024
ITEM_PHOTOS = 4

PhotoFiles = Annotated[
    list[Upload] | None, File(description="Photos: JPEG, PNG or WebP, 8 MiB each")
]


# --- the checklist ------------------------------------------------------------------------------


@router.get(
    "/facility-checklist", response_model=ChecklistOut, openapi_extra=needs(Perm.facilities_read)
)
def get_checklist(_actor: Actor, session: DB) -> ChecklistOut:
    """The checklist in force (groups and items with their requirement, clause, site types,
    levels, evidence and grid event; the inspection kinds and their intervals) and its version:
    0 is the one pingan ships."""
    return ChecklistOut(
        version=service.checklist_version(session), checklist=service.checklist(session)
    )


@router.put(
    "/facility-checklist", response_model=ChecklistOut, openapi_extra=needs(Perm.facilities_manage)
)
def put_checklist(data: ChecklistIn, actor: Actor, session: DB) -> ChecklistOut:
    """Replace the checklist (a street admin's): checked whole, kept as a new version."""
    row = service.save_checklist(session, actor=actor, data=data.checklist, note=data.note)
    return ChecklistOut(version=row.id, checklist=Checklist.model_validate(row.body))


# --- a site's sheet -----------------------------------------------------------------------------


def _sheet_out(session: Session, site: TerritoryNode, sheet: FacilitySite) -> SheetOut:
    items = service.sheet_items(session, site=site, sheet=sheet)
    due = service.due_for(session, site=site)
    return SheetOut(
        site_id=site.id,
        name=site.name,
        site_type=site.site_type,
        community_id=sheet.community_id,
        level=sheet.level,
        required=sheet.required,
        present=sheet.present,
        defects=sheet.defects,
        completeness=sheet.completeness,
        bundles=sheet.bundles,
        checklist_version=service.checklist_version(session),
        items=[
            ItemOut(
                code=i.code,
                group=i.group.code,
                name=i.item.name,
                requirement=i.item.requirement,
                clause=i.item.clause,
                required=i.required,
                counted=i.item.counted,
                status=i.row.status if i.row else "unknown",
                defect=bool(i.row and i.row.defect_incident_id),
                incident_id=i.row.defect_incident_id if i.row else None,
                count=i.row.count if i.row else None,
                details=i.row.details if i.row else None,
                note=i.row.note if i.row else None,
                checked_on=i.row.checked_on if i.row else None,
                checked_by=i.row.checked_by if i.row else None,
                source=i.row.source if i.row else None,
                photos=i.photos,
                evidence=[EvidenceOut(**vars(e)) for e in i.evidence],
            )
            for i in items
        ],
        due=[
            DueOut(
                kind=d.kind.code,
                name=d.kind.name,
                last_at=d.last_at,
                due_on=d.due_on,
                overdue=d.overdue,
            )
            for d in due
        ],
    )


@router.get(
    "/facilities/sites/{site_id}",
    response_model=SheetOut,
    openapi_extra=needs(Perm.facilities_read),
)
def get_sheet(site_id: int, actor: Actor, session: DB) -> SheetOut:
    """A site's facility sheet: every item of its checklist with what the register holds, the
    photos, the devices and checkpoints that speak for it, and the inspections due."""
    site = service.site_visible_or_raise(session, actor=actor, site_id=site_id)
    return _sheet_out(session, site, service.sheet_of(session, site=site, keep=False))


@router.put(
    "/facilities/sites/{site_id}/level",
    response_model=SheetOut,
    openapi_extra=needs(Perm.facilities_write),
)
def put_level(site_id: int, data: LevelIn, actor: Actor, session: DB) -> SheetOut:
    """The protection level (GB/T 21741-2021 §6–§8) the site is held to."""
    site = service.site_visible_or_raise(
        session, actor=actor, site_id=site_id, perm=Perm.facilities_write
    )
    sheet = service.set_level(session, actor=actor, site=site, level=data.level)
    return _sheet_out(session, site, sheet)


ItemField = Annotated[str, Form(description="The entry as JSON (ItemIn)")]


@router.put(
    "/facilities/sites/{site_id}/items/{code}",
    response_model=SheetOut,
    openapi_extra=needs(Perm.facilities_write, body=ITEM_BODY),
)
async def put_item(
    request: Request,
    site_id: int,
    code: Annotated[str, "group.item"],
    actor: DetachedActor,
    item: ItemField,
    photos: PhotoFiles = None,
) -> SheetOut:
    """Keep one register entry: present, missing, broken or not applicable, its count and
    details, with photos. An item whose grid event is still open stays a defect (409)."""
    data: ItemIn = form_json(ItemIn, item, "item")
    kept = await read_photos(photos, ITEM_PHOTOS)

    def save(session: Session) -> SheetOut:
        site = service.site_visible_or_raise(
            session, actor=actor, site_id=site_id, perm=Perm.facilities_write
        )
        service.set_item(session, actor=actor, site=site, code=code, data=data, photos=kept)
        return _sheet_out(session, site, service.sheet_of(session, site=site))

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/facilities/sites/{site_id}/photos/{photo_id}",
    response_class=Response,
    openapi_extra=needs(Perm.facilities_read),
)
def facility_photo(site_id: int, photo_id: int, actor: Actor, session: DB) -> Response:
    site = service.site_visible_or_raise(session, actor=actor, site_id=site_id)
    return jpeg_response(service.photo_or_raise(session, site=site, photo_id=photo_id).data)


# --- inspections --------------------------------------------------------------------------------


def _inspection_detail(session: Session, inspection: Inspection) -> InspectionDetail:
    answers = service.answers_of(session, inspection=inspection)
    photos = service.answer_photos(session, answer_ids=[a.id for a in answers])
    return InspectionDetail(
        **InspectionOut.model_validate(inspection).model_dump(),
        answers=[
            AnswerOut.model_validate(a).model_copy(update={"photos": photos.get(a.id, [])})
            for a in answers
        ],
        changes=[
            ChangeOut(code=c.code, before=c.before, after=c.after)
            for c in service.changes(session, inspection=inspection)
        ],
        opened=sorted({a.incident_id for a in answers if a.incident_id is not None}),
    )


InspectionField = Annotated[str, Form(description="The inspection as JSON (InspectionIn)")]


@router.post(
    "/inspections",
    response_model=InspectionDetail,
    status_code=201,
    openapi_extra=needs(Perm.facilities_inspect, body=INSPECTION_BODY),
)
async def post_inspection(
    request: Request,
    response: Response,
    actor: DetachedActor,
    inspection: InspectionField,
    photos: PhotoFiles = None,
) -> InspectionDetail:
    """An inspection from the phone: every item of the site's checklist for its kind answered
    (each answer's `photos` are indices of the uploaded files). Each failed item opens a grid
    event and is a defect until the event is closed as verified. Sent again with the same
    `client_key` (the phone lost the answer), the first is returned with 200."""
    data: InspectionIn = form_json(InspectionIn, inspection, "inspection")
    kept = await read_photos(photos, PHOTOS_MAX)

    def save(session: Session) -> InspectionDetail:
        found, new = service.inspect(session, actor=actor, data=data, photos=kept)
        if not new:
            response.status_code = 200
        return _inspection_detail(session, found)

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/inspections", response_model=Page[InspectionOut], openapi_extra=needs(Perm.facilities_read)
)
def list_inspections(
    actor: Actor,
    session: DB,
    paging: Paging,
    site_id: int | None = None,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
) -> Page[InspectionOut]:
    path = territory_service.path_within(session, actor=actor, node_id=within)
    rows, total = service.inspections(
        session,
        actor=actor,
        site_id=site_id,
        within=path,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([InspectionOut.model_validate(r) for r in rows], total, paging)


@router.get(
    "/inspections/schedule",
    response_model=list[ScheduleRow],
    openapi_extra=needs(Perm.facilities_read),
)
def inspection_schedule(
    actor: Actor,
    session: DB,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
    overdue: bool = False,
) -> list[ScheduleRow]:
    """Each site's next inspection of each kind; `overdue` keeps the late ones (the community's
    desk)."""
    path = territory_service.path_within(session, actor=actor, node_id=within)
    return [
        ScheduleRow(
            site_id=d.site.id,
            site=d.site.name,
            community_id=service.community_of(d.site),
            site_type=d.site.site_type,
            kind=d.kind.code,
            last_at=d.last_at,
            due_on=d.due_on,
            overdue=d.overdue,
        )
        for d in service.schedule(session, actor=actor, within=path, overdue_only=overdue)
    ]


@router.get(
    "/inspections/{inspection_id}",
    response_model=InspectionDetail,
    openapi_extra=needs(Perm.facilities_read),
)
def get_inspection(inspection_id: int, actor: Actor, session: DB) -> InspectionDetail:
    """An inspection with its answers, the grid events it opened, and what changed since the
    inspection of the same kind before it."""
    found = service.inspection_visible_or_raise(session, actor=actor, inspection_id=inspection_id)
    return _inspection_detail(session, found)


# --- the map ------------------------------------------------------------------------------------


@router.get("/map/facilities", tags=["map"], openapi_extra=needs(Perm.facilities_read))
def map_facilities(
    actor: Actor,
    session: DB,
    crs: MapCRS = CRS.wgs84,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
) -> dict[str, Any]:
    """Sites you see as points, with their physical-defence completeness (the share of the items
    their type and level require that are present), open defects and bundles."""
    path = territory_service.path_within(session, actor=actor, node_id=within)
    return geojson.collection(
        [
            geojson.feature(
                geojson.point(*geo.from_wgs84(site.lon, site.lat, crs)),
                id=site.id,
                name=site.name,
                site_type=site.site_type,
                level=sheet.level,
                completeness=sheet.completeness,
                required=sheet.required,
                present=sheet.present,
                defects=sheet.defects,
                bundles=sheet.bundles,
            )
            for site, sheet in service.sheets(session, actor=actor, within=path)
            if site.lon is not None and site.lat is not None
        ]
    )


# --- renovation projects ------------------------------------------------------------------------

CONSULTATION_BODY = DOCUMENT_MAX + 64 * 1024
MOVE_BODY = PHOTOS_MAX * MAX_BYTES + 64 * 1024


def _project_out(actor: Principal, project: RenovationProject) -> ProjectOut:
    out = ProjectOut.model_validate(project)
    out.actions = [a.value for a in renovation.actions_for(actor, project)]
    return out


def _project_detail(
    session: Session, actor: Principal, project: RenovationProject
) -> ProjectDetail:
    return ProjectDetail(
        **_project_out(actor, project).model_dump(),
        consultations=[
            ConsultationOut.model_validate(c)
            for c in renovation.consultations(session, project=project)
        ],
        timeline=[
            ProjectEntryOut.model_validate(e).model_copy(update={"photos": p})
            for e, p in renovation.timeline(session, project=project)
        ],
    )


@router.post(
    "/renovations",
    response_model=ProjectDetail,
    status_code=201,
    openapi_extra=needs(Perm.renovation_manage),
)
def create_project(data: ProjectIn, actor: Actor, session: DB) -> ProjectDetail:
    """A renovation project over one courtyard or several, planned: its categories, works,
    the register items it will bring, budget and funding."""
    project = renovation.create(session, actor=actor, data=data)
    return _project_detail(session, actor, project)


@router.get(
    "/renovations", response_model=Page[ProjectOut], openapi_extra=needs(Perm.facilities_read)
)
def list_projects(
    actor: Actor,
    session: DB,
    paging: Paging,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
    state: ProjectState | None = None,
) -> Page[ProjectOut]:
    path = territory_service.path_within(session, actor=actor, node_id=within)
    rows, total = renovation.get_all(
        session, actor=actor, within=path, state=state, limit=paging.limit, offset=paging.offset
    )
    return page_of([_project_out(actor, r) for r in rows], total, paging)


@router.get(
    "/renovations/progress",
    response_model=list[ProgressOut],
    openapi_extra=needs(Perm.facilities_read),
)
def project_progress(
    actor: Actor,
    session: DB,
    since: Annotated[date | None, Query(description="Renovated from (default: 1 January)")] = None,
    until: Annotated[date | None, Query(description="Renovated until (default: today)")] = None,
) -> list[ProgressOut]:
    """Per community and for the street (community_id null): projects by stage and courtyards
    renovated in the span."""
    today = db_base.today()
    span = (since or date(today.year, 1, 1), until or today)
    if span[0] > span[1]:
        raise Invalid("validation", field="since", fields="since, until")
    rows = renovation.progress(session, actor=actor, since=span[0], until=span[1])
    names = territory_service.names(
        session, node_ids=[r.community_id for r in rows if r.community_id]
    )
    return [
        ProgressOut(
            community_id=r.community_id,
            name=names.get(r.community_id, "") if r.community_id else None,
            projects=r.projects,
            by_state=r.by_state,
            renovated=len(r.renovated),
        )
        for r in rows
    ]


@router.get(
    "/renovations/{project_id}",
    response_model=ProjectDetail,
    openapi_extra=needs(Perm.facilities_read),
)
def get_project(project_id: int, actor: Actor, session: DB) -> ProjectDetail:
    project = renovation.get_visible_or_raise(session, actor=actor, project_id=project_id)
    return _project_detail(session, actor, project)


ConsultationField = Annotated[str, Form(description="The meeting as JSON (ConsultationIn)")]
MinutesFile = Annotated[Upload, File(description="The minutes: PDF, or a photo (JPEG, PNG, WebP)")]


@router.post(
    "/renovations/{project_id}/consultations",
    response_model=ProjectDetail,
    status_code=201,
    openapi_extra=needs(Perm.renovation_manage, body=CONSULTATION_BODY),
)
async def post_consultation(
    request: Request,
    project_id: int,
    actor: DetachedActor,
    consultation: ConsultationField,
    minutes: MinutesFile,
) -> ProjectDetail:
    """The residents' meeting before the works, with its minutes: households, those taking part,
    votes, the decision. "agreed" needs two thirds of households taking part and three quarters
    of them for (民法典第二百七十八条)."""
    data: ConsultationIn = form_json(ConsultationIn, consultation, "consultation")
    kept = await read_document(minutes, problem="project_minutes", field="minutes")

    def save(session: Session) -> ProjectDetail:
        project = renovation.get_visible_or_raise(session, actor=actor, project_id=project_id)
        renovation.consult(session, actor=actor, project=project, data=data, minutes=kept)
        return _project_detail(session, actor, project)

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/renovations/{project_id}/consultations/{consultation_id}/minutes",
    response_class=Response,
    openapi_extra=needs(Perm.facilities_read),
)
def consultation_minutes(
    project_id: int, consultation_id: int, actor: Actor, session: DB
) -> Response:
    project = renovation.get_visible_or_raise(session, actor=actor, project_id=project_id)
    row = renovation.consultation_or_raise(
        session, project=project, consultation_id=consultation_id
    )
    return document_response(row.minutes, row.minutes_type, f"minutes-{project.id}-{row.id}")


MoveField = Annotated[str, Form(description="The move as JSON (MoveIn)")]


@router.post(
    "/renovations/{project_id}/actions",
    response_model=ProjectDetail,
    openapi_extra=needs(Perm.renovation_manage, body=MOVE_BODY),
)
async def move_project(
    request: Request,
    project_id: int,
    actor: DetachedActor,
    move: MoveField,
    photos: PhotoFiles = None,
) -> ProjectDetail:
    """Take a project to its next stage (approve, start, accept, manage, drop) on the day it
    happened, with photos. Approval and works need the residents' agreement recorded; at
    acceptance the register takes the items the works brought."""
    data: MoveIn = form_json(MoveIn, move, "move")
    try:
        action = Action(data.action)
    except ValueError:
        raise Invalid(
            "project_action", field="move.action", actions=", ".join(a.value for a in Action)
        ) from None
    kept = await read_photos(photos, PHOTOS_MAX)

    def save(session: Session) -> ProjectDetail:
        project = renovation.get_visible_or_raise(session, actor=actor, project_id=project_id)
        renovation.move(
            session,
            actor=actor,
            project=project,
            action=action,
            on=data.on,
            note=data.note,
            photos=kept,
            expected_version=data.version,
        )
        return _project_detail(session, actor, project)

    return await in_transaction(request, save, actor=actor)


@router.get(
    "/renovations/{project_id}/photos/{photo_id}",
    response_class=Response,
    openapi_extra=needs(Perm.facilities_read),
)
def project_photo(project_id: int, photo_id: int, actor: Actor, session: DB) -> Response:
    project = renovation.get_visible_or_raise(session, actor=actor, project_id=project_id)
    return jpeg_response(
        renovation.photo_or_raise(session, project=project, photo_id=photo_id).data
    )
