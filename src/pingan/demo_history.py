"""The demo's three months: devices in every compound in the proportions a compound has, and
ninety days of what happens in a sub-district — alarms of every kind acknowledged by the desk,
some dispatched to patrol members, some false, resolved and closed; nightly patrol runs with their
check-ins; the volunteers' hours that follow — recorded through the platform's own services as
if they had happened then, so that every page and chart of a fresh demo has something to show.

Deterministic (one seed) apart from the moment it is run, which the history ends at.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import demo_faces, sim
from pingan.alarms import service as alarm_service
from pingan.alarms.flows import Action
from pingan.alarms.models import Alarm
from pingan.alarms.rules import Rule, RuleBook
from pingan.auth import service as auth_service
from pingan.auth.models import User
from pingan.auth.passwords import generate_password
from pingan.auth.principal import Principal
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db import meta
from pingan.db.base import utcnow
from pingan.devices import service as device_service
from pingan.devices.models import KIND_LABEL, Device, DeviceKind, Protocol
from pingan.devices.schemas import DeviceCreate
from pingan.faces.gallery import Gallery
from pingan.faces.vault import Vault
from pingan.patrol import dispatch
from pingan.patrol import service as patrol_service
from pingan.patrol.models import Route, Team, TeamKind
from pingan.patrol.schemas import CheckInIn, CheckpointIn, MemberIn, RouteIn, ShiftIn, TeamIn
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, SiteType, TerritoryNode
from pingan.territory.schemas import PersonCreate

CODE_PREFIX = "demo-"  # the simulator's `--fleet demo` keeps these alive
DAYS = 90
SEED = 20261207
HISTORY_KEY = "demo_history"

K, P = DeviceKind, Protocol
# What a compound of each type is equipped with: (kind, protocol, how many, where).
KIT: dict[SiteType, list[tuple[DeviceKind, Protocol, int, str]]] = {
    SiteType.commercial_residential: [
        (K.camera, P.http, 6, "周界"),
        (K.face_terminal, P.mqtt, 2, "人行门"),
        (K.access_controller, P.mqtt, 2, "单元门"),
        (K.smoke_detector, P.mqtt, 4, "楼栋大堂"),
        (K.gas_detector, P.mqtt, 1, "地下车库"),
        (K.panic_button, P.http, 1, "门岗"),
        (K.ebike_charger, P.mqtt, 2, "充电棚"),
        (K.hydrant_pressure, P.mqtt, 1, "消防泵房"),
    ],
    SiteType.resettlement: [
        (K.camera, P.http, 4, "周界"),
        (K.face_terminal, P.mqtt, 1, "人行门"),
        (K.access_controller, P.mqtt, 2, "单元门"),
        (K.smoke_detector, P.mqtt, 3, "楼栋大堂"),
        (K.gas_detector, P.mqtt, 1, "集中厨房"),
        (K.panic_button, P.http, 1, "门岗"),
        (K.ebike_charger, P.mqtt, 2, "充电棚"),
        (K.hydrant_pressure, P.mqtt, 1, "消防泵房"),
    ],
    SiteType.old_courtyard: [
        (K.camera, P.http, 2, "院门"),
        (K.access_controller, P.mqtt, 1, "院门"),
        (K.smoke_detector, P.mqtt, 2, "楼道"),
        (K.gas_detector, P.mqtt, 1, "楼道"),
        (K.panic_button, P.http, 1, "院门"),
        (K.ebike_charger, P.mqtt, 1, "充电棚"),
    ],
    SiteType.three_no: [
        (K.camera, P.http, 1, "院门"),
        (K.smoke_detector, P.mqtt, 2, "楼道"),
        (K.panic_button, P.http, 1, "院门"),
        (K.ebike_charger, P.mqtt, 1, "充电点"),
    ],
    SiteType.work_unit: [
        (K.camera, P.http, 3, "大门"),
        (K.access_controller, P.mqtt, 1, "大门"),
        (K.intrusion_panel, P.dc09, 1, "财务室"),
        (K.smoke_detector, P.mqtt, 2, "办公楼"),
        (K.hydrant_pressure, P.mqtt, 1, "消防泵房"),
    ],
    SiteType.business_building: [
        (K.camera, P.http, 4, "大堂"),
        (K.access_controller, P.mqtt, 2, "闸机"),
        (K.intrusion_panel, P.dc09, 1, "商铺"),
        (K.smoke_detector, P.mqtt, 4, "楼层"),
        (K.hydrant_pressure, P.mqtt, 1, "消防泵房"),
        (K.panic_button, P.http, 1, "服务台"),
    ],
}

# What goes wrong, by the kind of device: (event kind, code, share of alarms, share false,
# hours of the day it happens most).
TROUBLE: dict[DeviceKind, tuple[str, str, float, float, tuple[int, ...]]] = {
    K.smoke_detector: ("fire", "smoke", 0.24, 0.45, (11, 12, 17, 18, 19)),
    K.ebike_charger: ("sensor", "ebike_overheat", 0.16, 0.2, (19, 20, 21, 22, 23)),
    K.access_controller: ("door", "door_forced", 0.16, 0.35, (0, 1, 2, 3, 23)),
    K.panic_button: ("panic", "button", 0.08, 0.3, tuple(range(7, 22))),
    K.intrusion_panel: ("burglary", "BA", 0.1, 0.4, (0, 1, 2, 3, 4, 22, 23)),
    K.gas_detector: ("gas", "gas_leak", 0.08, 0.3, (7, 11, 12, 17, 18)),
    K.hydrant_pressure: ("sensor", "pressure_low", 0.08, 0.0, tuple(range(24))),
}
ABBR = {
    K.camera: "cam",
    K.face_terminal: "face",
    K.access_controller: "door",
    K.smoke_detector: "smk",
    K.gas_detector: "gas",
    K.panic_button: "sos",
    K.ebike_charger: "ebk",
    K.hydrant_pressure: "hyd",
    K.intrusion_panel: "pnl",
}
PER_DAY = 24  # alarms a day across the sub-district, on average
# Communities with a volunteer patrol team of their own (with 鱼凫路's, made for the phone page).
PATROL_COMMUNITIES = ("光华社区", "红光社区", "和平社区", "杨柳社区", "鱼凫路社区")


@dataclass(frozen=True)
class Placed:
    device: Device
    path: str


def equip(session: Session, *, actor: Principal, rng: random.Random, now: datetime) -> list[Placed]:
    """Every site's devices, registered through the device service (once: a site that has its
    demo devices keeps them). Most have just been heard from; a few are silent."""
    sites = territory_service.get_all_of_kinds(session, actor=actor, kinds=[NodeKind.site])
    have = set(session.scalars(select(Device.code).where(Device.code.startswith(CODE_PREFIX))))
    placed: list[Placed] = []
    seen: dict[int, datetime] = {}
    gone: list[int] = []
    for site in sites:
        kit = KIT.get(SiteType(site.site_type)) if site.site_type else None
        for kind, protocol, count, where in kit or []:
            for n in range(1, count + 1):
                code = f"{CODE_PREFIX}{site.id:03d}-{ABBR[kind]}{n:02d}"
                if code in have:
                    continue
                angle = rng.uniform(0, 2 * math.pi)
                reach = rng.uniform(0.0001, 0.0006)
                device = device_service.create(
                    session,
                    actor=actor,
                    data=DeviceCreate(
                        code=code,
                        name=f"{site.name}{where}{KIND_LABEL[kind]}{n}",
                        kind=kind,
                        protocol=protocol,
                        node_id=site.id,
                        location=f"{where}{n}",
                        vendor=rng.choice(["海康威视", "大华", "宇视", "海湾", "泛海三江"]),
                        lon=(site.lon or 103.8) + reach * math.cos(angle),
                        lat=(site.lat or 30.69) + reach * math.sin(angle),
                        sia_account=f"D{site.id:04X}{n}" if protocol == P.dc09 else None,
                    ),
                )
                placed.append(Placed(device, site.path))
                # Most were heard from a moment ago; the few the simulator keeps quiet went
                # silent days ago (and are offline, their alarm long dealt with).
                quiet = sim.silent(device.id)
                ago = (
                    timedelta(days=rng.uniform(1, 20))
                    if quiet
                    else timedelta(seconds=rng.uniform(1, 50))
                )
                seen[device.id] = now - ago
                if quiet:
                    gone.append(device.id)
    device_service.mark_seen(session, seen={i: t for i, t in seen.items() if i not in gone})
    for device_id in gone:  # each its own last message
        device_service.mark_seen(session, seen={device_id: seen[device_id]})
        device_service.mark_offline(
            session, device_ids=[device_id], now=seen[device_id] + timedelta(minutes=3)
        )
    return placed


def _face_sites(session: Session, *, actor: Principal) -> list[TerritoryNode]:
    """Compounds whose residents enrolled their faces: 柳欣苑 (the README's), then others of the
    communities with patrols."""
    sites = [
        s
        for s in territory_service.get_all_of_kinds(session, actor=actor, kinds=[NodeKind.site])
        if s.site_type == SiteType.commercial_residential
    ]
    names = {
        c.path: c.name
        for c in territory_service.get_all_of_kinds(
            session, actor=actor, kinds=[NodeKind.community]
        )
    }

    def community(site: TerritoryNode) -> str:
        return next((n for p, n in names.items() if site.path.startswith(p)), "")

    return sorted(
        (s for s in sites if community(s) in PATROL_COMMUNITIES),
        key=lambda s: (s.name != "柳欣苑", s.id),
    )


def _patrol_accounts(
    session: Session, *, actor: Principal, rng: random.Random
) -> list[tuple[Team, Route, Principal, int]]:
    """A volunteer team in some communities, each with a leader whose account walks its route
    (鱼凫路's is the demo's own team of the phone page)."""
    out = []
    sites = territory_service.sites_on_the_map(session, actor=actor)
    for name in PATROL_COMMUNITIES:
        community = territory_service.get_by_names(session, names=["柳城街道", name])
        if community is None:
            continue
        team = session.scalar(
            select(Team).where(Team.node_id == community.id, Team.kind == TeamKind.volunteers)
        )
        site = next((s for s in sites if s.path.startswith(community.path)), None)
        if site is None:
            continue
        if team is None:
            team = patrol_service.create_team(
                session,
                actor=actor,
                data=TeamIn(
                    kind=TeamKind.volunteers,
                    name=f"{name.removesuffix('社区')}红袖套志愿巡逻队",
                    node_id=community.id,
                ),
            )
        members = patrol_service.members(session, team=team)
        leader = next((m for m in members if m.user_id is not None), None)
        if leader is None:
            username = f"demo_patrol_{community.id}"
            user = auth_service.get_by_username(session, username=username)
            if user is None:
                user = auth_service.create(
                    session,
                    actor=actor,
                    data=UserCreate(
                        username=username,
                        display_name=f"{name}志愿者（演示）",
                        password=generate_password(),
                        roles=[BindingIn(role=Role.patrol_member, node_id=community.id)],
                    ),
                )
            person = territory_service.create_person(
                session,
                actor=actor,
                data=PersonCreate(
                    node_id=site.id, name=f"{rng.choice('张李王刘陈杨赵黄周吴')}志愿者"
                ),
            )
            leader = patrol_service.add_member(
                session,
                actor=actor,
                team_id=team.id,
                data=MemberIn(
                    person_id=person.id, user_id=user.id, leader=True, programme="红袖套"
                ),
            )
        route = session.scalar(select(Route).where(Route.team_id == team.id))
        if route is None:
            lon, lat = site.lon or 103.8, site.lat or 30.69
            route = patrol_service.create_route(
                session,
                actor=actor,
                data=RouteIn(
                    team_id=team.id,
                    name=f"{site.name}夜巡",
                    duration_min=40,
                    checkpoints=[
                        CheckpointIn(name="东门岗亭", lon=lon + 0.0004, lat=lat, due_min=10),
                        CheckpointIn(name="北侧围墙", lon=lon, lat=lat + 0.0005, due_min=22),
                        CheckpointIn(name="充电棚", lon=lon - 0.0004, lat=lat, due_min=35),
                    ],
                ),
            )
        user = session.get(User, leader.user_id) if leader.user_id else None
        if user is None:
            continue
        out.append((team, route, auth_service.principal_for(session, user=user), leader.id))
    return out


def _lognormal(rng: random.Random, median_s: float, spread: float = 0.8) -> timedelta:
    return timedelta(seconds=median_s * math.exp(rng.gauss(0, spread)))


def history(
    session: Session,
    *,
    actor: Principal,
    rules: RuleBook,
    vault: Vault,
    face_engine: str = "onnx",
    video_dir: Path | None = None,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Devices everywhere and ninety days of their history (once per database)."""
    if meta.get(session, HISTORY_KEY):
        return {}
    now = now or utcnow()
    rng = random.Random(SEED)
    say = progress or (lambda _s: None)
    say("devices")
    placed = equip(session, actor=actor, rng=rng, now=now)
    operator_user = auth_service.get_by_username(session, username="jd_operator")
    desk = auth_service.principal_for(session, user=operator_user) if operator_user else actor
    patrols = _patrol_accounts(session, actor=actor, rng=rng)
    counts = {"devices": len(placed), "alarms": 0, "false": 0, "dispatched": 0, "runs": 0}
    counts |= {"recognitions": 0, "grant": 0, "deny": 0, "seen": 0}
    start = now - timedelta(days=DAYS)
    say("faces")
    face_sites = _face_sites(session, actor=actor)
    doors, engine = demo_faces.setup(
        session,
        actor=actor,
        vault=vault,
        face_engine=face_engine,
        sites=face_sites,
        given=start - timedelta(days=30),
    )
    if video_dir is not None and face_sites:
        clip = demo_faces.gate_video(video_dir / "demo-gate.avi")
        demo_faces.camera(session, site=face_sites[0], video=clip)
    gallery = Gallery(engine[0], engine[1], vault)

    def seen(decision: str) -> None:
        counts["recognitions"] += 1
        counts[decision] += 1

    by_kind: dict[DeviceKind, list[Placed]] = {}
    for p in placed:
        by_kind.setdefault(DeviceKind(p.device.kind), []).append(p)
    kinds = [k for k in TROUBLE if by_kind.get(k)]
    weights = [TROUBLE[k][2] for k in kinds]
    for day in range(DAYS):
        if day % 10 == 0:
            say(f"history {day}/{DAYS} days")
        midnight = (start + timedelta(days=day)).replace(hour=0, minute=0, second=0)
        # Shifts of the night, and a run of each team's route.
        for team, route, walker, member_id in patrols:
            evening = midnight + timedelta(hours=12)  # 20:00 in Beijing
            patrol_service.add_shift(
                session,
                actor=actor,
                team_id=team.id,
                data=ShiftIn(
                    member_id=member_id, starts_at=evening, ends_at=evening + timedelta(hours=10)
                ),
            )
            if rng.random() < 0.85 and evening + timedelta(hours=2) < now:
                _walk(session, route=route, walker=walker, vault=vault, rng=rng, at=evening)
                counts["runs"] += 1
        demo_faces.day(
            session,
            doors=doors,
            engine=engine,
            vault=vault,
            gallery=gallery,
            midnight=midnight,
            now=now,
            rng=rng,
            count=seen,
        )
        for _n in range(max(0, round(rng.gauss(PER_DAY, 5)))):
            kind = rng.choices(kinds, weights)[0]
            event_kind, code, _share, false_share, hours = TROUBLE[kind]
            target = rng.choice(by_kind[kind])
            hour = rng.choice(hours) if rng.random() < 0.7 else rng.randrange(24)
            at = midnight + timedelta(hours=(hour - 8) % 24, seconds=rng.uniform(0, 3600))
            if at >= now - timedelta(minutes=30):
                continue
            found = rules.match(kind=event_kind, code=code, device_kind=kind.value)
            if not found:
                continue
            counts["alarms"] += 1
            counts["false"] += _handle(
                session,
                rules=rules,
                rule=found[0],
                target=target,
                at=at,
                desk=desk,
                rng=rng,
                false_share=false_share,
                now=now,
                counts=counts,
            )
    counts["alarms"] += _strangers(
        session,
        doors=doors,
        engine=engine,
        vault=vault,
        gallery=gallery,
        rules=rules,
        desk=desk,
        now=now,
    )
    counts["alarms"] += _open_now(session, rules=rules, placed=placed, now=now)
    meta.put(session, HISTORY_KEY, now.isoformat())
    session.flush()
    return counts


def _strangers(
    session: Session,
    *,
    doors: list[demo_faces.Doors],
    engine: tuple[str, int],
    vault: Vault,
    gallery: Gallery,
    rules: RuleBook,
    desk: Principal,
    now: datetime,
) -> int:
    """Two recurring strangers at 柳欣苑's doors at night: one four nights ago, looked into and
    resolved by the desk; one last night, still open."""
    if not doors:
        return 0
    last_night = now.replace(hour=15, minute=10, second=0, microsecond=0)  # 23:10 in Beijing
    if last_night > now - timedelta(hours=1):
        last_night -= timedelta(days=1)
    raised = 0
    for days_ago, seed in ((4, 901), (0, 902)):
        at = last_night - timedelta(days=days_ago)
        alarm = demo_faces.night_stranger(
            session,
            place=doors[0],
            engine=engine,
            vault=vault,
            gallery=gallery,
            rules=rules,
            at=at,
            seed=seed,
        )
        if alarm is None:
            continue
        raised += 1
        if days_ago:
            alarm_service.act(
                session,
                actor=desk,
                alarm=alarm,
                action=Action.acknowledge,
                at=at + timedelta(minutes=40),
            )
            alarm_service.act(
                session, actor=desk, alarm=alarm, action=Action.resolve, at=at + timedelta(hours=10)
            )
    return raised


def _handle(
    session: Session,
    *,
    rules: RuleBook,
    rule: Rule,
    target: Placed,
    at: datetime,
    desk: Principal,
    rng: random.Random,
    false_share: float,
    now: datetime,
    counts: dict[str, int],
) -> int:
    """One alarm from raising to closing, at the times a desk takes."""
    device = target.device
    zone = str(counts["alarms"])
    alarm = alarm_service.open_alarm(
        session,
        rules=rules,
        rule=rule,
        subject=device.name,
        node_id=device.node_id,
        path=target.path,
        key=alarm_service.dedupe_key(device.id, rule.id, zone),
        at=at,
        device_id=device.id,
        zone=zone,
    )
    recent = now - at < timedelta(hours=3)
    ack = at + _lognormal(rng, {1: 25, 2: 70}.get(rule.priority, 240))
    wait = rules.escalation_s(rule.priority)
    if wait and ack - at > timedelta(seconds=wait):
        alarm_service.escalate_due(session, rules=rules, now=at + timedelta(seconds=wait + 1))
    if (recent and rng.random() < 0.5) or ack >= now:
        return 0  # still on the desk: raised a little while ago
    alarm_service.act(session, actor=desk, alarm=alarm, action=Action.acknowledge, at=ack)
    done: datetime | None
    if rng.random() < false_share:
        false, done = 1, ack + _lognormal(rng, 300)
        if done >= now:
            return 0
        alarm_service.act(session, actor=desk, alarm=alarm, action=Action.false_alarm, at=done)
    else:
        false = 0
        done = _dispatch_or_resolve(
            session, alarm=alarm, desk=desk, rng=rng, ack=ack, now=now, counts=counts
        )
    if done is None or done >= now - timedelta(minutes=20):
        return false
    closed = done + _lognormal(rng, 3600)
    if closed < now:
        alarm_service.act(session, actor=desk, alarm=alarm, action=Action.close, at=closed)
    return false


# What the desk has in hand when the demo opens: (compound, kind of device, minutes ago,
# acknowledged by the community's operator).
NOW = (
    ("柳欣苑", K.ebike_charger, 6, False),
    ("柳欣苑", K.access_controller, 24, True),
    (None, K.smoke_detector, 3, False),
    (None, K.gas_detector, 41, True),
)


def _open_now(session: Session, *, rules: RuleBook, placed: list[Placed], now: datetime) -> int:
    """A few alarms still open, in 鱼凫路社区's 柳欣苑 (the README's accounts) and elsewhere."""
    operator = auth_service.get_by_username(session, username="yfl_operator")
    count = 0
    for n, (site_name, kind, minutes, acknowledged) in enumerate(NOW):
        target = next(
            (
                p
                for p in placed
                if p.device.kind == kind
                and (site_name is None or p.device.name.startswith(site_name))
                and (site_name is not None or "柳欣苑" not in p.device.name)
            ),
            None,
        )
        if target is None:
            continue
        event_kind, code, *_rest = TROUBLE[kind]
        found = rules.match(kind=event_kind, code=code, device_kind=kind.value)
        if not found:
            continue
        rule, at = found[0], now - timedelta(minutes=minutes)
        alarm = alarm_service.open_alarm(
            session,
            rules=rules,
            rule=rule,
            subject=target.device.name,
            node_id=target.device.node_id,
            path=target.path,
            key=alarm_service.dedupe_key(target.device.id, rule.id, str(n + 1)),
            at=at,
            device_id=target.device.id,
            zone=str(n + 1),
        )
        count += 1
        if acknowledged and operator is not None and site_name is not None:
            desk = auth_service.principal_for(session, user=operator)
            alarm_service.act(
                session,
                actor=desk,
                alarm=alarm,
                action=Action.acknowledge,
                at=at + timedelta(seconds=40),
            )
        elif acknowledged:
            street = auth_service.get_by_username(session, username="jd_operator")
            if street is not None:
                alarm_service.act(
                    session,
                    actor=auth_service.principal_for(session, user=street),
                    alarm=alarm,
                    action=Action.acknowledge,
                    at=at + timedelta(seconds=75),
                )
    return count


STEPS = (("accept", 30), ("en_route", 20), ("on_scene", 300), ("resolve", 900))


def _dispatch_or_resolve(
    session: Session,
    *,
    alarm: Alarm,
    desk: Principal,
    rng: random.Random,
    ack: datetime,
    now: datetime,
    counts: dict[str, int],
) -> datetime | None:
    """A serious alarm goes to the nearest patrol member on duty, who accepts, goes, and
    resolves it; the rest the desk resolves by phone. When it ended (None: not yet)."""
    sent = ack + _lognormal(rng, 40)
    if alarm.priority <= 2 and sent < now and rng.random() < 0.6:
        candidates = dispatch.candidates(session, alarm, now=sent)
        if candidates:
            member, _far = candidates[0]
            task = dispatch.offer(session, actor=desk, alarm=alarm, member_id=member.id, now=sent)
            user = session.get(User, member.user_id) if member.user_id else None
            if task is not None and user is not None:
                counts["dispatched"] += 1
                responder = auth_service.principal_for(session, user=user)
                t = sent
                for step, median in STEPS:
                    t += _lognormal(rng, median, 0.6)
                    if t >= now:
                        return None  # under way now
                    dispatch.step(session, actor=responder, task=task, name=step, now=t)
                return t
    done = ack + _lognormal(rng, 1200, 0.9)
    if done >= now:
        return None
    alarm_service.act(session, actor=desk, alarm=alarm, action=Action.resolve, at=done)
    return done


def _walk(
    session: Session,
    *,
    route: Route,
    walker: Principal,
    vault: Vault,
    rng: random.Random,
    at: datetime,
) -> None:
    """A night's run of a route: the checkpoints scanned in order, now and then one late or
    missed, and the run finished."""
    started = at + timedelta(minutes=rng.uniform(0, 90))
    run = patrol_service.start_run(session, actor=walker, route=route, now=started)
    for checkpoint in patrol_service.checkpoints(session, route=route):
        if rng.random() < 0.06:
            continue  # missed
        late = rng.random() < 0.08
        when = started + timedelta(
            minutes=checkpoint.due_min * rng.uniform(0.6, 0.95) + (9 if late else 0)
        )
        patrol_service.check_in(
            session,
            actor=walker,
            run_id=run.id,
            vault=vault,
            data=CheckInIn(
                token=patrol_service.token(vault, checkpoint),
                lon=checkpoint.lon + rng.uniform(-0.0001, 0.0001),
                lat=checkpoint.lat + rng.uniform(-0.0001, 0.0001),
                at=when,
            ),
        )
    patrol_service.finish_run(
        session,
        actor=walker,
        run=run,
        now=started + timedelta(minutes=route.duration_min * rng.uniform(0.8, 1.1)),
    )
