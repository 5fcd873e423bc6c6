"""Teams, rosters, meetings, routes, and patrol runs with their check-ins.

A checkpoint's QR code is a signed token (HMAC with a key derived from PINGAN_DATA_KEY), not a
guessable id. A check-in far from its checkpoint, out of order or late is kept and flagged; a
forged or void token, someone else's run, or a position that is no coordinate is refused with
the reason, and the refusal is written to the audit log.
"""

from __future__ import annotations

import base64
import hmac
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.alarms.rules import RuleBook
from pingan.auth import audit
from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm, Role
from pingan.db.base import utcnow
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.faces.vault import Vault
from pingan.i18n import N_, phrase
from pingan.patrol.models import (
    CheckIn,
    Checkpoint,
    Meeting,
    Member,
    Route,
    Run,
    RunState,
    Shift,
    Task,
    Team,
)
from pingan.patrol.schemas import CheckInIn, MeetingIn, MemberIn, RouteIn, ShiftIn, TeamIn
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.geo import distance_m
from pingan.territory.models import NodeKind, Person

LATE_GRACE = timedelta(minutes=5)
EDGE_DEG = 0.0002  # about 20 m: a checkpoint on the boundary line itself is on the team's ground


def _team_or_raise(session: Session, *, actor: Principal, team_id: int, perm: Perm) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise NotFound(what=phrase(N_("队伍 {n}"), n=team_id))
    actor.require(perm, team.path, team.name)
    return team


# --- teams, members, rosters, meetings -----------------------------------------------------------


@dataclass(frozen=True)
class TeamRow:
    team: Team
    place: str
    members: int
    on_duty: int


def create_team(session: Session, *, actor: Principal, data: TeamIn) -> Team:
    node = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    actor.require(Perm.patrol_manage, node.path, node.name)
    team = Team(kind=data.kind, name=data.name, node_id=node.id, path=node.path)
    session.add(team)
    session.flush()
    return team


def teams(session: Session, *, actor: Principal) -> Sequence[Team]:
    return session.scalars(
        select(Team).where(actor.filter(Team.path, Perm.patrol_read)).order_by(Team.path, Team.id)
    ).all()


def team_visible_or_raise(session: Session, *, actor: Principal, team_id: int) -> Team:
    return _team_or_raise(session, actor=actor, team_id=team_id, perm=Perm.patrol_read)


def add_member(session: Session, *, actor: Principal, team_id: int, data: MemberIn) -> Member:
    team = _team_or_raise(session, actor=actor, team_id=team_id, perm=Perm.patrol_manage)
    territory_service.get_person_visible_or_raise(session, actor=actor, person_id=data.person_id)
    if data.user_id is not None:  # the account their phone logs in with: within scope too
        auth_service.get_visible_or_raise(session, actor=actor, user_id=data.user_id)
    if session.scalar(
        select(Member.id).where(Member.team_id == team.id, Member.person_id == data.person_id)
    ):
        raise Conflict("conflict", field="person_id", reason=N_("已是队员"))
    member = Member(
        team_id=team.id,
        person_id=data.person_id,
        user_id=data.user_id,
        path=team.path,
        leader=data.leader,
        programme=data.programme,
    )
    session.add(member)
    session.flush()
    return member


def members(session: Session, *, team: Team) -> Sequence[Member]:
    return session.scalars(
        select(Member).where(Member.team_id == team.id).order_by(Member.id)
    ).all()


def members_of_people(session: Session, *, person_ids: Sequence[int]) -> dict[int, int]:
    """{member id: person id} of the people's memberships of any team (their service hours)."""
    wanted = set(person_ids)
    if not wanted:
        return {}
    stmt = select(Member.id, Member.person_id)
    if len(wanted) < 1000:
        stmt = stmt.where(Member.person_id.in_(list(wanted)))
    return {int(m): int(p) for m, p in session.execute(stmt) if p in wanted}


def member_names(session: Session, *, member_ids: Iterable[int]) -> dict[int, str]:
    """Each member's name (the person of the territory they are)."""
    return dict(
        session.execute(
            select(Member.id, Person.name)
            .join(Person, Person.id == Member.person_id)
            .where(Member.id.in_(list(member_ids)))
        ).all()
    )


