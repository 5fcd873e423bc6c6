"""Human defence: teams, rosters, meetings, routes with signed checkpoint codes, patrol runs."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from pingan import geojson
from pingan.alarms import service as alarm_service
from pingan.alarms.notify import feed
from pingan.alarms.rules import RuleBook
from pingan.api_common import DB, Actor, DetachedActor, MapCRS, StrictQuery, needs
from pingan.assessment import figures
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.engine import unit_of_work
from pingan.errors import Invalid, NotFound
from pingan.faces.vault import Vault
from pingan.i18n import N_, phrase
from pingan.patrol import dispatch, service
from pingan.patrol.models import Route, TaskState, TeamKind
from pingan.patrol.schemas import (
    CheckInIn,
    CheckInOut,
    CheckpointOut,
    MeetingIn,
    MeetingOut,
    MemberIn,
    MemberOut,
    RouteIn,
    RouteOut,
    RunOut,
    ShiftIn,
    ShiftOut,
    SwapIn,
    TeamIn,
    TeamOut,
)
from pingan.territory import geo
from pingan.territory.geo import CRS

router = APIRouter(prefix="/patrol", dependencies=[StrictQuery], tags=["patrol"])
map_router = APIRouter(dependencies=[StrictQuery], tags=["map"])


def _rules(request: Request) -> RuleBook:
    rules: RuleBook = request.app.state.runtime.rules
    return rules


def _vault(request: Request) -> Vault:
    """The platform's data key signs checkpoint codes as it encrypts face data."""
    vault: Vault = request.app.state.faces.vault()
    return vault


@router.post(
    "/teams", response_model=TeamOut, status_code=201, openapi_extra=needs(Perm.patrol_manage)
)
def create_team(data: TeamIn, actor: Actor, session: DB) -> TeamOut:
    """街道治安巡逻队, 社区治保巡逻队, 小区保安, 社区信息员, 辖区公安, 群防群治志愿巡逻队."""
    return TeamOut.model_validate(service.create_team(session, actor=actor, data=data))


@router.get("/teams", response_model=list[TeamOut], openapi_extra=needs(Perm.patrol_read))
def list_teams(actor: Actor, session: DB) -> list[TeamOut]:
    return [TeamOut.model_validate(t) for t in service.teams(session, actor=actor)]


@router.post(
    "/teams/{team_id}/members",
    response_model=MemberOut,
    status_code=201,
    openapi_extra=needs(Perm.patrol_manage),
)
def add_member(team_id: int, data: MemberIn, actor: Actor, session: DB) -> MemberOut:
    return MemberOut.model_validate(
        service.add_member(session, actor=actor, team_id=team_id, data=data)
    )


@router.get(
    "/teams/{team_id}/members",
    response_model=list[MemberOut],
    openapi_extra=needs(Perm.patrol_read),
)
def list_members(team_id: int, actor: Actor, session: DB) -> list[MemberOut]:
    team = service.team_visible_or_raise(session, actor=actor, team_id=team_id)
    members = service.members(session, team=team)
    served = service.service_minutes(session, member_ids=[m.id for m in members])
    return [
        MemberOut.model_validate(m).model_copy(update={"service_minutes": served.get(m.id, 0)})
        for m in members
    ]


@router.post(
    "/teams/{team_id}/shifts",
    response_model=ShiftOut,
    status_code=201,
    openapi_extra=needs(Perm.patrol_manage),
)
def add_shift(team_id: int, data: ShiftIn, actor: Actor, session: DB) -> ShiftOut:
    return ShiftOut.model_validate(
        service.add_shift(session, actor=actor, team_id=team_id, data=data)
    )


class OnDutyOut(BaseModel):
    shift: ShiftOut
    member: MemberOut


@router.get("/on-duty", response_model=list[OnDutyOut], openapi_extra=needs(Perm.patrol_read))
def on_duty(actor: Actor, session: DB, at: datetime | None = None) -> list[OnDutyOut]:
    """Who is on duty now (or at `at`), within your scope."""
    return [
        OnDutyOut(shift=ShiftOut.model_validate(s), member=MemberOut.model_validate(m))
        for s, m in service.on_duty(session, actor=actor, at=at)
    ]


