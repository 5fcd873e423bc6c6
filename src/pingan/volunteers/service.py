"""Volunteer service: programmes and teams, sign-ups and the community's decision, activities with
their codes, sign-up and attendance on the spot, hours (activities and, for those in a patrol
team, its runs and tasks) and recognition levels. Flushes only; the caller commits."""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.db.paging import paginate
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.i18n import N_, Phrase, phrase
from pingan.incidents import service as incident_service
from pingan.patrol import service as patrol_service
from pingan.territory import service as territory_service
from pingan.territory.geo import distance_m
from pingan.territory.models import NodeKind, PersonKind
from pingan.territory.schemas import PersonCreate
from pingan.volunteers.models import (
    STATE_LABEL,
    Activity,
    ActivityKind,
    Attendance,
    Flag,
    Programme,
    RecognitionLevel,
    State,
    Team,
    Volunteer,
)
from pingan.volunteers.schemas import ActivityIn, CheckIn, DecisionIn, SignUpIn, TeamIn

EARLY = timedelta(minutes=30)  # a check-in this long before the start is on time
LATE_OUT = timedelta(hours=2)  # a check-out this long after the end is flagged
MEDIATION_CATEGORY = "dispute"  # the grid events a mediation activity may be linked to


def _what(volunteer_id: int) -> Phrase:
    return phrase(N_("志愿者 {n}"), n=volunteer_id)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# --- programmes, teams, levels ------------------------------------------------------------------


def programmes(session: Session, *, active_only: bool = False) -> list[Programme]:
    """The street's programmes: the seed's three (shipped by the migration) and those added."""
    found = list(session.scalars(select(Programme).order_by(Programme.id)))
    return [p for p in found if p.active or not active_only]


def programme_or_raise(session: Session, *, programme_id: int) -> Programme:
    found = session.get(Programme, programme_id)
    if found is None:
        raise NotFound(what=phrase(N_("志愿服务项目 {n}"), n=programme_id))
    return found


def create_programme(
    session: Session, *, actor: Principal, code: str, name: str, description: str | None
) -> Programme:
    if not actor.holds(Perm.volunteers_programmes):
        raise Forbidden(action=Perm.volunteers_programmes.value)
    if session.scalar(select(Programme.id).where(Programme.code == code)) is not None:
        raise Conflict("programme_code", code=code)
    programme = Programme(code=code, name=name, description=description, builtin=False)
    session.add(programme)
    session.flush()
    return programme


def create_team(session: Session, *, actor: Principal, data: TeamIn) -> Team:
    node = territory_service.get_visible_or_raise(
        session, actor=actor, node_id=data.node_id, perm=Perm.volunteers_manage
    )
    if node.kind != NodeKind.community:
        raise Invalid("volunteer_community", field="node_id")
    programme_or_raise(session, programme_id=data.programme_id)
    team = Team(programme_id=data.programme_id, node_id=node.id, path=node.path, name=data.name)
    session.add(team)
    session.flush()
    return team


def teams(session: Session, *, actor: Principal) -> list[Team]:
    return list(
        session.scalars(
            select(Team)
            .where(actor.filter(Team.path, Perm.volunteers_read))
            .order_by(Team.path, Team.id)
        )
    )


def levels(session: Session) -> list[RecognitionLevel]:
    """The recognition levels, lowest first (the national star ratings, shipped by the migration,
    until the street sets its own)."""
    return list(session.scalars(select(RecognitionLevel).order_by(RecognitionLevel.hours)))


def set_levels(
    session: Session, *, actor: Principal, wanted: Sequence[tuple[str, float]]
) -> list[RecognitionLevel]:
    if not actor.holds(Perm.volunteers_programmes):
        raise Forbidden(action=Perm.volunteers_programmes.value)
    hours = [h for _n, h in wanted]
    if len(set(hours)) != len(hours) or len({n for n, _h in wanted}) != len(wanted):
        raise Invalid("volunteer_levels", field="levels")
    session.execute(delete(RecognitionLevel))
    for name, h in sorted(wanted, key=lambda w: w[1]):
        session.add(RecognitionLevel(name=name, hours=h))
    session.flush()
    return levels(session)