def team_names(session: Session, *, team_ids: Iterable[int]) -> dict[int, str]:
    return dict(
        session.execute(select(Team.id, Team.name).where(Team.id.in_(list(set(team_ids))))).all()
    )


def team_rows(session: Session, *, actor: Principal, now: datetime | None = None) -> list[TeamRow]:
    """The teams in scope with their place, their active members and how many are on duty."""
    found = teams(session, actor=actor)
    places = territory_service.names(session, node_ids=[t.node_id for t in found])
    sizes = dict(
        session.execute(
            select(Member.team_id, func.count())
            .where(Member.active, Member.team_id.in_([t.id for t in found]))
            .group_by(Member.team_id)
        ).all()
    )
    duty = Counter(shift.team_id for shift, _m in on_duty(session, actor=actor, at=now))
    return [
        TeamRow(
            team=t, place=places.get(t.node_id, ""), members=sizes.get(t.id, 0), on_duty=duty[t.id]
        )
        for t in found
    ]


def routes_with_points(session: Session, *, actor: Principal) -> list[tuple[Route, int]]:
    """The routes in scope and how many checkpoints each has."""
    return [
        (route, count)
        for route, count in session.execute(
            select(Route, func.count(Checkpoint.id))
            .join(Checkpoint, Checkpoint.route_id == Route.id, isouter=True)
            .where(actor.filter(Route.path, Perm.patrol_read))
            .group_by(Route.id)
            .order_by(Route.id)
        )
    ]


def roster(
    session: Session, *, actor: Principal, teams_shown: Sequence[Team], now: datetime | None = None
) -> dict[str, Any]:
    """What managing the teams needs: places a team may belong to, each team's members (with
    their login and service time) and coming shifts, and the patrol accounts to tie a member to."""
    now = now or utcnow()
    places = territory_service.get_all_of_kinds(
        session,
        actor=actor,
        kinds=[NodeKind.street, NodeKind.community, NodeKind.site],
        perm=Perm.patrol_manage,
    )
    team_ids = [t.id for t in teams_shown]
    rows = session.scalars(
        select(Member).where(Member.team_id.in_(team_ids)).order_by(Member.id)
    ).all()
    names = member_names(session, member_ids=[m.id for m in rows])
    logins = auth_service.usernames(session, user_ids=[m.user_id for m in rows if m.user_id])
    served = service_minutes(session, member_ids=[m.id for m in rows])
    members: dict[int, list[dict[str, Any]]] = {t: [] for t in team_ids}
    for member in rows:
        members[member.team_id].append(
            {
                "member": member,
                "name": names.get(member.id, ""),
                "account": logins.get(member.user_id) if member.user_id else None,
                "service_minutes": served.get(member.id, 0),
            }
        )
    shifts: dict[int, list[Shift]] = {t: [] for t in team_ids}
    for shift in session.scalars(
        select(Shift)
        .where(Shift.team_id.in_(team_ids), Shift.ends_at > now)
        .order_by(Shift.starts_at)
        .limit(200)
    ):
        shifts[shift.team_id].append(shift)
    accounts: Sequence[Any] = []
    if actor.system or actor.paths(Perm.users_read):
        accounts, _total = auth_service.get_all(
            session, actor=actor, role=Role.patrol_member, limit=500
        )
    return {
        "places": [{"id": n.id, "name": n.name, "kind": n.kind.value} for n in places],
        "members": members,
        "shifts": shifts,
        "accounts": accounts,
    }


def add_shift(session: Session, *, actor: Principal, team_id: int, data: ShiftIn) -> Shift:
    team = _team_or_raise(session, actor=actor, team_id=team_id, perm=Perm.patrol_manage)
    member = session.get(Member, data.member_id)
    if member is None or member.team_id != team.id:
        raise Invalid("patrol_member", field="member_id")
    if data.ends_at <= data.starts_at:
        raise Invalid("patrol_shift", field="ends_at")
    shift = Shift(
        team_id=team.id,
        member_id=member.id,
        path=team.path,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        note=data.note,
    )
    session.add(shift)
    session.flush()
    return shift