@router.post(
    "/shifts/{shift_id}/swap",
    response_model=list[ShiftOut],
    openapi_extra=needs(Perm.patrol_manage),
)
def swap_shifts(shift_id: int, data: SwapIn, actor: Actor, session: DB) -> list[ShiftOut]:
    """Two members of a team exchange their shifts."""
    pair = service.swap(session, actor=actor, shift_id=shift_id, other_id=data.other_shift_id)
    return [ShiftOut.model_validate(s) for s in pair]


@router.post(
    "/meetings", response_model=MeetingOut, status_code=201, openapi_extra=needs(Perm.patrol_manage)
)
def record_meeting(data: MeetingIn, actor: Actor, session: DB) -> MeetingOut:
    """A joint meeting (联席会): date, attendees, decisions."""
    return MeetingOut.model_validate(service.record_meeting(session, actor=actor, data=data))


@router.get("/meetings", response_model=list[MeetingOut], openapi_extra=needs(Perm.patrol_read))
def list_meetings(actor: Actor, session: DB) -> list[MeetingOut]:
    return [MeetingOut.model_validate(m) for m in service.meetings(session, actor=actor)]


def _route_out(session: DB, route: Route) -> RouteOut:
    return RouteOut(
        id=route.id,
        team_id=route.team_id,
        name=route.name,
        duration_min=route.duration_min,
        checkpoints=[
            CheckpointOut.model_validate(c) for c in service.checkpoints(session, route=route)
        ],
    )


@router.post(
    "/routes", response_model=RouteOut, status_code=201, openapi_extra=needs(Perm.patrol_manage)
)
def create_route(data: RouteIn, actor: Actor, session: DB) -> RouteOut:
    """A route: its checkpoints in order, with positions and the minute each is due by."""
    return _route_out(session, service.create_route(session, actor=actor, data=data))


@router.get(
    "/routes/{route_id}",
    response_model=RouteOut,
    openapi_extra=needs(Perm.patrol_read, Perm.patrol_run),
)
def get_route(route_id: int, actor: Actor, session: DB) -> RouteOut:
    return _route_out(
        session, service.route_visible_or_raise(session, actor=actor, route_id=route_id)
    )


class CodeOut(BaseModel):
    checkpoint_id: int
    seq: int
    name: str
    token: str


@router.get(
    "/routes/{route_id}/codes",
    response_model=list[CodeOut],
    openapi_extra=needs(Perm.patrol_manage),
)
def route_codes(route_id: int, request: Request, actor: Actor, session: DB) -> list[CodeOut]:
    """What each checkpoint's QR code holds: a signed token, not a guessable id."""
    route = service.route_visible_or_raise(session, actor=actor, route_id=route_id)
    actor.require(Perm.patrol_manage, route.path, route.name)
    vault = _vault(request)
    return [
        CodeOut(checkpoint_id=c.id, seq=c.seq, name=c.name, token=service.token(vault, c))
        for c in service.checkpoints(session, route=route)
    ]


@router.post(
    "/routes/{route_id}/checkpoints/{checkpoint_id}/reissue",
    response_model=CodeOut,
    openapi_extra=needs(Perm.patrol_manage),
)
def reissue_code(
    route_id: int, checkpoint_id: int, request: Request, actor: Actor, session: DB
) -> CodeOut:
    """A new code for a lost or copied one: the printed code stops working at once."""
    route = service.route_visible_or_raise(session, actor=actor, route_id=route_id)
    checkpoint = next(
        (c for c in service.checkpoints(session, route=route) if c.id == checkpoint_id), None
    )
    if checkpoint is None:
        raise NotFound(what=phrase(N_("检查点 {n}"), n=checkpoint_id))
    service.reissue(session, actor=actor, checkpoint=checkpoint, route=route)
    token = service.token(_vault(request), checkpoint)
    return CodeOut(
        checkpoint_id=checkpoint.id, seq=checkpoint.seq, name=checkpoint.name, token=token
    )


@router.post(
    "/routes/{route_id}/runs",
    response_model=RunOut,
    status_code=201,
    openapi_extra=needs(Perm.patrol_run),
)
def start_run(route_id: int, actor: Actor, session: DB) -> RunOut:
    """Start walking a route (a member of its team, on their phone)."""
    route = service.route_visible_or_raise(session, actor=actor, route_id=route_id)
    return RunOut.model_validate(service.start_run(session, actor=actor, route=route))


