"""Dispatch: an alarm offered to the nearest on-duty responder; accept → on the way → on scene →
resolved, or cannot attend; not accepted in time, it passes to the next and the centre sees it.
Every step is a line on the alarm's timeline, so the desks follow it live."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.alarms import flows
from pingan.alarms import service as alarm_service
from pingan.alarms.flows import Action
from pingan.alarms.models import Alarm, AlarmEntry, AlarmState
from pingan.alarms.notify import outbox
from pingan.alarms.rules import RuleBook
from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.errors import Conflict, NotFound
from pingan.i18n import N_, phrase
from pingan.patrol import service as patrol_service
from pingan.patrol.models import OPEN_TASKS, Member, Task, TaskState, Team
from pingan.territory.geo import distance_m
from pingan.territory.models import NodeKind, Person, ancestor_path

ACCEPT_S = 60  # without rules: a responder who does not accept within this passes the task on
PRESENCE_S = 45  # a phone page that has not been seen for this long is closed
RESPONDER_FRESH = timedelta(minutes=30)  # an older position says nothing of where they are
AUTO_WINDOW = timedelta(minutes=10)  # a rule's alarm older than this is not dispatched by itself

STEPS: dict[str, tuple[set[TaskState], TaskState, Action | None]] = {
    # step: (from states, to state, the alarm's move)
    "accept": ({TaskState.offered}, TaskState.accepted, None),
    "en_route": ({TaskState.accepted}, TaskState.en_route, None),
    "on_scene": ({TaskState.accepted, TaskState.en_route}, TaskState.on_scene, Action.arrive),
    "resolve": (
        {TaskState.accepted, TaskState.en_route, TaskState.on_scene},
        TaskState.resolved,
        Action.resolve,
    ),
    "decline": (
        {TaskState.offered, TaskState.accepted, TaskState.en_route},
        TaskState.declined,
        None,
    ),
}
STEP_LABEL = {
    "offered": N_("派给"),
    "accept": N_("接受任务"),
    "en_route": N_("正在前往"),
    "on_scene": N_("已到场"),
    "resolve": N_("处置完毕"),
    "decline": N_("无法前往"),
    "timed_out": N_("超时未接，转派"),
    "none_left": N_("无人可派，请中心处理"),
    "cancel": N_("中心已结束此报警，任务取消"),
}


def serves(team_path: str, alarm_path: str) -> bool:
    """Whether a team answers alarms of a place: a team of the place's community (or below it),
    or one above it (the street's)."""
    community = ancestor_path(alarm_path, NodeKind.community) or alarm_path
    return team_path.startswith(community) or alarm_path.startswith(team_path)


def candidates(
    session: Session, alarm: Alarm, *, now: datetime
) -> list[tuple[Member, float | None]]:
    """On-duty members of teams serving the alarm's place: nearest by their last position first,
    then those without one, closest team first (the site's guards before the street's patrol)."""
    on_duty = {m.id: m for _s, m in patrol_service.on_duty(session, actor=SYSTEM, at=now)}
    rows = [(m, m.path) for m in on_duty.values() if m.user_id is not None]
    point = alarm_service.place_of(session, alarm=alarm).point
    found: list[tuple[Member, float | None, int]] = []
    for member, team_path in rows:
        if not serves(team_path, alarm.path):
            continue
        far = (
            distance_m(member.last_lon, member.last_lat, point[0], point[1])
            if point and member.last_lon is not None and member.last_lat is not None
            else None
        )
        depth = -team_path.count("/") if alarm.path.startswith(team_path) else 0
        found.append((member, far, depth))
    found.sort(key=lambda f: (f[1] is None, f[1] or 0.0, f[2], f[0].id))
    return [(m, far) for m, far, _d in found]


def candidate_view(session: Session, alarm: Alarm, *, limit: int = 10) -> list[dict[str, Any]]:
    """Who the centre can send, nearest first, and whether they are on a task already."""
    engaged = busy(session)
    out = []
    for member, far in candidates(session, alarm, now=utcnow())[:limit]:
        team = session.get(Team, member.team_id)
        out.append(
            {
                "member_id": member.id,
                "name": _name(session, member),
                "team": team.name if team else "",
                "distance_m": round(far) if far is not None else None,
                "busy": member.id in engaged,
            }
        )
    return out


def busy(session: Session) -> set[int]:
    """Members on a task of an alarm still open (a task of an alarm ended at the desk is over,
    even before the worker marks it cancelled)."""
    return set(
        session.scalars(
            select(Task.member_id)
            .join(Alarm, Alarm.id == Task.alarm_id)
            .where(Task.state.in_(OPEN_TASKS), Alarm.is_open.is_(True))
        )
    )


def _name(session: Session, member: Member) -> str:
    person = session.get(Person, member.person_id)
    return person.name if person else f"#{member.id}"


def responder_name(session: Session, task: Task) -> str:
    member = session.get(Member, task.member_id)
    return _name(session, member) if member else f"#{task.member_id}"


def _move(
    session: Session,
    alarm: Alarm,
    action: Action,
    actor: Principal,
    note: str | None,
    *,
    by_own_task: bool = True,
    at: datetime | None = None,
) -> None:
    """The alarm follows its responder, when its state allows that move: by their own task,
    not by a permission of the desk (and then it is no acknowledgement by the desk)."""
    if action in flows.allowed(alarm.state):
        alarm_service.act(
            session,
            actor=actor,
            alarm=alarm,
            action=action,
            note=note,
            by_own_task=by_own_task,
            at=at,
        )


def offer(
    session: Session,
    *,
    actor: Principal,
    alarm: Alarm,
    member_id: int | None = None,
    tried: list[int] | None = None,
    now: datetime | None = None,
    rules: RuleBook | None = None,
) -> Task | None:
    """Offer the alarm to a responder (the one named, or the nearest on duty not yet tried).
    None when nobody is left: the centre is told on the timeline. A responder whose phone page
    is closed is also told through the notification channels (`rules`)."""
    actor.require(Perm.alarms_handle, alarm.path, phrase(N_("报警 {n}"), n=alarm.id))
    if not alarm.is_open:
        raise Conflict("dispatch_closed", field="alarm")
    now = now or utcnow()
    tried = list(tried or [])
    if session.scalar(select(Task.id).where(Task.alarm_id == alarm.id, Task.state.in_(OPEN_TASKS))):
        raise Conflict("dispatch_open", field="alarm")
    pool = candidates(session, alarm, now=now)
    if member_id is not None:
        pool = [(m, far) for m, far in pool if m.id == member_id]
        if not pool:
            raise NotFound(what=phrase(N_("值班队员 {n}"), n=member_id))
    pool = [(m, far) for m, far in pool if m.id not in tried]
    if not pool:
        alarm_service.record(
            session, alarm=alarm, action="dispatch_none", actor=actor, note=STEP_LABEL["none_left"]
        )
        return None
    member, far = pool[0]
    # An operator's dispatch acknowledges the alarm; the platform's own leaves that to a person.
    _move(session, alarm, Action.dispatch, actor, _name(session, member), by_own_task=False, at=now)
    task = Task(
        alarm_id=alarm.id,
        member_id=member.id,
        path=alarm.path,
        state=TaskState.offered,
        offered_at=now,
        deadline=now + timedelta(seconds=rules.current.dispatch_accept_s if rules else ACCEPT_S),
        distance_m=round(far, 1) if far is not None else None,
        tried=[*tried, member.id],
    )
    session.add(task)
    entry = alarm_service.record(
        session,
        alarm=alarm,
        action="dispatch_offer",
        actor=actor,
        note=f"{_name(session, member)}" + (f" · {far:.0f} m" if far is not None else ""),
        at=now,
    )
    if rules is not None and not reachable(member, now=now):
        person = session.get(Person, member.person_id)
        outbox.enqueue_for_responder(
            session, alarm=alarm, entry=entry, number=person.phone if person else None, rules=rules
        )
    session.flush()
    return task


def reachable(member: Member, *, now: datetime) -> bool:
    """Whether the member's phone page is open (it says so every few seconds while it is)."""
    seen = member.page_seen_at
    return seen is not None and now - seen <= timedelta(seconds=PRESENCE_S)


def page_open(session: Session, *, actor: Principal, now: datetime | None = None) -> list[str]:
    """The responder's phone page is open now. Returns the paths of their teams: the places
    whose dispatches can concern them."""
    now = now or utcnow()
    paths = []
    for member, team_path in session.execute(
        select(Member, Team.path)
        .join(Team, Team.id == Member.team_id)
        .where(Member.user_id == actor.user_id)
    ):
        member.page_seen_at = now
        paths.append(team_path)
    session.flush()
    return paths


def auto_dispatch(session: Session, *, rules: RuleBook, now: datetime | None = None) -> int:
    """Alarms of rules marked `dispatch: true`, raised and not yet dispatched, go to the nearest
    responder on duty without waiting for an operator. Each is tried once; after that the centre
    (or the offer's passing on) takes over."""
    now = now or utcnow()
    ids = [r.id for r in rules.current.rules if r.dispatch]
    if not ids:
        return 0
    tried = select(AlarmEntry.id).where(
        AlarmEntry.alarm_id == Alarm.id, AlarmEntry.action.like("dispatch%")
    )
    alarms = session.scalars(
        select(Alarm)
        .where(
            Alarm.is_open.is_(True),
            Alarm.state == AlarmState.raised,
            Alarm.rule_id.in_(ids),
            Alarm.raised_at >= now - AUTO_WINDOW,
            ~tried.exists(),
        )
        .order_by(Alarm.priority, Alarm.id)
    ).all()
    for alarm in alarms:
        offer(session, actor=SYSTEM, alarm=alarm, now=now, rules=rules)
    return len(alarms)


def open_tasks(session: Session, *, actor: Principal) -> list[Task]:
    """Tasks not yet finished, of alarms in the actor's scope, newest first."""
    return list(
        session.scalars(
            select(Task)
            .where(Task.state.in_(OPEN_TASKS), actor.filter(Task.path, Perm.alarms_read))
            .order_by(Task.offered_at.desc())
        )
    )


def my_tasks(session: Session, *, actor: Principal) -> list[Task]:
    return list(
        session.scalars(
            select(Task)
            .join(Member, Member.id == Task.member_id)
            .where(Member.user_id == actor.user_id, Task.state.in_(OPEN_TASKS))
            .order_by(Task.offered_at.desc())
        )
    )


def has_task(session: Session, *, actor: Principal, alarm_id: int) -> bool:
    """Whether the actor was given a task on this alarm (what they find there is theirs to report)."""
    if actor.user_id is None:
        return False
    found = session.scalar(
        select(Task.id)
        .join(Member, Member.id == Task.member_id)
        .where(Member.user_id == actor.user_id, Task.alarm_id == alarm_id)
        .limit(1)
    )
    return found is not None


def task_for_responder(session: Session, *, actor: Principal, task_id: int) -> Task:
    task = session.get(Task, task_id)
    member = session.get(Member, task.member_id) if task else None
    if task is None or member is None or member.user_id != actor.user_id:
        raise NotFound(what=phrase(N_("任务 {n}"), n=task_id))
    return task


def task_visible_or_raise(session: Session, *, actor: Principal, task_id: int) -> Task:
    """The responder's own task, or one of an alarm the caller may read."""
    task = session.get(Task, task_id)
    if task is not None:
        member = session.get(Member, task.member_id)
        if (member is not None and member.user_id == actor.user_id) or actor.can(
            Perm.alarms_read, task.path
        ):
            return task
    raise NotFound(what=phrase(N_("任务 {n}"), n=task_id))


def step(
    session: Session,
    *,
    actor: Principal,
    task: Task,
    name: str,
    note: str | None = None,
    photo: bytes | None = None,
    rules: RuleBook | None = None,
    now: datetime | None = None,
) -> Task:
    """The responder's move on their task; the alarm and its timeline follow. `now`: a step
    recorded after the fact (the demo's history)."""
    if name not in STEPS:
        raise NotFound(what=phrase(N_("步骤 {n}"), n=name))
    allowed, target, action = STEPS[name]
    if task.state not in allowed:
        raise Conflict("dispatch_step", field="step", step=name, state=task.state.value)
    alarm = session.get(Alarm, task.alarm_id)
    assert alarm is not None
    now = now or utcnow()
    task.state = target
    if target == TaskState.accepted:
        task.accepted_at = now
    if target == TaskState.on_scene:
        task.arrived_at = now
    if target in (TaskState.resolved, TaskState.declined):
        task.finished_at = now
        task.note = note  # the time from accepting to here is service (service_minutes)
    if photo is not None:
        task.photo = photo
    # The responder acts on the alarm as themselves, within their own scope.
    if action is not None:
        _move(session, alarm, action, actor, note, at=now)
    alarm_service.record(
        session,
        alarm=alarm,
        action=f"dispatch_{name}",
        actor=actor,
        note=note or STEP_LABEL[name],
        at=now,
    )
    session.flush()
    if target == TaskState.declined:
        offer(session, actor=SYSTEM, alarm=alarm, tried=list(task.tried), now=now, rules=rules)
    return task


def cancel_ended(session: Session, *, now: datetime | None = None) -> int:
    """Tasks of alarms the centre has ended another way (resolved at the desk, a false alarm,
    closed) are cancelled, and the responder's phone drops them (a worker runs this)."""
    now = now or utcnow()
    rows = session.execute(
        select(Task, Alarm)
        .join(Alarm, Alarm.id == Task.alarm_id)
        .where(Task.state.in_(OPEN_TASKS), Alarm.is_open.is_(False))
    ).all()
    for task, alarm in rows:
        task.state, task.finished_at = TaskState.cancelled, now
        alarm_service.record(
            session, alarm=alarm, action="dispatch_cancel", actor=SYSTEM, note=STEP_LABEL["cancel"]
        )
    session.flush()
    return len(rows)


def pass_on_overdue(
    session: Session, *, now: datetime | None = None, rules: RuleBook | None = None
) -> int:
    """Offers not accepted in time go to the next responder (a worker runs this)."""
    now = now or utcnow()
    overdue = session.scalars(
        select(Task).where(Task.state == TaskState.offered, Task.deadline <= now)
    ).all()
    for task in overdue:
        task.state = TaskState.timed_out
        task.finished_at = now
        alarm = session.get(Alarm, task.alarm_id)
        if alarm is None or not alarm.is_open:
            continue  # nothing left to pass on
        alarm_service.record(
            session,
            alarm=alarm,
            action="dispatch_timeout",
            actor=SYSTEM,
            note=STEP_LABEL["timed_out"],
        )
        session.flush()
        offer(session, actor=SYSTEM, alarm=alarm, tried=list(task.tried), now=now, rules=rules)
    return len(overdue)


def task_view(session: Session, task: Task) -> dict[str, Any]:
    """What the responder's phone shows of a task: the alarm, its place, where to go, and the
    picture that came with it."""
    alarm = session.get(Alarm, task.alarm_id)
    assert alarm is not None
    point = alarm_service.place_of(session, alarm=alarm).point
    return {
        "id": task.id,
        "alarm_id": alarm.id,
        "member_id": task.member_id,
        "state": task.state,
        "offered_at": task.offered_at,
        "deadline": task.deadline,
        "accepted_at": task.accepted_at,
        "arrived_at": task.arrived_at,
        "finished_at": task.finished_at,
        "distance_m": task.distance_m,
        "note": task.note,
        "has_photo": task.has_photo,
        "title": alarm.title,
        "subject": alarm.subject,
        "category": alarm.category,
        "priority": alarm.priority,
        "raised_at": alarm.raised_at,
        "place": outbox.place_of(session, alarm),
        "lon": point[0] if point else None,
        "lat": point[1] if point else None,
        "snapshot": alarm_service.alarm_snapshot(session, alarm),
    }


def tasks_of(session: Session, *, alarm: Alarm) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.alarm_id == alarm.id).order_by(Task.id)))


def update_position(session: Session, *, actor: Principal, lon: float, lat: float) -> None:
    now = utcnow()
    for member in session.scalars(select(Member).where(Member.user_id == actor.user_id)):
        member.last_lon, member.last_lat, member.last_position_at = lon, lat, now
    session.flush()


def on_the_map(
    session: Session, *, actor: Principal, fresh: timedelta = RESPONDER_FRESH
) -> list[tuple[Member, str, str, bool]]:
    """Responders on duty now, where the actor may dispatch, whose phone sent a position lately:
    (member, name, team, busy). Nobody off duty is shown, nor anyone's track."""
    now = utcnow()
    engaged = busy(session)
    members = {
        m.id: m
        for _s, m in patrol_service.on_duty(session, actor=actor, at=now, perm=Perm.alarms_handle)
        if m.last_position_at is not None and m.last_position_at >= now - fresh
    }
    names = patrol_service.member_names(session, member_ids=members)
    teams = patrol_service.team_names(session, team_ids=[m.team_id for m in members.values()])
    return [
        (m, names.get(m.id, ""), teams.get(m.team_id, ""), m.id in engaged)
        for m in members.values()
    ]