def on_duty(
    session: Session,
    *,
    actor: Principal,
    at: datetime | None = None,
    perm: Perm = Perm.patrol_read,
    member_ids: Iterable[int] | None = None,
) -> Sequence[tuple[Shift, Member]]:
    """Who is on duty now (or at `at`): the roster's shifts covering the moment, of active
    members, where the actor holds `perm`. The one answer to this question, for the roster, the
    phone page, dispatch, the map and the figures."""
    now = at or utcnow()
    stmt = (
        select(Shift, Member)
        .join(Member, Member.id == Shift.member_id)
        .where(
            Shift.starts_at <= now,
            Shift.ends_at > now,
            Member.active,
            actor.filter(Shift.path, perm),
        )
        .order_by(Shift.starts_at, Shift.id)
    )
    if member_ids is not None:
        stmt = stmt.where(Member.id.in_(list(member_ids)))
    return [(shift, member) for shift, member in session.execute(stmt)]


def swap(
    session: Session, *, actor: Principal, shift_id: int, other_id: int
) -> tuple[Shift, Shift]:
    """Two members exchange their shifts."""
    pair = []
    for sid in (shift_id, other_id):
        shift = session.get(Shift, sid)
        if shift is None:
            raise NotFound(what=phrase(N_("班次 {n}"), n=sid))
        actor.require(Perm.patrol_manage, shift.path, phrase(N_("班次 {n}"), n=sid))
        pair.append(shift)
    first, second = pair
    if first.team_id != second.team_id:
        raise Invalid("patrol_swap", field="other_shift_id")
    first.member_id, second.member_id = second.member_id, first.member_id
    session.flush()
    return first, second


def record_meeting(session: Session, *, actor: Principal, data: MeetingIn) -> Meeting:
    node = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    actor.require(Perm.patrol_manage, node.path, node.name)
    meeting = Meeting(
        node_id=node.id,
        path=node.path,
        held_at=data.held_at,
        title=data.title,
        attendees=data.attendees,
        decisions=data.decisions,
    )
    session.add(meeting)
    session.flush()
    return meeting


def meetings(session: Session, *, actor: Principal) -> Sequence[Meeting]:
    return session.scalars(
        select(Meeting)
        .where(actor.filter(Meeting.path, Perm.patrol_read))
        .order_by(Meeting.held_at.desc())
    ).all()


def service_minutes(
    session: Session,
    *,
    member_ids: Sequence[int] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: Principal | None = None,
) -> dict[int, int]:
    """Service time per member, in whole minutes (any service at all counts as one): the patrol
    runs they walked and the dispatched tasks they worked on, from accepting to the end. Counted
    from the runs and tasks themselves, so a figure of a period and a member's total agree."""
    seconds: defaultdict[int, float] = defaultdict(float)
    runs = select(Run.member_id, Run.started_at, Run.finished_at).where(
        Run.finished_at.is_not(None)
    )
    tasks = (
        select(Task.member_id, Task.accepted_at, Task.finished_at)
        .join(Member, Member.id == Task.member_id)
        .where(Task.accepted_at.is_not(None), Task.finished_at.is_not(None))
    )
    if member_ids is not None:
        runs = runs.where(Run.member_id.in_(list(member_ids)))
        tasks = tasks.where(Task.member_id.in_(list(member_ids)))
    if since is not None:
        runs, tasks = runs.where(Run.started_at >= since), tasks.where(Task.offered_at >= since)
    if until is not None:
        runs, tasks = runs.where(Run.started_at < until), tasks.where(Task.offered_at < until)
    if actor is not None:
        runs = runs.where(actor.filter(Run.path, Perm.patrol_read))
        tasks = tasks.where(actor.filter(Member.path, Perm.patrol_read))
    for member_id, start, end in [*session.execute(runs), *session.execute(tasks)]:
        if start is not None and end is not None and end > start:
            seconds[member_id] += (end - start).total_seconds()
    return {m: max(1, round(s / 60)) for m, s in seconds.items() if s > 0}


# --- routes and their QR codes ---------------------------------------------------------------------


