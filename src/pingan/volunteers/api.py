"""Volunteer service over HTTP: a sign-up and the volunteer's own page (by their key, without an
account), check-in and check-out on the spot; the community's desk — sign-ups to decide, teams,
activities, flagged check-ins; the street's programmes and recognition levels; hours as XLSX."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy.orm import Session

from pingan.api_common import (
    DB,
    PUBLIC,
    Actor,
    Page,
    Paging,
    StrictQuery,
    client_ip,
    needs,
    page_of,
)
from pingan.auth import audit
from pingan.auth.roles import Perm
from pingan.db.base import day_start, utcnow
from pingan.errors import NotFound, RateLimited
from pingan.i18n import N_, phrase
from pingan.limits import Window
from pingan.territory import service as territory_service
from pingan.volunteers import export, service
from pingan.volunteers.models import Activity, State, Volunteer
from pingan.volunteers.schemas import (
    AcceptIn,
    ActivityIn,
    ActivityOut,
    AttendanceOut,
    CheckIn,
    DecisionIn,
    Level,
    LevelsIn,
    OwnPage,
    ProgrammeIn,
    ProgrammeOut,
    SignedUp,
    SignUpIn,
    TeamIn,
    TeamOut,
    VolunteerOut,
)

router = APIRouter(dependencies=[StrictQuery], tags=["volunteers"])

SIGN_UPS_PER_HOUR = 10  # per address: a family signing up together, not a script
KEY_HEADER = "X-Volunteer-Key"
VolunteerKey = Annotated[str, Header(alias=KEY_HEADER, description="the key given at sign-up")]


def sign_up_window(request: Request) -> Window:
    found: Window = request.app.state.volunteer_sign_ups
    return found


def _out(
    volunteer: Volunteer, hours: service.Hours | None = None, level: str | None = None
) -> VolunteerOut:
    out = VolunteerOut.model_validate(volunteer)
    if hours is not None:
        out.hours = hours.total
    out.level = level
    return out


def activity_out(
    activity: Activity, turnout: tuple[int, int] = (0, 0), *, with_code: bool = False
) -> ActivityOut:
    out = ActivityOut.model_validate(activity)
    out.signed_up, out.checked_in = turnout
    out.code = activity.code if with_code else None
    return out


# --- without an account: sign up, the own page, on the spot ------------------------------------


@router.post(
    "/public/volunteers",
    response_model=SignedUp,
    status_code=201,
    openapi_extra=needs(PUBLIC),
)
def sign_up(request: Request, data: SignUpIn, session: DB) -> SignedUp:
    """Sign up for a programme from the phone: pending until the community confirms. The key in
    the answer opens the volunteer's own page; it is shown once."""
    window = sign_up_window(request)
    ip = client_ip(request)
    wait = window.wait_s(ip)
    if wait is not None:
        raise RateLimited("volunteer_rate", seconds=wait, headers={"Retry-After": str(wait)})
    window.hit(ip)
    volunteer, key = service.sign_up(session, data=data)
    return SignedUp(id=volunteer.id, state=volunteer.state, key=key)


def own_page(session: Session, volunteer: Volunteer) -> OwnPage:
    served = service.hours(session, volunteers=[volunteer])[volunteer.id]
    ladder = service.levels(session)
    reached = service.level_of(served.total, ladder)
    ahead = [lv for lv in ladder if lv.hours > served.total]
    coming = service.activities(session, within=volunteer.path, since=utcnow(), limit=50)
    turnout = service.turnout(session, activity_ids=[a.id for a in coming])
    programme = service.programme_or_raise(session, programme_id=volunteer.programme_id)
    done = service.attendances(session, volunteer=volunteer)
    titles = service.titles(session, activity_ids=[a.activity_id for a in done])
    community = territory_service.names(session, node_ids=[volunteer.community_id])
    return OwnPage(
        volunteer=_out(volunteer, served, reached.name if reached else None),
        programme=programme.name,
        community=community.get(volunteer.community_id, ""),
        hours_activities=served.activities,
        hours_patrol=served.patrol,
        next_level=Level(name=ahead[0].name, hours=ahead[0].hours) if ahead else None,
        attendances=[
            AttendanceOut.model_validate(a).model_copy(
                update={"activity": titles.get(a.activity_id, "")}
            )
            for a in done
        ],
        activities=[
            activity_out(a, turnout.get(a.id, (0, 0)))
            for a in coming
            if not a.cancelled and volunteer.state == State.confirmed
        ],
    )