def level_of(hours: float, ladder: Sequence[RecognitionLevel]) -> RecognitionLevel | None:
    reached = [lv for lv in ladder if hours >= lv.hours]
    return reached[-1] if reached else None


# --- signing up and the community's decision ----------------------------------------------------


def sign_up(session: Session, *, data: SignUpIn) -> tuple[Volunteer, str]:
    """A sign-up from the phone page: pending until the community decides; the key it returns
    opens the volunteer's own page (only its hash is kept). One sign-up per phone and programme."""
    community = territory_service.get(session, node_id=data.community_id)
    if community is None or community.kind != NodeKind.community:
        raise Invalid("volunteer_community", field="community_id")
    programme = session.get(Programme, data.programme_id)
    if programme is None or not programme.active:
        raise Invalid("volunteer_programme", field="programme_id")
    twice = session.scalar(
        select(Volunteer.id).where(
            Volunteer.programme_id == programme.id, Volunteer.phone == data.phone
        )
    )
    if twice is not None:
        raise Conflict("volunteer_twice")
    key = secrets.token_urlsafe(18)
    volunteer = Volunteer(
        programme_id=programme.id,
        community_id=community.id,
        path=community.path,
        name=data.name,
        phone=data.phone,
        state=State.pending,
        key_hash=key_hash(key),
    )
    try:
        with session.begin_nested():
            session.add(volunteer)
            session.flush()
    except IntegrityError as exc:  # the same phone signing up twice at once
        raise Conflict("volunteer_twice") from exc
    return volunteer, key


def by_key(session: Session, *, key: str) -> Volunteer | None:
    if not key or len(key) > 64:
        return None
    return session.scalar(select(Volunteer).where(Volunteer.key_hash == key_hash(key)))


def by_key_or_raise(session: Session, *, key: str) -> Volunteer:
    found = by_key(session, key=key)
    if found is None:
        raise NotFound(what=N_("志愿者"))
    return found


def scope_clause(actor: Principal, perm: Perm = Perm.volunteers_read) -> ColumnElement[bool]:
    return actor.filter(Volunteer.path, perm)


def get_visible_or_raise(session: Session, *, actor: Principal, volunteer_id: int) -> Volunteer:
    found = session.get(Volunteer, volunteer_id)
    if found is None or not actor.can(Perm.volunteers_read, found.path):
        raise NotFound(what=_what(volunteer_id))
    return found


@dataclass(frozen=True)
class Filters:
    within: str | None = None
    programme_id: int | None = None
    state: State | None = None
    q: str | None = None


def get_all(
    session: Session, *, actor: Principal, filters: Filters, limit: int = 50, offset: int = 0
) -> tuple[Sequence[Volunteer], int]:
    stmt = select(Volunteer).where(scope_clause(actor))
    if filters.within:
        stmt = stmt.where(Volunteer.path.startswith(filters.within, autoescape=True))
    if filters.programme_id is not None:
        stmt = stmt.where(Volunteer.programme_id == filters.programme_id)
    if filters.state is not None:
        stmt = stmt.where(Volunteer.state == filters.state)
    if filters.q:
        stmt = stmt.where(
            Volunteer.name.contains(filters.q, autoescape=True) | (Volunteer.phone == filters.q)
        )
    return paginate(session, stmt, order_by=Volunteer.id.desc(), limit=limit, offset=offset)