def create_route(session: Session, *, actor: Principal, data: RouteIn) -> Route:
    team = _team_or_raise(session, actor=actor, team_id=data.team_id, perm=Perm.patrol_manage)
    place = territory_service.get_or_raise(session, node_id=team.node_id)
    area = territory_service.area_of(session, node=place)
    names: set[str] = set()
    points = [geo.to_wgs84(cp.lon, cp.lat, data.crs) for cp in data.checkpoints]
    for index, cp in enumerate(data.checkpoints):
        if cp.due_min > data.duration_min:
            raise Invalid("patrol_due", field=f"checkpoints.{index}.due_min")
        # A checkpoint lies on the team's own ground (a few metres of the line allowed for GPS).
        if area is not None and not area.buffer(EDGE_DEG).covers(Point(*points[index])):
            raise Invalid(
                "patrol_outside", field=f"checkpoints.{index}.lon", place=place.name, name=cp.name
            )
        if cp.name in names:
            raise Invalid("patrol_point_name", field=f"checkpoints.{index}.name", name=cp.name)
        names.add(cp.name)
    route = Route(team_id=team.id, path=team.path, name=data.name, duration_min=data.duration_min)
    session.add(route)
    session.flush()
    for seq, cp in enumerate(data.checkpoints, 1):
        session.add(
            Checkpoint(
                route_id=route.id,
                seq=seq,
                name=cp.name,
                lon=points[seq - 1][0],
                lat=points[seq - 1][1],
                radius_m=cp.radius_m,
                due_min=cp.due_min,
            )
        )
    session.flush()
    return route


def route_visible_or_raise(session: Session, *, actor: Principal, route_id: int) -> Route:
    route = session.get(Route, route_id)
    if route is None or not actor.sees(route.path):
        raise NotFound(what=phrase(N_("巡逻路线 {n}"), n=route_id))
    return route


def checkpoint_visible_or_raise(
    session: Session, *, actor: Principal, checkpoint_id: int
) -> tuple[Checkpoint, Route]:
    """A checkpoint of a route the actor sees (a patrol exception reported against it)."""
    checkpoint = session.get(Checkpoint, checkpoint_id)
    route = session.get(Route, checkpoint.route_id) if checkpoint else None
    if checkpoint is None or route is None or not actor.sees(route.path):
        raise NotFound(what=phrase(N_("检查点 {n}"), n=checkpoint_id))
    return checkpoint, route


def checkpoints(session: Session, *, route: Route) -> list[Checkpoint]:
    return list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.route_id == route.id).order_by(Checkpoint.seq)
        )
    )


def _signature(vault: Vault, checkpoint_id: int, version: int) -> str:
    digest = bytes.fromhex(vault.digest("checkpoint", f"{checkpoint_id}.{version}"))
    return base64.urlsafe_b64encode(digest[:15]).decode()


def token(vault: Vault, checkpoint: Checkpoint) -> str:
    """What the checkpoint's QR code holds: its id, version and a signature."""
    return f"PA1.{checkpoint.id}.{checkpoint.token_version}.{_signature(vault, checkpoint.id, checkpoint.token_version)}"


def reissue(session: Session, *, actor: Principal, checkpoint: Checkpoint, route: Route) -> None:
    """A new code for a checkpoint; the printed one stops working."""
    actor.require(Perm.patrol_manage, route.path, route.name)
    checkpoint.token_version += 1
    session.flush()


def _from_token(session: Session, vault: Vault, text: str) -> Checkpoint | None:
    parts = text.strip().split(".")
    if len(parts) != 4 or parts[0] != "PA1" or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    checkpoint = session.get(Checkpoint, int(parts[1]))
    if checkpoint is None or int(parts[2]) != checkpoint.token_version:
        return None
    expected = _signature(vault, checkpoint.id, checkpoint.token_version)
    return checkpoint if hmac.compare_digest(expected, parts[3]) else None


# --- runs and check-ins --------------------------------------------------------------------------


def _my_member(session: Session, *, actor: Principal, team_id: int) -> Member:
    member = session.scalar(
        select(Member).where(
            Member.team_id == team_id, Member.user_id == actor.user_id, Member.active
        )
    )
    if member is None:
        raise Forbidden(action="patrol:run (not a member of this team)")
    return member