@router.get("/public/volunteers/me", response_model=OwnPage, openapi_extra=needs(PUBLIC))
def get_own(key: VolunteerKey, session: DB) -> OwnPage:
    """The volunteer's own page: their hours and level, what they did, what is coming."""
    return own_page(session, service.by_key_or_raise(session, key=key))


@router.post(
    "/public/volunteers/me/activities/{activity_id}",
    response_model=AttendanceOut,
    openapi_extra=needs(PUBLIC),
)
def join_activity(activity_id: int, key: VolunteerKey, session: DB) -> AttendanceOut:
    """Sign up for an activity of one's community that has not ended."""
    volunteer = service.by_key_or_raise(session, key=key)
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise NotFound(what=phrase(N_("志愿活动 {n}"), n=activity_id))
    return AttendanceOut.model_validate(
        service.join(session, volunteer=volunteer, activity=activity)
    )


@router.post(
    "/public/volunteers/me/checks", response_model=AttendanceOut, openapi_extra=needs(PUBLIC)
)
def check(data: CheckIn, key: VolunteerKey, session: DB) -> AttendanceOut:
    """Check in on the spot with the activity's code (and the phone's position), or out."""
    volunteer = service.by_key_or_raise(session, key=key)
    return AttendanceOut.model_validate(service.check(session, volunteer=volunteer, data=data))


# --- the community's desk -----------------------------------------------------------------------


@router.get(
    "/volunteers", response_model=Page[VolunteerOut], openapi_extra=needs(Perm.volunteers_read)
)
def list_volunteers(
    actor: Actor,
    session: DB,
    paging: Paging,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
    programme_id: int | None = None,
    state: State | None = None,
    q: Annotated[str | None, Query(max_length=50, description="name, or the whole phone")] = None,
) -> Page[VolunteerOut]:
    """Volunteers in scope with their hours (all time) and level; phones masked."""
    path = territory_service.path_within(session, actor=actor, node_id=within)
    rows, total = service.get_all(
        session,
        actor=actor,
        filters=service.Filters(within=path, programme_id=programme_id, state=state, q=q),
        limit=paging.limit,
        offset=paging.offset,
    )
    served = service.hours(session, volunteers=rows)
    ladder = service.levels(session)
    out = []
    for v in rows:
        reached = service.level_of(served[v.id].total, ladder)
        out.append(_out(v, served[v.id], reached.name if reached else None))
    return page_of(out, total, paging)


@router.post(
    "/volunteers/{volunteer_id}/decision",
    response_model=VolunteerOut,
    openapi_extra=needs(Perm.volunteers_manage),
)
def decide(volunteer_id: int, data: DecisionIn, actor: Actor, session: DB) -> VolunteerOut:
    """Confirm a sign-up (into a team), refuse it, or record that a volunteer left."""
    volunteer = service.get_visible_or_raise(session, actor=actor, volunteer_id=volunteer_id)
    return _out(service.decide(session, actor=actor, volunteer=volunteer, data=data))


@router.get(
    "/volunteer-programmes",
    response_model=list[ProgrammeOut],
    openapi_extra=needs(PUBLIC),
)
def list_programmes(session: DB) -> list[ProgrammeOut]:
    """The street's programmes (the sign-up page lists them)."""
    return [ProgrammeOut.model_validate(p) for p in service.programmes(session, active_only=True)]


@router.post(
    "/volunteer-programmes",
    response_model=ProgrammeOut,
    status_code=201,
    openapi_extra=needs(Perm.volunteers_programmes),
)
def create_programme(data: ProgrammeIn, actor: Actor, session: DB) -> ProgrammeOut:
    """A programme the street adds beside 红袖套, 蓝马甲 and 橙丝带."""
    return ProgrammeOut.model_validate(
        service.create_programme(
            session, actor=actor, code=data.code, name=data.name, description=data.description
        )
    )


@router.get(
    "/volunteer-teams", response_model=list[TeamOut], openapi_extra=needs(Perm.volunteers_read)
)
def list_teams(actor: Actor, session: DB) -> list[TeamOut]:
    return [TeamOut.model_validate(t) for t in service.teams(session, actor=actor)]


@router.post(
    "/volunteer-teams",
    response_model=TeamOut,
    status_code=201,
    openapi_extra=needs(Perm.volunteers_manage),
)
def create_team(data: TeamIn, actor: Actor, session: DB) -> TeamOut:
    return TeamOut.model_validate(service.create_team(session, actor=actor, data=data))


