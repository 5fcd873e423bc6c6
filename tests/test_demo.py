"""The demo territory: 柳城街道 with 19 communities, sites of every type, residents, demo accounts."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan import demo
from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import utcnow
from pingan.patrol import service as patrol_service
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, Person, SiteType, TerritoryNode

NAMED = [
    "光华",
    "永宁路",
    "新华",
    "黄金路",
    "南街",
    "迎晖路",
    "万盛",
    "和平",
    "航天路",
    "红光",
    "鱼凫路",
    "大学城",
]


def test_demo_territory(db: Session, tmp_path: Path) -> None:
    assert demo.load_territory(db, actor=SYSTEM) is True
    assert demo.load_territory(db, actor=SYSTEM) is False
    communities = db.scalars(
        select(TerritoryNode).where(TerritoryNode.kind == NodeKind.community)
    ).all()
    assert len(communities) == 19
    names = {c.name for c in communities}
    assert {f"{n}社区" for n in NAMED} <= names
    site = territory_service.get_by_names(
        db, names=["柳城街道", "鱼凫路社区", "鱼凫路第1网格", "柳欣苑"]
    )
    assert site is not None and site.site_type == SiteType.commercial_residential
    for community in communities:
        types = db.scalars(
            select(TerritoryNode.site_type).where(
                TerritoryNode.kind == NodeKind.site, TerritoryNode.path.startswith(community.path)
            )
        ).all()
        assert set(types) == set(SiteType), community.name
        residents = db.scalar(
            select(func.count(Person.id))
            .join(TerritoryNode, TerritoryNode.id == Person.node_id)
            .where(TerritoryNode.path.startswith(community.path))
        )
        assert residents is not None and 150 <= residents <= 400, community.name
        assert community.boundary is not None
    kinds = Counter(db.scalars(select(TerritoryNode.kind)).all())
    assert (
        kinds[NodeKind.grid] >= 38
        and kinds[NodeKind.building] > 200
        and kinds[NodeKind.household] > 1000
    )
    # Every position lies inside the boundary of its own community.
    _lon, _lat, found, grid = territory_service.locate(
        db, actor=SYSTEM, lon=site.lon or 0, lat=site.lat or 0
    )
    assert (
        found is not None
        and found.name == "鱼凫路社区"
        and grid is not None
        and grid.name == "鱼凫路第1网格"
    )

    accounts = demo.reset_accounts(db, actor=SYSTEM)
    assert {a.role for a, _pw in accounts} == set(Role)
    assert len({pw for _a, pw in accounts}) == len(accounts)
    assert meta.is_demo(db)
    user = auth_service.get_by_username(db, username="lxy_resident")
    assert user is not None
    principal = auth_service.principal_for(db, user=user)
    assert principal.sees(site.path) is False and principal.paths()[0].startswith(site.path)
    # The demo patrol member has a team, a route and a shift now: the phone page has work.
    volunteer = auth_service.get_by_username(db, username="yfl_patrol")
    assert volunteer is not None
    mine = patrol_service.mine(db, actor=auth_service.principal_for(db, user=volunteer))
    assert mine["teams"][0]["team"] == "鱼凫路红袖套志愿巡逻队" and mine["teams"][0]["leader"]
    assert [r["name"] for r in mine["routes"]] == ["柳欣苑夜巡"] and mine["shift_ends_at"]
    demo.reset_accounts(db, actor=SYSTEM)  # again: the same team, a fresh shift
    assert len(patrol_service.teams(db, actor=SYSTEM)) == 1
    _three_months(db, tmp_path)


def _three_months(db: Session, folder: Path) -> None:
    """Devices in every compound and ninety days of history, made through the services: every
    figure of the statistics page has rows, and the README's own accounts see devices and
    alarms of their place."""
    from pingan import demo_history
    from pingan.alarms.models import Alarm, AlarmState
    from pingan.alarms.rules import RuleBook
    from pingan.assessment import figures
    from pingan.devices.models import Device, DeviceKind, DeviceStatus
    from pingan.faces.models import ConsentPurpose, Decision, FaceConsent, Recognition
    from pingan.faces.vault import Vault
    from pingan.patrol.models import CheckIn, Run, Task
    from tests.conftest import TEST_DATA_KEY

    vault = Vault.from_setting(TEST_DATA_KEY)
    counts = demo_history.history(
        db, actor=SYSTEM, rules=RuleBook.load(None), vault=vault, video_dir=folder
    )
    assert counts["devices"] > 1000 and counts["alarms"] > 1500 and counts["runs"] > 200
    # Residents who consented and enrolled, let in at their doors; strangers refused; each
    # sighting at its time through the three months, in the log the faces page reads.
    assert counts["recognitions"] > 2000 and counts["deny"] > 0.05 * counts["recognitions"]
    assert counts["grant"] > 0.8 * counts["recognitions"]
    sightings = db.scalars(select(Recognition).order_by(Recognition.at)).all()
    assert sightings[0].at < utcnow() - timedelta(days=85) and sightings[
        -1
    ].at > utcnow() - timedelta(days=1)
    granted = [r for r in sightings if r.decision == Decision.grant]
    assert all(r.person_id is not None and r.reason == "face" for r in granted)
    consents = db.scalars(select(FaceConsent)).all()
    assert consents and all(c.purpose == ConsentPurpose.door_access for c in consents)
    assert {r.person_id for r in granted} <= {c.person_id for c in consents}
    # Recurring strangers at night at 柳欣苑's doors: one looked into, one still open.
    strangers = db.scalars(select(Alarm).where(Alarm.category == "stranger")).all()
    assert sorted(a.is_open for a in strangers) == [False, True]
    assert all((a.subject or "").startswith("柳欣苑") for a in strangers)
    # 柳欣苑's gate camera shows the clip made at set-up, looped.
    [camera] = db.scalars(select(Device).where(Device.stream_url.is_not(None))).all()
    assert (
        camera.name.startswith("柳欣苑") and camera.stream_url == f"loop:{folder / 'demo-gate.avi'}"
    )
    assert (folder / "demo-gate.avi").stat().st_size > 100_000
    assert (
        demo_history.history(
            db, actor=SYSTEM, rules=RuleBook.load(None), vault=vault, video_dir=folder
        )
        == {}
    )
    kinds = Counter(db.scalars(select(Device.kind)).all())
    assert set(kinds) >= {k for k in DeviceKind if k != DeviceKind.guard_console}
    assert kinds[DeviceKind.camera] > kinds[DeviceKind.panic_button]  # a compound's proportions
    statuses = Counter(db.scalars(select(Device.status)).all())
    assert 0 < statuses[DeviceStatus.offline] < 0.06 * sum(statuses.values())
    # Acknowledged by people, in seconds to minutes; some false; some dispatched and resolved
    # by their responder; the oldest three months back.
    alarms = db.scalars(select(Alarm)).all()
    acked = [a.ack_seconds for a in alarms if a.ack_seconds is not None]
    assert acked and 5 < sorted(acked)[len(acked) // 2] < 600
    states = Counter(a.state for a in alarms)
    assert states[AlarmState.false_alarm] + states[AlarmState.closed] > 0.5 * len(alarms)
    assert min(a.raised_at for a in alarms) < utcnow() - timedelta(days=85)
    assert any(a.is_open and "柳欣苑" in (a.subject or "") for a in alarms)
    assert db.scalar(select(func.count(Task.id)).where(Task.finished_at.is_not(None))) > 10
    assert db.scalar(select(func.count(CheckIn.id))) > 500
    assert db.scalar(select(func.count(Run.id))) == counts["runs"]
    for role_user, place in (("yfl_operator", "鱼凫路社区"), ("lxy_manager", "柳欣苑")):
        user = auth_service.get_by_username(db, username=role_user)
        assert user is not None
        who = auth_service.principal_for(db, user=user)
        from pingan.alarms import service as alarm_service
        from pingan.devices import service as device_service

        assert device_service.get_all(db, actor=who, limit=1)[1] > 10, role_user
        assert alarm_service.get_all(db, actor=who, limit=1)[1] > 10, (role_user, place)
    _a_month_of_incidents(db)
    _a_year_of_inspections(db)
    everything = figures.Figures(db, actor=SYSTEM, period=figures.period(None, None))
    for name, make in figures.FIGURES.items():
        assert make(everything).rows, name


def _a_month_of_incidents(db: Session) -> None:
    """A month of grid incidents across the communities, through every channel and state; the
    streets of 万盛 and 和平 with their chiefs, who see the cases along them."""
    from importlib import resources

    from pingan import demo_incidents
    from pingan.incidents import service as incident_service
    from pingan.incidents import streets
    from pingan.incidents.models import Channel, Incident, IncidentState, Level

    data = resources.files("pingan.territory").joinpath("demo/streets.geojson").read_bytes()
    counts = demo_incidents.month(db, actor=SYSTEM, street_data=data)
    assert counts["incidents"] > 300 and counts["closed"] > 0.7 * counts["incidents"]
    # The demo's past is recorded, not announced: no SMS or channel message is queued for it.
    from pingan.alarms.models import Notification

    assert not db.scalars(select(Notification).where(Notification.incident_id.is_not(None))).all()
    assert counts["streets"] >= 6 and counts["overdue"] > 0
    cases = db.scalars(select(Incident)).all()
    assert {c.channel for c in cases} == set(Channel) - {Channel.inspection}
    assert {c.state for c in cases} >= {
        IncidentState.reported,
        IncidentState.assigned,
        IncidentState.in_hand,
        IncidentState.done,
        IncidentState.closed,
        IncidentState.rejected,
    }
    communities = {c.community_id for c in cases}
    assert len(communities) == 19
    assert any(c.reopened for c in cases) and any(c.on_time is False for c in cases)
    assert any(c.level == Level.street for c in cases if c.is_open)
    lines = streets.get_all(db, actor=SYSTEM)
    chiefs = {line.chief_user_id for line in lines}
    for username in ("ws_chief", "hp_chief"):
        chief = auth_service.get_by_username(db, username=username)
        assert chief is not None and chief.id in chiefs
        theirs = incident_service.get_all(
            db, actor=auth_service.principal_for(db, user=chief), limit=1
        )[1]
        assert theirs > 0, username
    assert demo_incidents.month(db, actor=SYSTEM, street_data=data) == {}


def _a_year_of_inspections(db: Session) -> None:
    """Every site's facility register and a year of inspections on the schedule; the defects
    they found sent to the grid, most closed (the item present again), a few still open."""
    from pingan import demo_facilities, demo_targets
    from pingan.facilities import service as facility_service
    from pingan.facilities.models import FacilityItem, FacilitySite, Inspection, ItemStatus
    from pingan.incidents.models import Channel, Incident

    month_ends = demo_targets.MonthEnds(db)
    counts = demo_facilities.year(db, actor=SYSTEM, month_end=month_ends.take)
    sites = db.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site)).all()
    sheets = db.scalars(select(FacilitySite)).all()
    assert counts["sites"] == len(sites) == len(sheets) > 100
    assert counts["inspections"] > 900 and counts["cases"] > 0
    kinds = {k for (k,) in db.execute(select(Inspection.kind).distinct())}
    assert kinds == {"routine", "fire"}
    oldest = db.scalar(select(func.min(Inspection.at)))
    assert oldest is not None and utcnow() - oldest > timedelta(days=300)
    cases = db.scalars(select(Incident).where(Incident.channel == Channel.inspection)).all()
    assert any(c.state == "closed" for c in cases) and any(c.is_open for c in cases)
    open_defects = db.scalars(
        select(FacilityItem).where(FacilityItem.defect_incident_id.is_not(None))
    ).all()
    assert open_defects and all(i.status != ItemStatus.present for i in open_defects)
    fixed = db.scalars(select(FacilityItem).where(FacilityItem.source == "incident")).all()
    assert fixed and all(i.status == ItemStatus.present for i in fixed)
    courtyards = [s for s in sheets if s.site_type in facility_service.COURTYARDS]
    assert 0 < sum(bool(s.bundles.get("three_basics")) for s in courtyards) < len(courtyards)
    late = facility_service.schedule(db, actor=SYSTEM, overdue_only=True)
    assert 0 < len({d.site.id for d in late}) < len(sites)
    # The seed's renovations at every stage; the renovated courtyards' registers hold the works.
    from pingan.db.base import today
    from pingan.facilities import renovation
    from pingan.facilities.models import RenovationProject

    projects = db.scalars(select(RenovationProject)).all()
    assert counts["projects"] == len(projects) >= 10
    assert {p.state.value for p in projects} >= {
        "planned",
        "consulted",
        "approved",
        "in_works",
        "accepted",
        "managed",
    }
    assert any(len(p.sites) > 1 for p in projects)
    assert all(renovation.consultations(db, project=p) for p in projects if p.consulted_on)
    this_year = renovation.renovated_sites(db, actor=SYSTEM, since=today().replace(month=1, day=1))
    assert this_year or today().month < 3
    assert demo_facilities.year(db, actor=SYSTEM) == {}
    _the_seeds_targets(db, month_ends)


def _the_seeds_targets(db: Session, month_ends: Any) -> None:
    """The seed's targets, computed where the platform can and entered with evidence where it
    cannot, each with a trend of more than one point."""
    from pingan import demo_targets
    from pingan.targets import service as target_service
    from pingan.targets.models import Reading, Source, Target

    # Read at every month's end of the year (the measures that cannot look back).
    assert len(month_ends.values["courtyards_three_basics"]) >= 11
    _volunteers_and_their_half_year(db)
    counts = demo_targets.seed(db, month_ends=month_ends)
    targets = {t.name: t for t in db.scalars(select(Target))}
    assert counts["targets"] == len(targets) == 8
    goals = {t.name: (t.target_value, t.unit, t.measure) for t in targets.values()}
    assert goals["今年改造老旧院落"] == (20, "个", "courtyards_renovated")
    assert goals["三年改造老旧院落"][0] == 150
    assert goals["背街小巷整治"] == (61, "条", None)
    assert goals["注册志愿者"][0] == 15_000
    registered = target_service.standing(db, target=targets["注册志愿者"])
    assert registered.value is not None and registered.value > 1000
    assert goals["小区共享单车停放点"][:2] == (20, "个")
    assert goals["老旧院落水电气改造"][0] == 8
    renovated = target_service.standing(db, target=targets["今年改造老旧院落"])
    assert renovated.value is not None and 0 < renovated.value < 20
    utilities = target_service.standing(db, target=targets["老旧院落水电气改造"])
    assert utilities.value is not None and utilities.value >= 2
    committees = target_service.standing(db, target=targets["商住小区业委会或自管会全覆盖"])
    assert committees.value is not None and 45 < committees.value < 100
    for target in targets.values():
        points = db.scalars(select(Reading.on).where(Reading.target_id == target.id)).all()
        assert len(set(points)) > 1 or target.starts_on.month == 12, target.name
    alleys = db.scalars(
        select(Reading).where(
            Reading.target_id == targets["背街小巷整治"].id, Reading.source == Source.entered
        )
    ).all()
    assert alleys and all(r.note for r in alleys) and any(r.evidence for r in alleys)
    assert demo_targets.seed(db, month_ends=month_ends) == {}


def _volunteers_and_their_half_year(db: Session) -> None:
    """Teams of every programme in every community, sign-ups mostly confirmed, half a year of
    activities with check-ins (a few flagged), hours and the patrol volunteers among them."""
    from pingan import demo_volunteers
    from pingan.volunteers import service as volunteer_service
    from pingan.volunteers.models import Activity, Attendance, State, Volunteer

    counts = demo_volunteers.year(db, actor=SYSTEM)
    states = Counter(db.scalars(select(Volunteer.state)).all())
    assert states[State.confirmed] > 1000 and states[State.pending] > 0 and states[State.left] > 0
    assert counts["activities"] == db.scalar(select(func.count(Activity.id))) > 150
    kinds = {k for (k,) in db.execute(select(Activity.kind).distinct())}
    assert len(kinds) == 5
    assert db.scalar(select(func.count(Activity.id)).where(Activity.incident_id.is_not(None)))
    assert db.scalar(select(func.count(Attendance.id)).where(Attendance.accepted.is_(None))) > 0
    confirmed = db.scalars(select(Volunteer).where(Volunteer.state == State.confirmed)).all()
    served = volunteer_service.hours(db, volunteers=confirmed)
    assert sum(h.activities for h in served.values()) > 1000
    assert any(h.patrol > 0 for h in served.values())  # the patrol volunteers' runs
    key = meta.get(db, demo_volunteers.KEY_OF)
    found = volunteer_service.by_key(db, key=key or "")
    assert found is not None and found.state == State.confirmed
    assert demo_volunteers.year(db, actor=SYSTEM) == {}
