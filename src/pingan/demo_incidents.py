"""A month of grid incidents for the demo: reported through every channel across the 19
communities, moved through the workflow by the people whose work it is, some late, some sent
back, some reopened; the streets of 万盛 and 和平 with their street chiefs and city officer.

Everything goes through incidents.service, as a person's report and moves would, with the time
each happened. Photos are drawn here (a corridor and what stands in it), never photographs."""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import photos
from pingan.auth import service as auth_service
from pingan.auth.principal import Grant, Principal
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import SHANGHAI, utcnow
from pingan.incidents import service as incident_service
from pingan.incidents import streets as street_service
from pingan.incidents.flows import Action
from pingan.incidents.models import Channel, Incident, Rating, StreetLine
from pingan.incidents.schemas import ReportIn, StreetIn
from pingan.territory import geo
from pingan.territory.models import NodeKind, TerritoryNode, ancestor_id

DAYS = 30
PER_DAY = 12
SEED = 311
DONE_KEY = "demo_incidents"
STREET_SHARE = 0.12  # of a day's reports, one along the chiefs' streets now and then
STREET_KINDS = {
    "city.street_order": "{street}{n}号门前乱停乱放，早晚高峰堵住人行道",
    "environment.road_occupation": "{street}{n}号附近有流动摊贩占道经营",
    "city.illegal_structure": "{street}{n}号临街搭了彩钢棚",
    "facilities.lighting": "{street}中段路灯有三盏不亮",
}

# kind → (weight, channel weights, descriptions, who handles it when it has no account)
KINDS: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "fire.ebike_indoor": (
        18,
        "物业",
        (
            "{site}{bld}楼道里停着两辆电动车，晚上还在充电",
            "{site}{bld}一楼楼梯间有电动车充电，插线板放在地上",
            "{site}{bld}有住户把电瓶拿回家充电，邻居担心",
        ),
    ),
    "fire.flying_wire": (
        8,
        "物业",
        (
            "{site}{bld}三楼窗户拉出电线到楼下给电动车充电",
            "{site}{bld}外墙有飞线垂到车棚",
        ),
    ),
    "fire.blocked_exit": (
        8,
        "物业",
        (
            "{site}{bld}安全出口被杂物堵住，推不开",
            "{site}消防通道停了两辆私家车",
        ),
    ),
    "fire.extinguisher": (
        5,
        "物业",
        (
            "{site}{bld}各层灭火器压力表指针在红区",
            "{site}{bld}二楼消防箱里没有灭火器",
        ),
    ),
    "facilities.access_control": (
        8,
        "物业",
        (
            "{site}东门门禁刷脸不开，一直提示识别失败",
            "{site}{bld}单元门禁坏了，门关不上",
        ),
    ),
    "facilities.lighting": (
        7,
        "物业",
        (
            "{site}北侧小路路灯不亮，晚上很黑",
            "{site}{bld}楼道灯坏了好几天",
        ),
    ),
    "facilities.fence": (4, "物业", ("{site}西侧围墙有一段倒了，外人可以进出",)),
    "facilities.camera": (3, "物业", ("{site}大门口的监控被树枝挡住了",)),
    "environment.exposed_rubbish": (
        12,
        "环卫所",
        (
            "{site}门口垃圾桶满了溢出来，有异味",
            "{site}旁边空地堆了装修垃圾",
        ),
    ),
    "environment.road_occupation": (
        7,
        "城管中队",
        (
            "{site}门口有商户把货物摆到人行道上",
            "{site}外面路边有流动摊贩占道经营",
        ),
    ),
    "city.street_order": (4, "城管中队", ("{site}外面街边乱停乱放，早高峰走不通",)),
    "city.illegal_structure": (3, "城管中队", ("{site}{bld}顶楼有人在搭彩钢棚",)),
    "dispute.neighbour": (
        6,
        "社区人民调解委员会",
        (
            "{site}{bld}楼上漏水到楼下，两家协商不成",
            "{site}{bld}邻居养狗夜里叫，多次沟通无果",
        ),
    ),
    "security.unsecured_access": (4, "物业", ("{site}侧门一直开着没人管，陌生人随意进出",)),
    "security.suspicious_person": (2, "派出所", ("{site}附近连续几晚有人在车棚转悠查看电动车",)),
    "housing.structure": (2, "住建所", ("{site}{bld}外墙瓷砖脱落，砸到楼下雨棚",)),
    "other.other": (2, "社区", ("{site}小区里井盖松动，踩上去会响",)),
}
CHANNELS: list[tuple[Channel, int]] = [
    (Channel.resident, 32),
    (Channel.grid, 30),
    (Channel.hotline, 14),
    (Channel.patrol, 10),
    (Channel.patrol_exception, 3),
    (Channel.open311, 6),
    (Channel.staff, 5),
]
SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗"
RATINGS = [(Rating.satisfied, 70), (Rating.fair, 22), (Rating.unsatisfied, 8)]