def start_run(
    session: Session, *, actor: Principal, route: Route, now: datetime | None = None
) -> Run:
    actor.require(Perm.patrol_run, route.path, route.name)
    member = _my_member(session, actor=actor, team_id=route.team_id)
    now = now or utcnow()
    run = Run(
        route_id=route.id,
        member_id=member.id,
        path=route.path,
        started_at=now,
        due_at=now + timedelta(minutes=route.duration_min),
        state=RunState.running,
    )
    session.add(run)
    session.flush()
    return run


def _refuse(session: Session, *, run_id: int, reason: str, detail: dict[str, Any]) -> None:
    """A refused check-in is kept in the audit log with its reason (committed by the caller)."""
    audit.record(
        session,
        action="refused",
        entity="patrol_checkins",
        entity_id=str(run_id),
        note=reason,
        after=detail,
    )


def check_in(
    session: Session, *, actor: Principal, run_id: int, data: CheckInIn, vault: Vault
) -> tuple[CheckIn | None, Exception | None]:
    """A scanned checkpoint. Returns the check-in, or the refusal to raise once it is recorded."""
    run = session.get(Run, run_id)
    if run is None or not actor.sees(run.path):
        raise NotFound(what=phrase(N_("巡逻 {n}"), n=run_id))
    member = session.get(Member, run.member_id)
    detail = {"token": data.token[:40], "lon": data.lon, "lat": data.lat}
    if member is None or member.user_id != actor.user_id:
        _refuse(session, run_id=run.id, reason="not_your_run", detail=detail)
        return None, Forbidden(action="patrol:run (this run is someone else's)")
    if not (-180 <= data.lon <= 180 and -90 <= data.lat <= 90) or (data.lon == 0 and data.lat == 0):
        _refuse(session, run_id=run.id, reason="bad_position", detail=detail)
        return None, Invalid(
            "bad_geometry",
            field="lon",
            reason=phrase(N_("({lon}, {lat}) 不是有效坐标"), lon=data.lon, lat=data.lat),
        )
    checkpoint = _from_token(session, vault, data.token)
    if checkpoint is None or checkpoint.route_id != run.route_id:
        reason = "bad_token" if checkpoint is None else "other_route"
        _refuse(session, run_id=run.id, reason=reason, detail=detail)
        return None, Invalid("patrol_token", field="token")
    if run.state != RunState.running:
        # A check-in queued on a phone that reaches us after the run ended: kept with the reason.
        _refuse(
            session, run_id=run.id, reason="run_finished", detail={**detail, "at": str(data.at)}
        )
        return None, Conflict("patrol_finished", field="run")
    at = data.at or utcnow()
    done = session.scalars(select(CheckIn.checkpoint_id).where(CheckIn.run_id == run.id)).all()
    points = session.scalars(
        select(Checkpoint).where(Checkpoint.route_id == run.route_id).order_by(Checkpoint.seq)
    ).all()
    expected = next((p for p in points if p.id not in done), None)
    far = distance_m(checkpoint.lon, checkpoint.lat, data.lon, data.lat)
    flags = []
    if far > checkpoint.radius_m:
        flags.append("far")
    if expected is not None and expected.id != checkpoint.id:
        flags.append("out_of_order")
    if at > run.started_at + timedelta(minutes=checkpoint.due_min) + LATE_GRACE:
        flags.append("late")
    row = CheckIn(
        run_id=run.id,
        checkpoint_id=checkpoint.id,
        at=at,
        lon=data.lon,
        lat=data.lat,
        distance_m=round(far, 1),
        flags=flags,
    )
    session.add(row)
    if member.last_position_at is None or at >= member.last_position_at:
        member.last_lon, member.last_lat, member.last_position_at = data.lon, data.lat, at
    session.flush()
    return row, None


def finish_run(
    session: Session,
    *,
    actor: Principal,
    run: Run,
    now: datetime | None = None,
    rules: RuleBook | None = None,
) -> Run:
    """End a run: checkpoints not reached are noted as missed and raise a patrol exception (the
    rules' `patrol_missed`) to the team's community desk and, by SMS, its leader; the run's time
    counts as service."""
    member = session.get(Member, run.member_id)
    if actor.user_id is not None and (member is None or member.user_id != actor.user_id):
        actor.require(Perm.patrol_manage, run.path, phrase(N_("巡逻 {n}"), n=run.id))
    if run.state == RunState.finished:
        raise Conflict("patrol_finished", field="run")
    end = now or utcnow()
    reached = set(session.scalars(select(CheckIn.checkpoint_id).where(CheckIn.run_id == run.id)))
    run.missed = [
        cp.id
        for cp in session.scalars(
            select(Checkpoint).where(Checkpoint.route_id == run.route_id).order_by(Checkpoint.seq)
        )
        if cp.id not in reached
    ]
    run.state, run.finished_at = RunState.finished, end
    session.flush()
    if run.missed and rules is not None:
        _raise_missed(session, run=run, member=member, rules=rules, at=end)
    return run