@router.get(
    "/volunteer-activities",
    response_model=list[ActivityOut],
    openapi_extra=needs(Perm.volunteers_read),
)
def list_activities(
    actor: Actor,
    session: DB,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
    since: date | None = None,
    until: date | None = None,
) -> list[ActivityOut]:
    """Activities in scope (at most 200), with how many signed up and checked in; their codes to
    those who run them."""
    path = territory_service.path_within(session, actor=actor, node_id=within)
    rows = service.activities(
        session,
        actor=actor,
        within=path,
        since=day_start(since) if since else None,
        until=day_start(until) if until else None,
    )
    turnout = service.turnout(session, activity_ids=[a.id for a in rows])
    return [
        activity_out(
            a,
            turnout.get(a.id, (0, 0)),
            with_code=actor.can(Perm.volunteers_manage, a.path),
        )
        for a in rows
    ]


@router.post(
    "/volunteer-activities",
    response_model=ActivityOut,
    status_code=201,
    openapi_extra=needs(Perm.volunteers_manage),
)
def create_activity(data: ActivityIn, actor: Actor, session: DB) -> ActivityOut:
    """An activity at a place and time; its six-digit code is shown on the spot for check-in."""
    return activity_out(service.create_activity(session, actor=actor, data=data), with_code=True)


@router.get(
    "/volunteer-activities/{activity_id}/attendances",
    response_model=list[AttendanceOut],
    openapi_extra=needs(Perm.volunteers_read),
)
def activity_attendances(activity_id: int, actor: Actor, session: DB) -> list[AttendanceOut]:
    activity = service.activity_visible_or_raise(session, actor=actor, activity_id=activity_id)
    return [
        AttendanceOut.model_validate(a) for a in service.attendances(session, activity=activity)
    ]


@router.post(
    "/volunteer-attendances/{attendance_id}/decision",
    response_model=AttendanceOut,
    openapi_extra=needs(Perm.volunteers_manage),
)
def decide_attendance(
    attendance_id: int, data: AcceptIn, actor: Actor, session: DB
) -> AttendanceOut:
    """Accept a flagged check-in (it counts; never checked out, to the activity's end) or refuse
    it (it counts nothing)."""
    row = service.attendance_visible_or_raise(session, actor=actor, attendance_id=attendance_id)
    return AttendanceOut.model_validate(
        service.decide_attendance(session, actor=actor, attendance=row, accept=data.accept)
    )


@router.get(
    "/volunteer-levels", response_model=list[Level], openapi_extra=needs(Perm.volunteers_read)
)
def get_levels(actor: Actor, session: DB) -> list[Level]:
    return [Level(name=lv.name, hours=lv.hours) for lv in service.levels(session)]


@router.put(
    "/volunteer-levels",
    response_model=list[Level],
    openapi_extra=needs(Perm.volunteers_programmes),
)
def put_levels(data: LevelsIn, actor: Actor, session: DB) -> list[Level]:
    """The recognition levels by service hours (the national star ratings by default)."""
    found = service.set_levels(
        session, actor=actor, wanted=[(lv.name, lv.hours) for lv in data.levels]
    )
    return [Level(name=lv.name, hours=lv.hours) for lv in found]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/volunteers/hours.xlsx", response_class=Response, openapi_extra=needs(Perm.volunteers_read)
)
def hours_xlsx(
    actor: Actor,
    session: DB,
    start: Annotated[date | None, Query(description="First day (default: 1 January)")] = None,
    end: Annotated[date | None, Query(description="Last day (default: today)")] = None,
    within: Annotated[int | None, Query(description="Only this node's subtree")] = None,
) -> Response:
    """Confirmed volunteers' service hours in a period, one row each, for the volunteer service
    systems the street reports to. The phone is whole for those who may read phones (the export
    is recorded in the audit log), masked otherwise."""
    path = territory_service.path_within(session, actor=actor, node_id=within)
    span = export.span_of(start, end)
    data, rows = export.hours_workbook(session, actor=actor, span=span, within=path)
    audit.record(
        session,
        action="export",
        entity="volunteers",
        scope_path=path,
        note=f"hours.xlsx {span[0].isoformat()}..{span[1].isoformat()}",
        after={"rows": rows, "phones": "whole" if export.whole_phones(actor, path) else "masked"},
    )
    name = f"volunteer-hours-{span[0].isoformat()}-{span[1].isoformat()}.xlsx"
    return Response(
        data,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