# The pilot's street chiefs: the streets and lanes of 万盛 and 和平 communities.
CHIEFS = {
    "万盛社区": ("ws_chief", "万盛片区街长（演示）"),
    "和平社区": ("hp_chief", "和平片区街长（演示）"),
}
CITY_OFFICER = ("jd_city", "城管专员（演示）")


@dataclass
class Places:
    sites: list[TerritoryNode]
    community_of: dict[int, TerritoryNode]
    people: dict[int, Principal]  # a community's acting staff, by community id
    lines: list[StreetLine]  # the chiefs' streets


def staff_of(name: str, role: Role, path: str, user_id: int | None = None) -> Principal:
    return Principal(user_id=user_id, name=name, grants=(Grant(role, path),))


def drawn_photo(seed: int, after: bool) -> photos.Photo:
    """A drawn scene: a corridor with what is there (or a mark that it is gone)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (960, 720), (200 + rng.randrange(40), 196, 186))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 520, 960, 720), fill=(150, 146, 140))  # the floor
    for x in range(60, 960, 220):
        draw.rectangle((x, 120, x + 120, 420), outline=(120, 110, 100), width=6)  # doors
    if not after:
        for n in range(rng.randint(1, 3)):
            x = 120 + n * 260 + rng.randrange(40)
            draw.ellipse((x, 430, x + 90, 520), outline=(30, 30, 30), width=10)  # a wheel
            draw.ellipse((x + 150, 430, x + 240, 520), outline=(30, 30, 30), width=10)
            draw.line((x + 45, 470, x + 195, 470), fill=(180, 40, 40), width=14)
    else:  # the place cleared: a green mark on the wall
        draw.line((420, 260, 470, 320, 560, 180), fill=(30, 130, 50), width=18)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return photos.intake(out.getvalue())


def _accounts(session: Session) -> dict[str, int]:
    """The street chiefs and the city officer of the demo (demo.ACCOUNTS makes them)."""
    ids: dict[str, int] = {}
    for username, _name in (*CHIEFS.values(), CITY_OFFICER):
        user = auth_service.get_by_username(session, username=username)
        if user is None:
            raise LookupError(f"demo account {username} missing: run demo-data")
        ids[username] = user.id
    return ids


def load_streets(session: Session, *, actor: Principal, street: TerritoryNode, data: bytes) -> int:
    """The demo's streets and lanes that cross 万盛 and 和平, each with its chief and officer."""
    ids = _accounts(session)
    communities = {
        n.name: n
        for n in session.scalars(
            select(TerritoryNode).where(
                TerritoryNode.kind == NodeKind.community, TerritoryNode.name.in_(list(CHIEFS))
            )
        )
    }
    areas = {
        name: geo.load_geometry(node.boundary)
        for name, node in communities.items()
        if node.boundary
    }
    lines: dict[tuple[str, str], list[list[float]]] = {}
    from shapely.geometry import shape

    for feature in json.loads(data)["features"]:
        geometry = feature["geometry"]
        if geometry["type"] != "LineString":
            continue
        drawn = shape(geometry)
        for community, area in areas.items():
            if drawn.intersects(area) and (
                feature["properties"]["kind"] == "lane" or drawn.intersection(area).length > 0.002
            ):
                key = (feature["properties"]["name"], community)
                # A road is kept as its longest way through the community.
                if (
                    key not in lines
                    or shape({"type": "LineString", "coordinates": lines[key]}).length
                    < drawn.length
                ):
                    lines[key] = geometry["coordinates"]
    made = 0
    for (name, community), coordinates in sorted(lines.items()):
        chief = ids[CHIEFS[community][0]]
        street_service.create(
            session,
            actor=actor,
            data=StreetIn(
                name=name,
                alley=name.endswith("巷"),
                geometry={"type": "LineString", "coordinates": coordinates},
                node_id=street.id,
                chief_user_id=chief,
                officer_user_id=ids[CITY_OFFICER[0]],
            ),
        )
        made += 1
    return made