def missed_names(session: Session, *, route: Route, run: Run) -> list[str]:
    """The names of the checkpoints a finished run did not reach, in route order."""
    names = {c.id: c.name for c in checkpoints(session, route=route)}
    return [names.get(i, f"#{i}") for i in run.missed or []]


def _raise_missed(
    session: Session, *, run: Run, member: Member | None, rules: RuleBook, at: datetime
) -> None:
    found = rules.match(kind="patrol", code="missed", device_kind="patrol")
    if not found:
        return  # the rules file has no patrol rule: the run's record says what was missed
    rule = found[0]
    route = session.get(Route, run.route_id)
    team = session.get(Team, route.team_id) if route else None
    if route is None or team is None:
        return
    person = session.get(Person, member.person_id) if member else None
    names = "、".join(missed_names(session, route=route, run=run))
    leaders = session.scalars(
        select(Person.phone)
        .join(Member, Member.person_id == Person.id)
        .where(Member.team_id == team.id, Member.leader, Member.active, Person.phone.is_not(None))
    ).all()
    alarm_service.open_alarm(
        session,
        rules=rules,
        rule=rule,
        subject=" · ".join(filter(None, [route.name, person.name if person else "", names])),
        node_id=team.node_id,
        path=route.path,
        key=f"patrol_run:{run.id}",
        at=at,
        contacts=[p for p in leaders if p],
    )


def close_overdue(session: Session, *, rules: RuleBook, now: datetime | None = None) -> int:
    """Runs left open past their planned end (and the grace) end by themselves, at the planned
    end, so a forgotten run still raises its missed checkpoints."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Run).where(Run.state == RunState.running, Run.due_at <= now - LATE_GRACE)
    ).all()
    for run in overdue:
        finish_run(session, actor=SYSTEM, run=run, now=run.due_at, rules=rules)
    return len(overdue)


def checkins(session: Session, *, run: Run) -> Sequence[CheckIn]:
    return session.scalars(
        select(CheckIn).where(CheckIn.run_id == run.id).order_by(CheckIn.id)
    ).all()


def run_visible_or_raise(session: Session, *, actor: Principal, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None or not actor.sees(run.path):
        raise NotFound(what=phrase(N_("巡逻 {n}"), n=run_id))
    return run


def coverage(
    session: Session, *, actor: Principal, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Checkpoints visited on time ÷ planned, per route, over finished runs in the period. On time
    is neither late nor far; a checkpoint counts once per run."""
    routes = session.execute(
        select(Route, Team)
        .join(Team, Team.id == Route.team_id)
        .where(actor.filter(Route.path, Perm.patrol_read))
        .order_by(Route.id)
    ).all()
    planned_per_run = dict(
        session.execute(
            select(Checkpoint.route_id, func.count()).group_by(Checkpoint.route_id)
        ).all()
    )
    runs: dict[int, int] = defaultdict(int)
    on_time: dict[int, set[tuple[int, int]]] = defaultdict(set)
    in_period = (
        Run.state == RunState.finished,
        Run.started_at >= since,
        Run.started_at < until,
        actor.filter(Run.path, Perm.patrol_read),
    )
    for route_id, count in session.execute(
        select(Run.route_id, func.count()).where(*in_period).group_by(Run.route_id)
    ):
        runs[route_id] = count
    for route_id, run_id, checkpoint_id, flags in session.execute(
        select(Run.route_id, CheckIn.run_id, CheckIn.checkpoint_id, CheckIn.flags)
        .join(Run, Run.id == CheckIn.run_id)
        .where(*in_period)
    ):
        if "late" not in flags and "far" not in flags:
            on_time[route_id].add((run_id, checkpoint_id))
    out = []
    for route, team in routes:
        planned = planned_per_run.get(route.id, 0) * runs[route.id]
        done = len(on_time[route.id])
        out.append(
            {
                "route_id": route.id,
                "route": route.name,
                "team_id": team.id,
                "team": team.name,
                "path": route.path,
                "runs": runs[route.id],
                "planned": planned,
                "on_time": done,
                "coverage": round(done / planned, 3) if planned else None,
            }
        )
    return out