def decide(
    session: Session, *, actor: Principal, volunteer: Volunteer, data: DecisionIn
) -> Volunteer:
    """The community confirms a sign-up (the volunteer then linked to the person of the territory
    with that phone, or a new one), refuses it, or records that a volunteer left."""
    if not actor.can(Perm.volunteers_manage, volunteer.path):
        raise Forbidden(action=Perm.volunteers_manage.value)
    allowed = {
        "confirm": {State.pending, State.left, State.refused},
        "refuse": {State.pending},
        "leave": {State.confirmed},
    }[data.decision]
    if volunteer.state not in allowed:
        raise Conflict("volunteer_state", state=STATE_LABEL[volunteer.state])
    if data.team_id is not None:
        team = session.get(Team, data.team_id)
        if (
            team is None
            or team.programme_id != volunteer.programme_id
            or not volunteer.path.startswith(team.path)
        ):
            raise Invalid("volunteer_team", field="team_id")
        volunteer.team_id = team.id
    if data.decision == "confirm":
        volunteer.state = State.confirmed
        if volunteer.person_id is None:
            volunteer.person_id = _person_for(session, actor, volunteer)
    else:
        volunteer.state = State.refused if data.decision == "refuse" else State.left
    volunteer.decided_at = utcnow()
    volunteer.decided_by = actor.actor
    volunteer.note = data.note
    session.flush()
    return volunteer


def _person_for(session: Session, actor: Principal, volunteer: Volunteer) -> int:
    """The community's person with the volunteer's phone, or a new one for them."""
    found, _total = territory_service.get_all_people(
        session, actor=SYSTEM, within=volunteer.community_id, q=volunteer.phone, limit=5
    )
    for person in found:
        if person.phone == volunteer.phone:
            return person.id
    person = territory_service.create_person(
        session,
        actor=SYSTEM if actor.system else actor,
        data=PersonCreate(
            kind=PersonKind.volunteer,
            node_id=volunteer.community_id,
            name=volunteer.name,
            phone=volunteer.phone,
        ),
    )
    return person.id


def count_confirmed(session: Session, *, within: str, until: datetime) -> int:
    """Confirmed volunteers under a node by then, each person once (the targets' measure)."""
    rows = session.execute(
        select(Volunteer.person_id, Volunteer.phone).where(
            Volunteer.state == State.confirmed,
            Volunteer.path.startswith(within, autoescape=True),
            Volunteer.decided_at < until,
        )
    )
    return len({person or phone for person, phone in rows})


# --- activities ---------------------------------------------------------------------------------


def _activity_what(activity_id: int) -> Phrase:
    return phrase(N_("志愿活动 {n}"), n=activity_id)


def _new_code(session: Session, starts_at: datetime) -> str:
    """Six digits no other activity of those days uses (codes come round again, days apart)."""
    near = set(
        session.scalars(
            select(Activity.code).where(
                Activity.starts_at > starts_at - timedelta(days=3),
                Activity.starts_at < starts_at + timedelta(days=3),
            )
        )
    )
    while True:
        code = f"{secrets.randbelow(1_000_000):06d}"
        if code not in near:
            return code


def create_activity(session: Session, *, actor: Principal, data: ActivityIn) -> Activity:
    node = territory_service.get_visible_or_raise(
        session, actor=actor, node_id=data.node_id, perm=Perm.volunteers_manage
    )
    if node.kind not in (NodeKind.community, NodeKind.grid, NodeKind.site):
        raise Invalid("volunteer_community", field="node_id")
    if data.ends_at <= data.starts_at or data.ends_at - data.starts_at > timedelta(days=1):
        raise Invalid("activity_time", field="ends_at")
    if abs(data.starts_at - utcnow()) > timedelta(days=366):
        raise Invalid("activity_when", field="starts_at")
    if data.programme_id is not None:
        programme_or_raise(session, programme_id=data.programme_id)
    if (data.lon is None) != (data.lat is None):
        raise Invalid("validation", field="lat", fields="lon, lat")
    if data.incident_id is not None:
        if data.kind != ActivityKind.mediation:
            raise Invalid("activity_incident", field="incident_id")
        case = incident_service.get_visible_or_raise(
            session, actor=actor, incident_id=data.incident_id
        )
        if case.category != MEDIATION_CATEGORY:
            raise Invalid("activity_incident", field="incident_id")
    activity = Activity(
        kind=data.kind,
        title=data.title,
        programme_id=data.programme_id,
        node_id=node.id,
        path=node.path,
        place=data.place,
        lon=data.lon,
        lat=data.lat,
        radius_m=data.radius_m,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        capacity=data.capacity,
        code=_new_code(session, data.starts_at),
        incident_id=data.incident_id,
        created_by=actor.actor,
    )
    session.add(activity)
    session.flush()
    return activity