@router.post(
    "/runs/{run_id}/checkins",
    response_model=CheckInOut,
    status_code=201,
    openapi_extra=needs(Perm.patrol_run),
)
def check_in(
    run_id: int, data: CheckInIn, request: Request, actor: Actor, session: DB
) -> CheckInOut:
    """A scanned checkpoint with the phone's position; `at` keeps the time of a check-in queued
    while offline. Far, out of order or late: kept and flagged. A forged or void code, someone
    else's run, or a position that is no coordinate: refused with the reason, and recorded."""
    row, refusal = service.check_in(
        session, actor=actor, run_id=run_id, data=data, vault=_vault(request)
    )
    if refusal is not None:
        session.commit()  # the refusal stays on record
        raise refusal
    assert row is not None
    return CheckInOut.model_validate(row)


@router.post(
    "/runs/{run_id}/finish",
    response_model=RunOut,
    openapi_extra=needs(Perm.patrol_run, Perm.patrol_manage),
)
def finish_run(run_id: int, request: Request, actor: Actor, session: DB) -> RunOut:
    """End the run; checkpoints not reached raise a patrol exception to the team leader."""
    run = service.run_visible_or_raise(session, actor=actor, run_id=run_id)
    return RunOut.model_validate(
        service.finish_run(session, actor=actor, run=run, rules=_rules(request))
    )


class RunDetail(RunOut):
    checkins: list[CheckInOut]


@router.get(
    "/runs/{run_id}",
    response_model=RunDetail,
    openapi_extra=needs(Perm.patrol_read, Perm.patrol_run),
)
def get_run(run_id: int, actor: Actor, session: DB) -> RunDetail:
    run = service.run_visible_or_raise(session, actor=actor, run_id=run_id)
    return RunDetail(
        **RunOut.model_validate(run).model_dump(),
        checkins=[CheckInOut.model_validate(c) for c in service.checkins(session, run=run)],
    )


@router.get("/coverage", response_model=list[dict[str, Any]], openapi_extra=needs(Perm.patrol_read))
def coverage(
    actor: Actor,
    session: DB,
    start: Annotated[date | None, Query(description="First day (Asia/Shanghai)")] = None,
    end: Annotated[date | None, Query(description="Last day, inclusive")] = None,
) -> list[dict[str, Any]]:
    """Checkpoints visited on time ÷ planned, per route, over the period's finished runs."""
    span = figures.period(start, end)
    return service.coverage(session, actor=actor, since=span.since, until=span.until)


class MyTeamOut(BaseModel):
    member_id: int
    team_id: int
    team: str
    kind: TeamKind
    leader: bool
    programme: str | None
    service_minutes: int = Field(description="Runs walked and tasks worked on, in minutes")


class MyRouteOut(BaseModel):
    id: int
    name: str
    duration_min: int
    team_id: int


class ExceptionOut(BaseModel):
    run_id: int
    route: str
    member: str
    finished_at: datetime
    missed: list[str]


class MeOut(BaseModel):
    name: str
    teams: list[MyTeamOut]
    routes: list[MyRouteOut]
    run_id: int | None = Field(description="The run under way, if any")
    run_route_id: int | None
    shift_ends_at: datetime | None = Field(description="When your shift now on duty ends")
    exceptions: list[ExceptionOut] = Field(
        description="For a team leader: the team's runs that missed checkpoints, past 7 days"
    )


@router.get("/me", response_model=MeOut, openapi_extra=needs(Perm.patrol_run))
def me(actor: Actor, session: DB) -> MeOut:
    """Your teams, routes, run under way and shift: what your phone page shows."""
    return MeOut.model_validate(service.mine(session, actor=actor))


# --- dispatch ------------------------------------------------------------------------------------


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    alarm_id: int
    member_id: int
    state: TaskState
    offered_at: datetime
    deadline: datetime
    accepted_at: datetime | None
    arrived_at: datetime | None
    finished_at: datetime | None
    distance_m: float | None
    note: str | None
    has_photo: bool = False