# --- the phone page's own view ---------------------------------------------------------------------

EXCEPTION_DAYS = 7


def mine(session: Session, *, actor: Principal, now: datetime | None = None) -> dict[str, Any]:
    """What a member's phone shows: their teams, the routes they walk, the run under way, their
    shift, and for a team leader the team's runs that missed checkpoints this past week."""
    now = now or utcnow()
    rows = session.execute(
        select(Member, Team)
        .join(Team, Team.id == Member.team_id)
        .where(Member.user_id == actor.user_id, Member.active)
        .order_by(Team.id)
    ).all()
    member_ids = [m.id for m, _t in rows]
    team_ids = [t.id for _m, t in rows]
    routes = session.scalars(
        select(Route).where(Route.team_id.in_(team_ids)).order_by(Route.id)
    ).all()
    run = session.scalars(
        select(Run)
        .where(Run.member_id.in_(member_ids), Run.state == RunState.running)
        .order_by(Run.id.desc())
    ).first()
    shifts = [s for s, _m in on_duty(session, actor=SYSTEM, at=now, member_ids=member_ids)]
    shift = max(shifts, key=lambda s: s.ends_at) if shifts else None
    led = [t.id for m, t in rows if m.leader]
    exceptions = []
    if led:
        for done, route, walker in session.execute(
            select(Run, Route, Person.name)
            .join(Route, Route.id == Run.route_id)
            .join(Member, Member.id == Run.member_id)
            .join(Person, Person.id == Member.person_id)
            .where(
                Route.team_id.in_(led),
                Run.state == RunState.finished,
                Run.finished_at >= now - timedelta(days=EXCEPTION_DAYS),
            )
            .order_by(Run.finished_at.desc())
        ):
            if not done.missed:
                continue
            exceptions.append(
                {
                    "run_id": done.id,
                    "route": route.name,
                    "member": walker,
                    "finished_at": done.finished_at,
                    "missed": missed_names(session, route=route, run=done),
                    "missed_ids": list(done.missed or []),
                }
            )
    me = session.get(Person, rows[0][0].person_id) if rows else None
    served = service_minutes(session, member_ids=[m.id for m, _t in rows])
    return {
        "name": me.name if me else actor.name,
        "teams": [
            {
                "member_id": m.id,
                "team_id": t.id,
                "team": t.name,
                "kind": t.kind,
                "leader": m.leader,
                "programme": m.programme,
                "service_minutes": served.get(m.id, 0),
            }
            for m, t in rows
        ],
        "routes": [
            {"id": r.id, "name": r.name, "duration_min": r.duration_min, "team_id": r.team_id}
            for r in routes
        ],
        "run_id": run.id if run else None,
        "run_route_id": run.route_id if run else None,
        "shift_ends_at": shift.ends_at if shift else None,
        "exceptions": exceptions,
    }


SITE_REACH_M = 150.0  # a site with no boundary of its own: checkpoints this close to its point


def checkpoints_at(
    session: Session, *, lon: float, lat: float, boundary: str | None
) -> list[Checkpoint]:
    """The checkpoints of any route that lie on a site (within its boundary, or near its point
    when it has none): the site's electronic patrol points as the platform knows them."""
    area = geo.load_geometry(boundary) if boundary else None
    near = 0.01  # about a kilometre: what the database narrows to before the exact test
    found = session.scalars(
        select(Checkpoint).where(
            Checkpoint.lon.between(lon - near, lon + near),
            Checkpoint.lat.between(lat - near, lat + near),
        )
    )
    return [
        c
        for c in found
        if (area.covers(Point(c.lon, c.lat)) if area is not None else False)
        or distance_m(lon, lat, c.lon, c.lat) <= SITE_REACH_M
    ]