def places_of(session: Session, actor: Principal) -> Places:
    sites = list(
        session.scalars(
            select(TerritoryNode)
            .where(TerritoryNode.kind == NodeKind.site, TerritoryNode.lon.is_not(None))
            .order_by(TerritoryNode.id)
        )
    )
    communities = {
        n.id: n
        for n in session.scalars(
            select(TerritoryNode).where(TerritoryNode.kind == NodeKind.community)
        )
    }
    community_of = {
        site.id: communities[ancestor_id(site.path, NodeKind.community) or 0] for site in sites
    }
    people = {
        c.id: staff_of(f"{c.name}工作人员", Role.community_admin, c.path)
        for c in communities.values()
    }
    return Places(sites, community_of, people, list(street_service.get_all(session, actor=actor)))


def month(
    session: Session,
    *,
    actor: Principal,
    street_data: bytes,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Once per demo database: the streets with their chiefs and a month of incidents."""
    if meta.get(session, DONE_KEY):
        return {}
    say = progress or (lambda _s: None)
    now = now or utcnow()
    rng = random.Random(SEED)
    street = session.scalar(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.street))
    if street is None:
        return {}
    say("streets")
    counts = {"streets": load_streets(session, actor=actor, street=street, data=street_data)}
    places = places_of(session, actor)
    accounts = {
        name: auth_service.get_by_username(session, username=name)
        for name in ("lxy_manager", "yfl_grid1", "jd_city")
    }
    counts |= {"incidents": 0, "closed": 0, "open": 0, "overdue": 0}
    say("incidents")
    kinds = list(KINDS)
    weights = [KINDS[k][0] for k in kinds]
    start = now - timedelta(days=DAYS)
    for day in range(DAYS + 1):
        midnight = (
            (start + timedelta(days=day))
            .astimezone(SHANGHAI)
            .replace(hour=0, minute=0, second=0, microsecond=0)
        )
        for _n in range(max(0, round(rng.gauss(PER_DAY, 3)))):
            at = midnight + timedelta(
                hours=rng.choice([8, 9, 10, 11, 14, 15, 16, 17, 19, 20, 21]),
                minutes=rng.randrange(60),
            )
            if at >= now - timedelta(minutes=20):
                continue
            _one(
                session,
                rng=rng,
                kind=rng.choices(kinds, weights)[0],
                at=at,
                now=now,
                places=places,
                accounts=accounts,
                counts=counts,
            )
            if rng.random() < STREET_SHARE:
                _on_a_street(
                    session,
                    rng=rng,
                    at=at,
                    now=now,
                    actor=actor,
                    places=places,
                    accounts=accounts,
                    counts=counts,
                )
        incident_service.tick(session, now=min(now, midnight + timedelta(days=1)), told=False)
    say("today")
    _from_an_alarm(
        session, rng=rng, actor=actor, now=now, places=places, accounts=accounts, counts=counts
    )
    _today(session, rng=rng, now=now, places=places, accounts=accounts, counts=counts)
    counts["overdue"] = sum(n for _c, n in incident_service.overdue_now(session, actor=actor))
    meta.put(session, DONE_KEY, now.isoformat())
    session.flush()
    return counts


def _one(
    session: Session,
    *,
    rng: random.Random,
    kind: str,
    at: datetime,
    now: datetime,
    places: Places,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    site = rng.choice(places.sites)
    community = places.community_of[site.id]
    staff = places.people[community.id]
    _weight, department, texts = KINDS[kind]
    building = f"{rng.randint(1, 12)}栋"
    description = rng.choice(texts).format(site=site.name, bld=building)
    channel = rng.choices([c for c, _w in CHANNELS], [w for _c, w in CHANNELS])[0]
    assert site.lon is not None and site.lat is not None
    lon = site.lon + rng.uniform(-0.0003, 0.0003)
    lat = site.lat + rng.uniform(-0.0003, 0.0003)
    name = rng.choice(SURNAMES) + rng.choice(["先生", "女士", "阿姨", "大爷"])
    phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
    attributes: dict[str, Any] = {}
    if kind == "fire.ebike_indoor":
        attributes = {
            "place": rng.choice(["corridor", "corridor", "home", "lift"]),
            "count": rng.randint(1, 4),
        }
    data = ReportIn(
        kind=kind,
        description=description,
        attributes=attributes,
        lon=lon,
        lat=lat,
        address=f"{site.name}{building}",
        reporter_name=name
        if channel in (Channel.resident, Channel.hotline, Channel.open311)
        else None,
        reporter_phone=phone if channel in (Channel.resident, Channel.hotline) else None,
        notify_sms=channel == Channel.resident and rng.random() < 0.4,
    )
    reporter = (
        staff_of(f"{community.name}网格员", Role.grid_officer, community.path)
        if channel in (Channel.grid, Channel.patrol_exception)
        else staff_of(f"{community.name}巡逻队员", Role.patrol_member, community.path)
        if channel == Channel.patrol
        else Principal(
            user_id=None, name="open311:市民通" if channel == Channel.open311 else "resident"
        )
    )
    shown = [drawn_photo(rng.randrange(10**6), after=False)] if rng.random() < 0.6 else []
    incident = incident_service.report(
        session, actor=reporter, data=data, channel=channel, photos=shown, at=at
    )
    counts["incidents"] += 1
    case_life(
        session,
        rng=rng,
        incident=incident,
        staff=staff,
        department=department,
        at=at,
        now=now,
        accounts=accounts,
        counts=counts,
    )


def case_life(
    session: Session,
    *,
    rng: random.Random,
    incident: Incident,
    staff: Principal,
    department: str,
    at: datetime,
    now: datetime,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """The case's life so far: the older it is, the further it got."""
    clock = at

    def step(hours: float) -> datetime | None:
        nonlocal clock
        clock = clock + timedelta(hours=hours * rng.uniform(0.5, 1.6))
        return clock if clock < now - timedelta(minutes=5) else None

    def act(action: Action, who: Principal, when: datetime, **extra: Any) -> None:
        incident_service.act(
            session, actor=who, incident=incident, action=action, at=when, told=False, **extra
        )

    when = step(1.5)
    if when is None:
        counts["open"] += 1
        return
    if rng.random() < 0.06:
        act(
            Action.reject,
            staff,
            when,
            reason=rng.choice(["not_a_problem", "not_ours"]),
            note="经现场核实",
        )
        return
    act(Action.accept, staff, when, note="情况属实，立案")
    when = step(1)
    if when is None:
        counts["open"] += 1
        return
    handler = _handler(incident, department, accounts)
    act(Action.assign, staff, when, **handler)
    if rng.random() < 0.07 and (when := step(3)) is not None:
        act(
            Action.send_back,
            _worker(incident, accounts),
            when,
            reason="not_ours",
            note="不属于本单位职责",
        )
        when = step(2)
        if when is None:
            counts["open"] += 1
            return
        act(Action.assign, staff, when, **handler)
    worker = _worker(incident, accounts)
    when = step(2)
    if when is None:
        counts["open"] += 1
        return
    act(Action.take, worker, when)
    slow = rng.random() < 0.15  # late ones: the limit passes before they are done
    limit_h = ((incident.due_at or when) - (incident.accepted_at or when)).total_seconds() / 3600
    when = step(max(2.0, limit_h * (1.8 if slow else 0.45)))
    if when is None:
        counts["open"] += 1
        return
    after = [drawn_photo(incident.id, after=True)]
    act(Action.done, worker, when, photos=after, note="已处置完毕")
    when = step(4)
    if when is None:
        counts["open"] += 1
        return
    checker = staff_of(f"{staff.name[:-4]}网格员", Role.grid_officer, staff.grants[0].path)
    act(Action.verify, checker, when, note="现场核查已整改")
    when = step(2)
    if when is None:
        counts["open"] += 1
        return
    act(Action.close, staff, when)
    counts["closed"] += 1
    if incident.channel in (Channel.resident, Channel.hotline) and rng.random() < 0.7:
        when = step(12)
        if when is not None:
            rating = rng.choices([r for r, _w in RATINGS], [w for _r, w in RATINGS])[0]
            fixed = not (rating == Rating.unsatisfied and rng.random() < 0.5)
            incident_service.rate(
                session,
                incident=incident,
                rating=rating,
                fixed=fixed,
                at=when,
                note=None if fixed else "问题又出现了",
                told=False,
            )


def _handler(incident: Incident, department: str, accounts: dict[str, Any]) -> dict[str, Any]:
    """To an account where the demo has one for the place (柳欣苑's manager, the city officer
    on a chief's street), else to the department by name."""
    manager, officer = accounts.get("lxy_manager"), accounts.get("jd_city")
    if (
        manager is not None
        and incident.address
        and incident.address.startswith("柳欣苑")
        and department == "物业"
    ):
        return {"assignee_user_id": manager.id}
    if officer is not None and incident.street_line_id is not None and department == "城管中队":
        return {"assignee_user_id": officer.id}
    return {"assignee": department}


def _worker(incident: Incident, accounts: dict[str, Any]) -> Principal:
    """Who takes the steps of the handler: the account assigned, or the department's person."""
    if incident.assignee_user_id is not None:
        for user in accounts.values():
            if user is not None and user.id == incident.assignee_user_id:
                return Principal(user_id=user.id, name=user.display_name)
    return staff_of(incident.assignee or "处置人员", Role.site_manager, incident.path)


def _on_a_street(
    session: Session,
    *,
    rng: random.Random,
    at: datetime,
    now: datetime,
    actor: Principal,
    places: Places,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """A case along one of the chiefs' streets, found by its chief or reported by a passer-by:
    it goes to the chief and the city officer as well as the grid."""
    from shapely.geometry import shape

    if not places.lines:
        return
    line = rng.choice(places.lines)
    point = shape(json.loads(line.geometry)).interpolate(rng.uniform(0.1, 0.9), normalized=True)
    kind = rng.choice(list(STREET_KINDS))
    names = auth_service.display_names(session, user_ids=[line.chief_user_id or 0])
    chief = Principal(user_id=line.chief_user_id, name=names.get(line.chief_user_id or 0, "街长"))
    by_chief = rng.random() < 0.5
    data = ReportIn(
        kind=kind,
        description=STREET_KINDS[kind].format(street=line.name, n=rng.randint(1, 120)),
        lon=point.x,
        lat=point.y,
        address=line.name,
        reporter_name=None if by_chief else rng.choice(SURNAMES) + "先生",
    )
    who = chief if by_chief else Principal(user_id=None, name="resident")
    incident = incident_service.report(
        session,
        actor=who,
        data=data,
        channel=Channel.staff if by_chief else Channel.resident,
        at=at,
    )
    counts["incidents"] += 1
    community = session.get(TerritoryNode, incident.community_id)
    assert community is not None
    department = "城管中队" if kind != "facilities.lighting" else "路灯所"
    case_life(
        session,
        rng=rng,
        incident=incident,
        staff=places.people[community.id],
        department=department,
        at=at,
        now=now,
        accounts=accounts,
        counts=counts,
    )


def _today(
    session: Session,
    *,
    rng: random.Random,
    now: datetime,
    places: Places,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """Work waiting at 柳欣苑 now, for the demo's grid officer and property manager: a report to
    accept, one in the manager's hands, one reported done for the officer to check."""
    site = next((s for s in places.sites if s.name == "柳欣苑"), None)
    manager = accounts.get("lxy_manager")
    if site is None or manager is None or site.lon is None or site.lat is None:
        return
    community = places.community_of[site.id]
    staff = places.people[community.id]
    worker = Principal(user_id=manager.id, name=manager.display_name)
    cases: list[tuple[str, str, str, float, tuple[Action, ...]]] = [
        ("fire.ebike_indoor", "柳欣苑3栋二单元楼道里两辆电动车在充电", "柳欣苑3栋二单元", 2.0, ()),
        (
            "facilities.lighting",
            "柳欣苑地下车库入口的灯坏了，晚上看不清",
            "柳欣苑地下车库入口",
            6.0,
            (Action.accept, Action.assign),
        ),
        (
            "fire.blocked_exit",
            "柳欣苑5栋安全出口堆了纸箱和旧家具",
            "柳欣苑5栋",
            9.0,
            (Action.accept, Action.assign, Action.take, Action.done),
        ),
    ]
    for n, (kind, description, address, hours, moves) in enumerate(cases):
        at = now - timedelta(hours=hours)
        data = ReportIn(
            kind=kind,
            description=description,
            attributes={"place": "corridor", "count": 2} if kind == "fire.ebike_indoor" else {},
            lon=site.lon + 0.0001 * (n + 1),
            lat=site.lat,
            address=address,
            reporter_name="赵阿姨",
            reporter_phone="13800000321",
        )
        incident = incident_service.report(
            session,
            actor=Principal(user_id=None, name="resident"),
            data=data,
            channel=Channel.resident,
            photos=[drawn_photo(700 + n, after=False)],
            at=at,
        )
        counts["incidents"] += 1
        counts["open"] += 1
        for step, move in enumerate(moves):
            when = at + timedelta(minutes=30 * (step + 1))
            extra: dict[str, Any] = {}
            if move == Action.assign:
                extra = {"assignee_user_id": manager.id}
            if move == Action.done:
                extra = {"photos": [drawn_photo(800 + n, after=True)], "note": "已清理"}
            incident_service.act(
                session,
                actor=staff if move in (Action.accept, Action.assign) else worker,
                incident=incident,
                action=move,
                at=when,
                told=False,
                **extra,
            )


def _from_an_alarm(
    session: Session,
    *,
    rng: random.Random,
    actor: Principal,
    now: datetime,
    places: Places,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """A smoke alarm at 柳欣苑 a few days ago, found to be e-bikes charging in the stairwell: the
    desk turned it into a case, which both timelines show."""
    from pingan.alarms import service as alarm_service

    alarms, _total = alarm_service.get_all(
        session, actor=actor, category="fire", until=now - timedelta(days=2), limit=200
    )
    alarm = next((a for a in alarms if (a.subject or "").startswith("柳欣苑")), None)
    site = next((s for s in places.sites if s.name == "柳欣苑"), None)
    if alarm is None or site is None or site.lon is None or site.lat is None:
        return
    at = alarm.raised_at + timedelta(minutes=25)
    incident = incident_service.report(
        session,
        actor=actor,
        data=ReportIn(
            kind="fire.ebike_indoor",
            description="烟感报警现场查看：楼梯间两辆电动车在充电，充电器发热",
            attributes={"place": "corridor", "count": 2},
            lon=site.lon,
            lat=site.lat,
            address=f"{alarm.subject}",
            alarm_id=alarm.id,
        ),
        channel=Channel.alarm,
        photos=[drawn_photo(990, after=False)],
        at=at,
    )
    counts["incidents"] += 1
    case_life(
        session,
        rng=rng,
        incident=incident,
        staff=places.people[places.community_of[site.id].id],
        department="物业",
        at=at,
        now=now,
        accounts=accounts,
        counts=counts,
    )
