"""The demo's volunteers: in every community, teams of 红袖套, 蓝马甲 and 橙丝带, residents who signed
up over the year (most confirmed, some waiting, a few who left), and half a year of activities —
civility persuasion, policy talks, mediation (linked to the community's neighbour disputes),
patrols, services — with sign-ups, check-ins and check-outs, a few flagged for the community to
look at. The patrol volunteers already in teams are volunteers of 红袖套 too."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import demo_incidents
from pingan.auth.principal import Principal
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import SHANGHAI, utcnow
from pingan.incidents import service as incident_service
from pingan.patrol.models import Member
from pingan.territory.models import NodeKind, Person, TerritoryNode
from pingan.volunteers import service
from pingan.volunteers.models import Activity, ActivityKind, Attendance, State, Volunteer
from pingan.volunteers.schemas import ActivityIn, DecisionIn, SignUpIn, TeamIn

DONE_KEY = "demo_volunteers"
SEED = 20260301
PER_COMMUNITY = 64  # sign-ups a community had over the year
WEEKS = 26  # of activities behind, and two ahead
PER_WEEK = 8
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "建国秀英桂兰玉梅淑珍志强红梅海燕丽华春花晓明文静德胜凤英国庆小红金凤永红伟"
TITLES = {
    ActivityKind.civility: ("{site}文明劝导", "劝导不文明养犬、乱扔垃圾"),
    ActivityKind.policy_talk: ("{site}政策宣讲", "防范电信诈骗宣讲"),
    ActivityKind.mediation: ("{site}邻里纠纷调解", "邻里噪声、漏水纠纷调解"),
    ActivityKind.patrol: ("{site}夜间巡逻", "夜间治安巡逻"),
    ActivityKind.service: ("{site}便民服务", "为独居老人上门服务"),
}
KEY_OF = "demo_volunteer_key"  # one volunteer's key, printed for the phone page


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, 2))


def year(
    session: Session,
    *,
    actor: Principal,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Once per demo database: the volunteers and their half year."""
    if meta.get(session, DONE_KEY):
        return {}
    say = progress or (lambda _s: None)
    now = now or utcnow()
    rng = random.Random(SEED)
    communities = list(
        session.scalars(
            select(TerritoryNode)
            .where(TerritoryNode.kind == NodeKind.community)
            .order_by(TerritoryNode.id)
        )
    )
    if not communities:
        return {}
    programmes = {p.code: p for p in service.programmes(session)}
    counts = {"volunteers": 0, "confirmed": 0, "activities": 0, "attendances": 0, "flagged": 0}
    say("volunteer teams and sign-ups")
    serving: dict[int, list[Volunteer]] = {}
    keys: dict[int, str] = {}  # the keys given at sign-up, known to the demo alone
    phone = 13_500_000_000
    for community in communities:
        staff = demo_incidents.staff_of(
            f"{community.name}工作人员", Role.community_admin, community.path
        )
        teams = {
            code: service.create_team(
                session,
                actor=staff,
                data=TeamIn(
                    programme_id=p.id, node_id=community.id, name=f"{community.name}{p.name}队"
                ),
            )
            for code, p in programmes.items()
        }
        mine: list[Volunteer] = []
        for n in range(PER_COMMUNITY):
            code = rng.choice(["red_armband", "red_armband", "blue_vest", "orange_ribbon"])
            phone += rng.randrange(1, 9000)
            volunteer, given = service.sign_up(
                session,
                data=SignUpIn(
                    name=_name(rng),
                    phone=str(phone),
                    community_id=community.id,
                    programme_id=programmes[code].id,
                ),
            )
            counts["volunteers"] += 1
            if n % 16 == 15:  # signed up these last days: waiting for the community
                volunteer.created_at = now - timedelta(hours=rng.randrange(2, 240))
                continue
            signed = now - timedelta(days=rng.randrange(3, 360), minutes=rng.randrange(1440))
            volunteer.created_at = signed
            keys[volunteer.id] = given
            service.decide(
                session,
                actor=staff,
                volunteer=volunteer,
                data=DecisionIn(decision="confirm", team_id=teams[code].id),
            )
            volunteer.decided_at = signed + timedelta(days=rng.randrange(1, 4))
            if n % 25 == 7:
                service.decide(
                    session, actor=staff, volunteer=volunteer, data=DecisionIn(decision="leave")
                )
                continue
            counts["confirmed"] += 1
            mine.append(volunteer)
        serving[community.id] = mine
    _patrol_volunteers(session, programmes["red_armband"].id, now)
    session.flush()

    say("half a year of volunteer activities")
    sites: dict[int, list[TerritoryNode]] = {}
    for site in session.scalars(
        select(TerritoryNode).where(
            TerritoryNode.kind == NodeKind.site, TerritoryNode.lon.is_not(None)
        )
    ):
        community_id = int(site.path.strip("/").split("/")[1])
        sites.setdefault(community_id, []).append(site)
    disputes = {
        c.id: [
            i.id
            for i in incident_service.get_all(
                session,
                actor=demo_incidents.staff_of("", Role.community_admin, c.path),
                filters=incident_service.Filters(category="dispute"),
                limit=5,
            )[0]
        ]
        for c in communities
    }
    kinds = list(ActivityKind)
    today = datetime.combine(now.astimezone(SHANGHAI).date(), time(), SHANGHAI)
    for week in range(-WEEKS, 2):
        for n in range(PER_WEEK):
            community = rng.choice(communities)
            places = sites.get(community.id) or []
            if not places:
                continue
            site = rng.choice(places)
            kind = kinds[(week * PER_WEEK + n) % len(kinds)]
            starts = today + timedelta(
                days=7 * week + rng.randrange(7), hours=rng.choice([9, 14, 19])
            )
            staff = demo_incidents.staff_of(
                f"{community.name}工作人员", Role.community_admin, community.path
            )
            title, _about = TITLES[kind]
            linked = disputes.get(community.id) if kind == ActivityKind.mediation else None
            code = {
                ActivityKind.patrol: "red_armband",
                ActivityKind.civility: "red_armband",
                ActivityKind.policy_talk: "blue_vest",
                ActivityKind.service: "blue_vest",
                ActivityKind.mediation: "orange_ribbon",
            }[kind]
            activity = service.create_activity(
                session,
                actor=staff,
                data=ActivityIn(
                    kind=kind,
                    title=title.format(site=site.name),
                    programme_id=programmes[code].id,
                    node_id=site.id,
                    place=f"{site.name}{rng.choice(['东门', '广场', '活动室', '北门'])}",
                    lon=site.lon,
                    lat=site.lat,
                    radius_m=300,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    capacity=20,
                    incident_id=linked[0] if linked else None,
                ),
            )
            counts["activities"] += 1
            _turn_out(session, rng, activity, serving.get(community.id, []), now, counts)
    # The key printed for the phone page: the volunteer who served most.
    served = service.hours(session, volunteers=[v for vs in serving.values() for v in vs])
    busiest = max(served, key=lambda v: served[v].total)
    meta.put(session, DONE_KEY, now.isoformat())
    meta.put(session, KEY_OF, keys[busiest])
    session.flush()
    return counts