def activity_visible_or_raise(session: Session, *, actor: Principal, activity_id: int) -> Activity:
    found = session.get(Activity, activity_id)
    if found is None or not actor.can(Perm.volunteers_read, found.path):
        raise NotFound(what=_activity_what(activity_id))
    return found


def activities(
    session: Session,
    *,
    actor: Principal | None = None,
    within: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[Activity]:
    stmt = select(Activity)
    if actor is not None:
        stmt = stmt.where(actor.filter(Activity.path, Perm.volunteers_read))
    if within:
        stmt = stmt.where(Activity.path.startswith(within, autoescape=True))
    if since is not None:
        stmt = stmt.where(Activity.ends_at >= since)
    if until is not None:
        stmt = stmt.where(Activity.starts_at < until)
    return list(session.scalars(stmt.order_by(Activity.starts_at, Activity.id).limit(limit)))


def mediations(session: Session, *, actor: Principal, incident_id: int) -> list[Activity]:
    """The mediation activities held over a grid event, those the viewer may see."""
    return list(
        session.scalars(
            select(Activity)
            .where(
                Activity.incident_id == incident_id,
                actor.filter(Activity.path, Perm.volunteers_read),
            )
            .order_by(Activity.starts_at)
        )
    )


def titles(session: Session, *, activity_ids: Iterable[int]) -> dict[int, str]:
    ids = list(set(activity_ids))
    if not ids:
        return {}
    return dict(
        session.execute(select(Activity.id, Activity.title).where(Activity.id.in_(ids))).all()
    )


def turnout(session: Session, *, activity_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """(signed up, checked in) per activity."""
    ids = list(activity_ids)
    if not ids:
        return {}
    return {
        int(a): (int(s or 0), int(c or 0))
        for a, s, c in session.execute(
            select(
                Attendance.activity_id,
                func.count(Attendance.signed_up_at),
                func.count(Attendance.in_at),
            )
            .where(Attendance.activity_id.in_(ids))
            .group_by(Attendance.activity_id)
        )
    }


def attendances(
    session: Session, *, activity: Activity | None = None, volunteer: Volunteer | None = None
) -> list[Attendance]:
    stmt = select(Attendance)
    if activity is not None:
        stmt = stmt.where(Attendance.activity_id == activity.id)
    if volunteer is not None:
        stmt = stmt.where(Attendance.volunteer_id == volunteer.id)
    return list(session.scalars(stmt.order_by(Attendance.id)))


def flagged(session: Session, *, actor: Principal, within: str | None = None) -> list[Attendance]:
    """Check-ins out of time or place, waiting for the community (the desk's list)."""
    stmt = (
        select(Attendance)
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(
            Attendance.accepted.is_(None),
            Attendance.in_at.is_not(None),
            actor.filter(Activity.path, Perm.volunteers_read),
        )
    )
    if within:
        stmt = stmt.where(Activity.path.startswith(within, autoescape=True))
    return list(session.scalars(stmt.order_by(Attendance.in_at).limit(500)))


# --- on the volunteer's phone -------------------------------------------------------------------


def _row(session: Session, activity: Activity, volunteer: Volunteer) -> Attendance | None:
    return session.scalar(
        select(Attendance).where(
            Attendance.activity_id == activity.id, Attendance.volunteer_id == volunteer.id
        )
    )


def _serving(volunteer: Volunteer) -> None:
    if volunteer.state != State.confirmed:
        raise Conflict("volunteer_not_confirmed")


def join(session: Session, *, volunteer: Volunteer, activity: Activity) -> Attendance:
    """Sign up for an activity of the volunteer's community that has not ended."""
    if not activity.path.startswith(volunteer.path):  # another community's: not theirs to see
        raise NotFound(what=_activity_what(activity.id))
    _serving(volunteer)
    if activity.cancelled or activity.ends_at <= utcnow():
        raise Conflict("activity_closed")
    row = _row(session, activity, volunteer)
    if row is not None and row.signed_up_at is not None:
        return row
    if activity.capacity is not None:
        taken = session.scalar(
            select(func.count(Attendance.id)).where(
                Attendance.activity_id == activity.id, Attendance.signed_up_at.is_not(None)
            )
        )
        if int(taken or 0) >= activity.capacity:
            raise Conflict("activity_full")
    if row is None:
        row = Attendance(activity_id=activity.id, volunteer_id=volunteer.id, flags=[])
        session.add(row)
    row.signed_up_at = utcnow()
    session.flush()
    return row


def _minutes(activity: Activity, start: datetime, end: datetime) -> int:
    """The time served inside the activity's hours."""
    begin, finish = max(start, activity.starts_at), min(end, activity.ends_at)
    return max(0, int((finish - begin).total_seconds() // 60))


def check(session: Session, *, volunteer: Volunteer, data: CheckIn) -> Attendance:
    """Check in on the spot by the activity's code, or out. A check-in out of its time or away
    from its place is kept with its flags, waiting for the community; it counts once accepted."""
    _serving(volunteer)
    now = utcnow()
    candidates = [
        a
        for a in session.scalars(
            select(Activity).where(
                Activity.code == data.code,
                Activity.cancelled.is_(False),
                Activity.starts_at < now + timedelta(days=1),
                Activity.ends_at > now - timedelta(days=1),
            )
        )
        if volunteer.path.startswith(a.path) or a.path.startswith(volunteer.path)
    ]
    if not candidates:
        raise Invalid("activity_code", field="code")
    activity = min(candidates, key=lambda a: abs((a.starts_at - now).total_seconds()))
    row = _row(session, activity, volunteer)
    if data.action == "in":
        if row is not None and row.in_at is not None:
            return row  # checked in already: the first time stands
        flags: list[str] = []
        if now < activity.starts_at - EARLY:
            flags.append(Flag.early.value)
        if now > activity.ends_at:
            flags.append(Flag.after_end.value)
        if activity.lon is not None and activity.lat is not None:
            if data.lon is None or data.lat is None:
                flags.append(Flag.no_position.value)
            elif distance_m(data.lon, data.lat, activity.lon, activity.lat) > activity.radius_m:
                flags.append(Flag.far.value)
        if row is None:
            row = Attendance(activity_id=activity.id, volunteer_id=volunteer.id)
            session.add(row)
        row.in_at, row.in_lon, row.in_lat = now, data.lon, data.lat
        row.flags = flags
        row.accepted = None if flags else True
    else:
        if row is None or row.in_at is None:
            raise Conflict("activity_not_in")
        if row.out_at is None:
            row.out_at = now
            if now > activity.ends_at + LATE_OUT:
                row.flags = [*row.flags, Flag.late_out.value]
                row.accepted = None if row.accepted is not False else False
            row.minutes = _minutes(activity, row.in_at, now)
    session.flush()
    return row


def decide_attendance(
    session: Session, *, actor: Principal, attendance: Attendance, accept: bool
) -> Attendance:
    """The community accepts a flagged check-in (one never checked out counts to the end of the
    activity) or refuses it (it counts nothing)."""
    activity = session.get(Activity, attendance.activity_id)
    assert activity is not None
    if not actor.can(Perm.volunteers_manage, activity.path):
        raise Forbidden(action=Perm.volunteers_manage.value)
    if attendance.in_at is None:
        raise Conflict("activity_not_in")
    attendance.accepted = accept
    attendance.decided_by = actor.actor
    if accept and attendance.out_at is None:
        attendance.out_at = activity.ends_at
    attendance.minutes = (
        _minutes(activity, attendance.in_at, attendance.out_at)
        if accept and attendance.out_at is not None
        else 0
    )
    session.flush()
    return attendance


def attendance_visible_or_raise(
    session: Session, *, actor: Principal, attendance_id: int
) -> Attendance:
    found = session.get(Attendance, attendance_id)
    if found is None:
        raise NotFound(what=phrase(N_("签到记录 {n}"), n=attendance_id))
    activity_visible_or_raise(session, actor=actor, activity_id=found.activity_id)
    return found


# --- hours --------------------------------------------------------------------------------------


@dataclass
class Hours:
    activities: float = 0.0
    patrol: float = 0.0

    @property
    def total(self) -> float:
        return round(self.activities + self.patrol, 2)


def hours(
    session: Session,
    *,
    volunteers: Sequence[Volunteer],
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, Hours]:
    """Service hours per volunteer: accepted attendance at activities, and — the same person in a
    patrol team — the runs walked and tasks worked on (patrol's own count)."""
    out: dict[int, Hours] = {v.id: Hours() for v in volunteers}
    if not out:
        return out
    stmt = (
        select(Attendance.volunteer_id, func.sum(Attendance.minutes))
        .join(Activity, Activity.id == Attendance.activity_id)
        .where(Attendance.accepted.is_(True))
        .group_by(Attendance.volunteer_id)
    )
    if len(out) < 5000:
        stmt = stmt.where(Attendance.volunteer_id.in_(list(out)))
    if since is not None:
        stmt = stmt.where(Activity.starts_at >= since)
    if until is not None:
        stmt = stmt.where(Activity.starts_at < until)
    for volunteer_id, served in session.execute(stmt):
        if volunteer_id in out:
            out[volunteer_id].activities = round(int(served or 0) / 60, 2)
    people: defaultdict[int, list[int]] = defaultdict(list)
    for v in volunteers:
        if v.person_id is not None:
            people[v.person_id].append(v.id)
    members = patrol_service.members_of_people(session, person_ids=list(people))
    if members:
        patrolled = patrol_service.service_minutes(
            session, member_ids=list(members), since=since, until=until
        )
        per_person: defaultdict[int, int] = defaultdict(int)
        for member_id, m in patrolled.items():
            per_person[members[member_id]] += m
        for person_id, m in per_person.items():
            first = people[person_id][0]  # a person in two programmes: counted once
            out[first].patrol = round(m / 60, 2)
    return out


# --- figures ------------------------------------------------------------------------------------


@dataclass
class Tally:
    community_id: int
    programme_id: int
    confirmed: int = 0
    pending: int = 0
    activities: int = 0
    hours_activities: float = 0.0
    hours_patrol: float = 0.0


def summary(session: Session, *, actor: Principal, since: datetime, until: datetime) -> list[Tally]:
    """Per community and programme: volunteers now, activities held and hours served in a
    period (assessment's figures)."""
    volunteers = list(session.scalars(select(Volunteer).where(scope_clause(actor))))
    served = hours(session, volunteers=volunteers, since=since, until=until)
    tally: dict[tuple[int, int], Tally] = {}

    def of(community_id: int, programme_id: int) -> Tally:
        return tally.setdefault((community_id, programme_id), Tally(community_id, programme_id))

    for v in volunteers:
        t = of(v.community_id, v.programme_id)
        t.confirmed += v.state == State.confirmed
        t.pending += v.state == State.pending
        t.hours_activities = round(t.hours_activities + served[v.id].activities, 2)
        t.hours_patrol = round(t.hours_patrol + served[v.id].patrol, 2)
    communities = {v.path: v.community_id for v in volunteers}
    for a in activities(session, actor=actor, since=since, until=until, limit=100_000):
        community = next((c for path, c in communities.items() if a.path.startswith(path)), None)
        if community is None:
            found = territory_service.enclosing(session, path=a.path, kind=NodeKind.community)
            community = found.id if found else None
        if community is not None and not a.cancelled:
            of(community, a.programme_id or 0).activities += 1
    return list(tally.values())
