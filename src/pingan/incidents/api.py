"""Grid incidents: the catalogue, reporting (staff and residents), the desk's list, one case with
its timeline and photos, the moves, the reporter's own case page, the streets and the Open311
clients' keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from sqlalchemy.orm import Session

from pingan import geojson
from pingan.api_common import (
    DB,
    PUBLIC,
    Actor,
    DetachedActor,
    MapCRS,
    Page,
    Paging,
    StrictQuery,
    client_ip,
    form_json,
    in_transaction,
    jpeg_response,
    needs,
    page_of,
    read_photos,
)
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.errors import Invalid, NotFound, RateLimited
from pingan.i18n import N_, phrase
from pingan.incidents import open311, service, streets
from pingan.incidents.catalogue import Catalogue
from pingan.incidents.flows import Action
from pingan.incidents.models import Channel, Incident, IncidentState
from pingan.incidents.schemas import (
    PHOTOS_MAX,
    ActIn,
    CatalogueIn,
    ClientIn,
    ClientIssued,
    ClientOut,
    EntryOut,
    IncidentDetail,
    IncidentOut,
    PublicCase,
    RateIn,
    Reported,
    ReportIn,
    StreetIn,
    StreetOut,
)
from pingan.limits import Window
from pingan.photos import MAX_BYTES
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.geo import CRS

router = APIRouter(dependencies=[StrictQuery], tags=["incidents"])

# A report's body: its fields and up to PHOTOS_MAX photos, each within the photo limit.
REPORT_BODY = PHOTOS_MAX * MAX_BYTES + 64 * 1024
READ = (Perm.incidents_read, Perm.incidents_streets, Perm.incidents_report)

# Public reports and ratings from one address: a neighbourhood's worth, not a flood.
PUBLIC_REPORTS_PER_HOUR = 20


def public_window(request: Request) -> Window:
    found: Window = request.app.state.public_reports
    return found


def _out(session: Session, actor: Principal, incident: Incident, photos: int = 0) -> IncidentOut:
    out = IncidentOut.model_validate(incident)
    out.photos = photos
    out.actions = service.actions_for(session, actor, incident)
    return out


def _detail(session: Session, actor: Principal, incident: Incident) -> IncidentDetail:
    entries = service.timeline(session, incident=incident)
    base = _out(session, actor, incident, sum(len(p) for _e, p in entries))
    timeline = [EntryOut.model_validate(e).model_copy(update={"photos": p}) for e, p in entries]
    visible = [d.id for d in service.duplicates_seen(session, actor=actor, incident=incident)]
    return IncidentDetail(**base.model_dump(), timeline=timeline, duplicates=visible)


ReportField = Annotated[str, Form(description="The report as JSON (ReportIn)")]
PhotoFiles = Annotated[
    list[UploadFile] | None,
    File(description="Up to 4 photos: JPEG, PNG or WebP, 8 MiB each"),
]


# --- the catalogue ------------------------------------------------------------------------------


@router.get("/incident-catalogue", openapi_extra=needs(PUBLIC))
def get_catalogue(session: DB) -> dict[str, Any]:
    """The event catalogue in force (categories and kinds with their conditions, handler, time
    limit and priority) and its version: 0 is the one pingan ships."""
    return {
        "version": service.catalogue_version(session),
        **service.catalogue(session).model_dump(mode="json"),
    }


@router.put("/incident-catalogue", openapi_extra=needs(Perm.incidents_manage))
def put_catalogue(data: CatalogueIn, actor: Actor, session: DB) -> dict[str, Any]:
    """Replace the catalogue (a street admin's): checked whole, kept as a new version."""
    catalogue = Catalogue.model_validate(data.model_dump(exclude={"note"}))
    row = service.save_catalogue(session, actor=actor, data=catalogue, note=data.note)
    return {"version": row.id, **catalogue.model_dump(mode="json")}


# --- reporting ----------------------------------------------------------------------------------


@router.get("/incidents/nearby", openapi_extra=needs(PUBLIC))
def nearby(
    session: DB,
    kind: Annotated[str, Query(max_length=64)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> list[dict[str, Any]]:
    """Open cases of this kind within 50 m reported in the last 72 hours: shown before a report
    is sent, so a neighbour can see it is known (no names, no words of other reporters)."""
    service.kind_or_raise(session, kind)
    return [
        {"id": d.id, "state": d.state.value, "reported_at": d.reported_at.isoformat()}
        for d in service.duplicates(session, kind=kind, lon=lon, lat=lat)
    ]


def _reported(session: Session, actor: Principal, incident: Incident) -> Reported:
    return Reported(**_detail(session, actor, incident).model_dump(), token=incident.token)


@router.post(
    "/incidents",
    response_model=Reported,
    status_code=201,
    openapi_extra=needs(Perm.incidents_report, body=REPORT_BODY),
)
async def report(
    request: Request, actor: DetachedActor, report: ReportField, photos: PhotoFiles = None
) -> Reported:
    """Report a case as staff: a grid officer's patrol find, a patrol member's, a call the centre
    took (with the caller's number), an alarm turned into a case (`alarm_id`), a missed
    checkpoint (`checkpoint_id`). Routed by its position to its grid and community."""
    data: ReportIn = form_json(ReportIn, report, "report")
    kept = await read_photos(photos, PHOTOS_MAX)

    def save(session: Session) -> Reported:
        incident = service.report(
            session, actor=actor, data=data, channel=service.channel_for(actor, data), photos=kept
        )
        return _reported(session, actor, incident)

    return await in_transaction(request, save, actor=actor)


PUBLIC_ACTOR = Principal(user_id=None, name="resident")


@router.post(
    "/public/incidents",
    response_model=Reported,
    status_code=201,
    openapi_extra=needs(PUBLIC, body=REPORT_BODY),
)
async def report_as_resident(
    request: Request, report: ReportField, photos: PhotoFiles = None
) -> Reported:
    """A resident's report from the phone page, without logging in. The answer's `token` opens
    the reporter's own case page; a number given (and `notify_sms`) is told of each change."""
    window = public_window(request)
    ip = client_ip(request)
    wait = window.wait_s(ip)
    if wait is not None:
        raise RateLimited("report_rate", seconds=wait, headers={"Retry-After": str(wait)})
    window.hit(ip)  # every attempt counts: a refused one costs the platform its photos too
    data: ReportIn = form_json(ReportIn, report, "report")
    if data.alarm_id is not None or data.checkpoint_id is not None:
        raise Invalid("validation", field="report.alarm_id", fields="alarm_id, checkpoint_id")
    kept = await read_photos(photos, PHOTOS_MAX)

    def save(session: Session) -> Reported:
        incident = service.report(
            session, actor=PUBLIC_ACTOR, data=data, channel=Channel.resident, photos=kept
        )
        return _reported(session, PUBLIC_ACTOR, incident)

    return await in_transaction(request, save)


# --- the desk -----------------------------------------------------------------------------------


@router.get("/incidents", response_model=Page[IncidentOut], openapi_extra=needs(*READ))
def list_incidents(
    actor: Actor,
    session: DB,
    paging: Paging,
    view: Annotated[
        str | None,
        Query(
            pattern="^(new|overdue|verify|open|mine)$",
            description="new: to accept · overdue · verify: done, to check · open · mine",
        ),
    ] = None,
    state: IncidentState | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    channel: Channel | None = None,
    within: Annotated[int | None, Query(description="Only cases in this node's subtree")] = None,
    assignee_user_id: int | None = None,
    street_line_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[IncidentOut]:
    path = territory_service.path_within(session, actor=actor, node_id=within)
    rows, total = service.get_all(
        session,
        actor=actor,
        filters=service.Filters(
            view=view,
            state=state,
            category=category,
            kind=kind,
            channel=channel,
            within_path=path,
            assignee_user_id=assignee_user_id,
            street_line_id=street_line_id,
            since=since,
            until=until,
        ),
        limit=paging.limit,
        offset=paging.offset,
    )
    counts = service.photo_count(session, incident_ids=[r.id for r in rows])
    return page_of([_out(session, actor, r, counts.get(r.id, 0)) for r in rows], total, paging)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, openapi_extra=needs(*READ))
def get_incident(incident_id: int, actor: Actor, session: DB) -> IncidentDetail:
    incident = service.get_visible_or_raise(session, actor=actor, incident_id=incident_id)
    return _detail(session, actor, incident)


@router.get("/map/incidents", tags=["map"], openapi_extra=needs(*READ))
def map_incidents(actor: Actor, session: DB, crs: MapCRS = CRS.wgs84) -> dict[str, Any]:
    """Open cases you see, as points: their age in days, whether overdue, their kind and state
    (the map colours them by age)."""
    now = utcnow()
    rows, _total = service.get_all(
        session, actor=actor, filters=service.Filters(view="open"), limit=5000
    )
    return geojson.collection(
        [
            geojson.feature(
                geojson.point(*geo.from_wgs84(i.lon, i.lat, crs)),
                id=i.id,
                kind=i.kind,
                state=i.state.value,
                priority=i.priority,
                age_days=round((now - i.reported_at).total_seconds() / 86400, 1),
                overdue=i.overdue_at is not None,
                address=i.address,
            )
            for i in rows
        ]
    )


@router.get(
    "/incidents/{incident_id}/photos/{photo_id}",
    response_class=Response,
    openapi_extra=needs(*READ),
)
def incident_photo(incident_id: int, photo_id: int, actor: Actor, session: DB) -> Response:
    incident = service.get_visible_or_raise(session, actor=actor, incident_id=incident_id)
    return jpeg_response(service.photo_or_raise(session, incident=incident, photo_id=photo_id).data)


ActField = Annotated[str, Form(description="The move as JSON (ActIn)")]


@router.post(
    "/incidents/{incident_id}/actions",
    response_model=IncidentDetail,
    openapi_extra=needs(
        Perm.incidents_dispatch,
        Perm.incidents_work,
        Perm.incidents_verify,
        Perm.incidents_supervise,
        Perm.incidents_read,
        Perm.incidents_streets,
        body=REPORT_BODY,
    ),
)
async def act(
    incident_id: int,
    request: Request,
    actor: DetachedActor,
    move: ActField,
    photos: PhotoFiles = None,
) -> IncidentDetail:
    """Move a case (accept, reject with a reason, merge, assign, send back, take, done with
    after-photos, verify, close, ask for or grant more time, supervise, note). A move its state
    does not allow is a 409; one you may not make a 403."""
    data: ActIn = form_json(ActIn, move, "move")
    kept = await read_photos(photos, PHOTOS_MAX)

    def save(session: Session) -> IncidentDetail:
        incident = service.get_visible_or_raise(session, actor=actor, incident_id=incident_id)
        service.act(
            session,
            actor=actor,
            incident=incident,
            action=data.action,
            note=data.note,
            reason=data.reason,
            assignee_user_id=data.assignee_user_id,
            assignee=data.assignee,
            target_id=data.target_id,
            days=data.days,
            photos=kept,
            expected_version=data.version,
        )
        return _detail(session, actor, incident)

    return await in_transaction(request, save, actor=actor)


# --- the reporter's own case --------------------------------------------------------------------


def _case_or_404(session: Session, token: str) -> Incident:
    incident = service.get_by_token(session, token=token) if len(token) <= 64 else None
    if incident is None:
        raise NotFound(what=phrase(N_("事件 {n}"), n="?"))
    return incident


@router.get("/public/incidents/{token}", response_model=PublicCase, openapi_extra=needs(PUBLIC))
def get_own_case(token: str, session: DB) -> PublicCase:
    """The reporter's own case, by the token their report was answered with: its steps and
    photos, no one's name or number. A report merged into another follows that one."""
    return service.public_case(session, incident=_case_or_404(session, token))


@router.get(
    "/public/incidents/{token}/photos/{photo_id}",
    response_class=Response,
    openapi_extra=needs(PUBLIC),
)
def own_case_photo(token: str, photo_id: int, session: DB) -> Response:
    """One of the photos the reporter's own case page shows: their own, and the after-photos of
    the work."""
    incident = _case_or_404(session, token)
    if photo_id not in service.public_photos(session, incident=incident):
        raise NotFound(what=phrase(N_("照片 {n}"), n=photo_id))
    return jpeg_response(service.photo(session, photo_id=photo_id).data)


@router.post(
    "/public/incidents/{token}/rating", response_model=PublicCase, openapi_extra=needs(PUBLIC)
)
def rate_own_case(token: str, data: RateIn, session: DB) -> PublicCase:
    """满意 / 基本满意 / 不满意; "not fixed" (`fixed: false`) reopens the case once, then returns
    it to the community."""
    incident = _case_or_404(session, token)
    service.rate(
        session,
        incident=incident,
        rating=data.rating,
        fixed=data.fixed,
        note=data.note,
        actor=PUBLIC_ACTOR,
    )
    return service.public_case(session, incident=incident)


@router.post(
    "/public/incidents/{token}/check", response_model=PublicCase, openapi_extra=needs(PUBLIC)
)
def check_own_case(token: str, data: RateIn, session: DB) -> PublicCase:
    """The reporter's own check of a case reported done: fixed (verified) or not (back to its
    handler)."""
    incident = _case_or_404(session, token)
    service.act(
        session,
        actor=PUBLIC_ACTOR,
        incident=incident,
        action=Action.verify if data.fixed else Action.not_fixed,
        note=data.note,
        by_reporter=True,
    )
    return service.public_case(session, incident=incident)


# --- streets and their chiefs -------------------------------------------------------------------


@router.get(
    "/street-lines",
    response_model=list[StreetOut],
    openapi_extra=needs(Perm.incidents_read, Perm.incidents_streets),
)
def list_streets(actor: Actor, session: DB) -> list[StreetOut]:
    """Streets and back alleys with their chiefs and officers."""
    return streets.outs(session, streets.get_all(session, actor=actor))


@router.post(
    "/street-lines",
    response_model=StreetOut,
    status_code=201,
    openapi_extra=needs(Perm.incidents_manage),
)
def create_street(data: StreetIn, actor: Actor, session: DB) -> StreetOut:
    return streets.outs(session, [streets.create(session, actor=actor, data=data)])[0]


@router.put(
    "/street-lines/{street_id}",
    response_model=StreetOut,
    openapi_extra=needs(Perm.incidents_manage),
)
def update_street(street_id: int, data: StreetIn, actor: Actor, session: DB) -> StreetOut:
    line = streets.get_visible_or_raise(session, actor=actor, street_id=street_id)
    return streets.outs(session, [streets.update(session, actor=actor, line=line, data=data)])[0]


@router.delete(
    "/street-lines/{street_id}", status_code=204, openapi_extra=needs(Perm.incidents_manage)
)
def delete_street(street_id: int, actor: Actor, session: DB) -> Response:
    line = streets.get_visible_or_raise(session, actor=actor, street_id=street_id)
    streets.delete(session, actor=actor, line=line)
    return Response(status_code=204)


# --- Open311 clients ----------------------------------------------------------------------------


@router.get(
    "/open311-clients", response_model=list[ClientOut], openapi_extra=needs(Perm.incidents_manage)
)
def list_clients(actor: Actor, session: DB) -> list[ClientOut]:
    """Applications allowed to post service requests, with their use."""
    return [ClientOut.model_validate(c) for c in open311.clients(session)]


@router.post(
    "/open311-clients",
    response_model=ClientIssued,
    status_code=201,
    openapi_extra=needs(Perm.incidents_manage),
)
def issue_client(data: ClientIn, actor: Actor, session: DB) -> ClientIssued:
    """A new client and its key, shown this once (only its hash is kept)."""
    client, key = open311.issue(session, actor=actor, name=data.name)
    return ClientIssued(**ClientOut.model_validate(client).model_dump(), api_key=key)


@router.post(
    "/open311-clients/{client_id}/revoke",
    response_model=ClientOut,
    openapi_extra=needs(Perm.incidents_manage),
)
def revoke_client(client_id: int, actor: Actor, session: DB) -> ClientOut:
    client = open311.client_or_raise(session, client_id=client_id)
    open311.revoke(session, client=client)
    return ClientOut.model_validate(client)