class PhoneTaskOut(TaskOut):
    """A task as the responder's phone shows it."""

    title: str = Field(description="The alarm rule's title; the phone shows it translated")
    subject: str | None = Field(description="The device or route, as its people named it")
    category: str
    priority: int
    raised_at: datetime
    place: str
    lon: float | None = Field(description="Where to go (WGS-84), for the map link")
    lat: float | None
    snapshot: str | None = Field(description="The picture that came with the alarm")


class DispatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: int | None = Field(None, description="A responder of your choice; else the nearest")


PHOTO_MAX = 3 * 1024 * 1024


class StepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(None, max_length=2000)
    photo: str | None = Field(
        None,
        max_length=PHOTO_MAX * 4 // 3 + 4,
        description="A photo of the scene on resolving: JPEG or PNG, base64",
    )

    def photo_bytes(self) -> bytes | None:
        if self.photo is None:
            return None
        try:
            raw = base64.b64decode(self.photo.split(",", 1)[-1], validate=True)
        except (binascii.Error, ValueError):
            raise Invalid("patrol_photo", field="photo") from None
        if not (raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG\r\n\x1a\n")):
            raise Invalid("patrol_photo", field="photo")
        return raw


class PositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


@router.post(
    "/alarms/{alarm_id}/dispatch",
    response_model=TaskOut | None,
    openapi_extra=needs(Perm.alarms_handle),
)
def dispatch_alarm(
    alarm_id: int, data: DispatchIn, request: Request, actor: Actor, session: DB
) -> TaskOut | None:
    """Offer an alarm to the nearest on-duty responder (or the one named). Null when nobody is
    on duty for it: the timeline says so, and the centre acts."""
    alarm = alarm_service.get_visible_or_raise(
        session, actor=actor, alarm_id=alarm_id, perm=Perm.alarms_handle
    )
    task = dispatch.offer(
        session, actor=actor, alarm=alarm, member_id=data.member_id, rules=_rules(request)
    )
    return TaskOut.model_validate(task) if task else None


@router.get(
    "/alarms/{alarm_id}/tasks", response_model=list[TaskOut], openapi_extra=needs(Perm.alarms_read)
)
def alarm_tasks(alarm_id: int, actor: Actor, session: DB) -> list[TaskOut]:
    alarm = alarm_service.get_visible_or_raise(session, actor=actor, alarm_id=alarm_id)
    return [TaskOut.model_validate(t) for t in dispatch.tasks_of(session, alarm=alarm)]


class CandidateOut(BaseModel):
    member_id: int
    name: str
    team: str
    distance_m: int | None = Field(description="From their phone's last position, if known")
    busy: bool = Field(description="On another task now")


@router.get(
    "/alarms/{alarm_id}/candidates",
    response_model=list[CandidateOut],
    openapi_extra=needs(Perm.alarms_handle),
)
def alarm_candidates(alarm_id: int, actor: Actor, session: DB) -> list[CandidateOut]:
    """Responders on duty for the alarm's place, nearest first: whom the centre can send."""
    alarm = alarm_service.get_visible_or_raise(
        session, actor=actor, alarm_id=alarm_id, perm=Perm.alarms_handle
    )
    return [CandidateOut(**c) for c in dispatch.candidate_view(session, alarm)]


@router.get("/my-tasks", response_model=list[PhoneTaskOut], openapi_extra=needs(Perm.patrol_run))
def my_tasks(actor: Actor, session: DB) -> list[PhoneTaskOut]:
    """The tasks offered to you, or that you are working on, with the alarm and where to go."""
    return [
        PhoneTaskOut.model_validate(dispatch.task_view(session, t))
        for t in dispatch.my_tasks(session, actor=actor)
    ]


def _tasks_now(factory: sessionmaker[Session], actor: Principal) -> tuple[str, list[str]]:
    """The responder's open tasks as JSON, and their teams' paths; the phone page is open, so
    they count as reachable."""
    with unit_of_work(factory, actor=actor.actor, actor_user_id=actor.user_id) as session:
        paths = dispatch.page_open(session, actor=actor)
        tasks = [
            PhoneTaskOut.model_validate(dispatch.task_view(session, t)).model_dump(mode="json")
            for t in dispatch.my_tasks(session, actor=actor)
        ]
    return json.dumps(tasks, ensure_ascii=False), paths


@router.get(
    "/my-tasks/stream", response_class=EventSourceResponse, openapi_extra=needs(Perm.patrol_run)
)
async def my_tasks_stream(request: Request, actor: DetachedActor) -> EventSourceResponse:
    """Server-sent events for the responder's phone: event `tasks` (your open tasks, as in
    /my-tasks) at once and whenever one changes. While this is open, offers reach you here;
    otherwise by SMS and the `responders` channels as well."""
    live_feed: feed.Feed = request.app.state.workers.feed
    teams: list[str] = []  # the places whose dispatch steps can concern this responder

    def wants(path: str, item: dict[str, Any]) -> bool:
        # Until the teams are known (the first read), every dispatch step wakes the page.
        return item["action"].startswith("dispatch") and (
            not teams or any(dispatch.serves(team, path) for team in teams)
        )

    sub = live_feed.subscribe(actor, wants=wants)
    factory: sessionmaker[Session] = request.app.state.sessionmaker

    async def events() -> AsyncIterator[dict[str, str]]:
        last = None
        try:
            while True:
                tasks, paths = await run_in_threadpool(_tasks_now, factory, actor)
                teams[:] = paths
                if tasks != last:
                    yield {"event": "tasks", "data": tasks}
                    last = tasks
                # A change of a task, or time to say the page is still open.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(sub.queue.get(), timeout=dispatch.PRESENCE_S / 3)
                while not sub.queue.empty():
                    sub.queue.get_nowait()
        finally:
            live_feed.unsubscribe(sub)

    return EventSourceResponse(events(), ping=15)


@router.get(
    "/tasks/{task_id}/photo",
    include_in_schema=True,
    openapi_extra=needs(Perm.patrol_run, Perm.alarms_read),
)
def task_photo(task_id: int, actor: Actor, session: DB) -> Response:
    """The responder's photo of the scene: for them, and for whoever sees the alarm."""
    task = dispatch.task_visible_or_raise(session, actor=actor, task_id=task_id)
    if task.photo is None:
        raise NotFound(what=phrase(N_("任务 {n} 的照片"), n=task_id))
    kind = "image/png" if task.photo.startswith(b"\x89PNG") else "image/jpeg"
    return Response(task.photo, media_type=kind, headers={"Cache-Control": "private"})


@router.post(
    "/tasks/{task_id}/{step}",
    response_model=TaskOut,
    openapi_extra=needs(Perm.patrol_run, body=PHOTO_MAX * 4 // 3 + 8192),
)
def task_step(
    task_id: int, step: str, data: StepIn, request: Request, actor: Actor, session: DB
) -> TaskOut:
    """accept, en_route, on_scene, resolve (with a note) or decline (cannot attend: it passes on)."""
    task = dispatch.task_for_responder(session, actor=actor, task_id=task_id)
    return TaskOut.model_validate(
        dispatch.step(
            session,
            actor=actor,
            task=task,
            name=step,
            note=data.note,
            photo=data.photo_bytes(),
            rules=_rules(request),
        )
    )


@router.post("/position", status_code=204, openapi_extra=needs(Perm.patrol_run))
def my_position(data: PositionIn, actor: Actor, session: DB) -> Response:
    """The phone's position, for dispatch to the nearest responder."""
    dispatch.update_position(session, actor=actor, lon=data.lon, lat=data.lat)
    return Response(status_code=204)


@map_router.get("/map/responders", openapi_extra=needs(Perm.alarms_handle))
def map_responders(actor: Actor, session: DB, crs: MapCRS = CRS.wgs84) -> dict[str, Any]:
    """Responders on duty now whose phone sent a position in the last half hour, where you may
    dispatch: those the centre can send. Nobody off duty is shown, nor anyone's track."""
    return geojson.collection(
        [
            geojson.feature(
                geojson.point(*geo.from_wgs84(float(m.last_lon or 0), float(m.last_lat or 0), crs)),
                id=m.id,
                name=name,
                team=team,
                seen_at=m.last_position_at.isoformat() if m.last_position_at else None,
                busy=engaged,
            )
            for m, name, team, engaged in dispatch.on_the_map(session, actor=actor)
        ]
    )