def _turn_out(
    session: Session,
    rng: random.Random,
    activity: Activity,
    volunteers: list[Volunteer],
    now: datetime,
    counts: dict[str, int],
) -> None:
    """Who signed up and came: checked in a few minutes either side of the start, out near the
    end; now and then one far off, kept for the community to look at."""
    if not volunteers:
        return
    came = rng.sample(volunteers, min(len(volunteers), rng.randrange(4, 14)))
    for volunteer in came:
        signed = activity.starts_at - timedelta(
            days=rng.randrange(1, 5), minutes=rng.randrange(-600, 600)
        )
        row = Attendance(
            activity_id=activity.id, volunteer_id=volunteer.id, signed_up_at=signed, flags=[]
        )
        if activity.ends_at < now:
            row.in_at = activity.starts_at + timedelta(minutes=rng.randrange(-15, 20))
            row.out_at = activity.ends_at + timedelta(minutes=rng.randrange(-20, 15))
            far = rng.random() < 0.04
            row.in_lon = (activity.lon or 0) + (0.02 if far else rng.uniform(-0.001, 0.001))
            row.in_lat = (activity.lat or 0) + (0.0 if far else rng.uniform(-0.001, 0.001))
            row.flags = ["far"] if far else []
            # Far check-ins of these two weeks wait at the desk; older ones were decided.
            recent = activity.ends_at > now - timedelta(days=14)
            row.accepted = True if not far else None if recent else rng.random() < 0.7
            row.decided_by = None if row.accepted is None or not far else "社区工作人员"
            begin = max(row.in_at, activity.starts_at)
            end = min(row.out_at, activity.ends_at)
            row.minutes = (
                max(0, int((end - begin).total_seconds() // 60)) if row.accepted is not False else 0
            )
            counts["flagged"] += row.accepted is None
        session.add(row)
        counts["attendances"] += 1


def _patrol_volunteers(session: Session, programme_id: int, now: datetime) -> None:
    """The patrol teams' volunteers (a programme on their membership) are 红袖套 volunteers,
    confirmed: their patrol runs count as their service hours."""
    for n, (member, person) in enumerate(
        session.execute(
            select(Member, Person)
            .join(Person, Person.id == Member.person_id)
            .where(Member.programme.is_not(None))
        )
    ):
        person.phone = person.phone or f"1390000{n:04d}"  # the demo's people had none
        if session.scalar(
            select(Volunteer.id).where(
                Volunteer.person_id == person.id, Volunteer.programme_id == programme_id
            )
        ):
            continue
        community = int(member.path.strip("/").split("/")[1])
        node = session.get(TerritoryNode, community)
        if node is None:
            continue
        session.add(
            Volunteer(
                programme_id=programme_id,
                community_id=node.id,
                path=node.path,
                name=person.name,
                phone=person.phone,
                person_id=person.id,
                state=State.confirmed,
                # Their own page is their patrol account's: a key nobody holds.
                key_hash=service.key_hash(secrets.token_urlsafe(18)),
                decided_at=member.created_at or now,
                decided_by="system:demo",
            )
        )
