"""A year of physical defence for the demo: every site's facility register as the communities'
survey found it a year ago (what its type usually has; old and three-no courtyards short of a
guard room, extinguishers or a door), the devices already registered counting for their items,
and a year of inspections by the grid officers and the street's inspector on their schedule —
most items fine, some found missing or broken, each opening a grid event that the community takes
up and closes once it is seen fixed, a few still open today, a few sites late for inspection.

Everything goes through facilities.service and incidents.service, as the phone and the desk would,
with the time each happened."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import demo_incidents
from pingan.auth import service as auth_service
from pingan.auth.principal import Grant, Principal
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import SHANGHAI, utcnow
from pingan.facilities import renovation, service
from pingan.facilities.flows import Action
from pingan.facilities.models import FAILED, Decision, ItemStatus
from pingan.facilities.schemas import (
    AnswerIn,
    ConsultationIn,
    Funding,
    InspectionIn,
    ItemIn,
    ProjectIn,
)
from pingan.incidents import service as incident_service
from pingan.photos import document
from pingan.territory.models import NodeKind, SiteType, TerritoryNode

DONE_KEY = "demo_facilities"
SEED = 21741
MONTHS = 12
# Of the items a site's checklist has, the share the survey found present, by site type.
PRESENT: dict[SiteType, float] = {
    SiteType.commercial_residential: 0.95,
    SiteType.resettlement: 0.85,
    SiteType.old_courtyard: 0.6,
    SiteType.three_no: 0.45,
    SiteType.work_unit: 0.95,
    SiteType.business_building: 0.97,
}
WORN = 0.012  # a present item found missing or broken at an inspection
SKIPPED = 0.06  # an inspection that was not made (a site late on the desk today)
INSPECTOR = "jd_inspector"
NOTES = {
    ItemStatus.missing: ("未设置", "现场没有", "已被拆除"),
    ItemStatus.broken: ("损坏无法使用", "部分损坏", "过期或失效"),
}


def year(
    session: Session,
    *,
    actor: Principal,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
    month_end: Callable[[date], None] | None = None,
) -> dict[str, int]:
    """Once per demo database: every site's register and a year of its inspections;
    `month_end` is told of each month's last day as the year's inspections pass it."""
    if meta.get(session, DONE_KEY):
        return {}
    say = progress or (lambda _s: None)
    now = now or utcnow()
    rng = random.Random(SEED)
    places = demo_incidents.places_of(session, actor)
    street = session.scalar(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.street))
    user = auth_service.get_by_username(session, username=INSPECTOR)
    if street is None:
        return {}
    inspector = Principal(
        user_id=user.id if user else None,
        name=user.display_name if user else "街道安全检查员",
        grants=(Grant(Role.inspector, street.path),),
    )
    accounts: dict[str, Any] = {
        name: auth_service.get_by_username(session, username=name)
        for name in ("lxy_manager", "yfl_grid1", "jd_city")
    }
    counts = {
        "sites": 0,
        "inspections": 0,
        "failed": 0,
        "cases": 0,
        "open": 0,
        "closed": 0,
        "projects": 0,
    }
    survey = now - timedelta(days=30 * MONTHS + 20)
    say("facility registers")
    for site in places.sites:
        staff = places.people[places.community_of[site.id].id]
        _register(session, rng=rng, site=site, staff=staff, at=survey)
        counts["sites"] += 1
    # The renovations first: a year's inspections then find what their works brought.
    say("renovation projects")
    _renovations(session, rng=rng, places=places, now=now, counts=counts)
    say("a year of inspections")
    book = service.checklist(session)
    visits: list[tuple[datetime, TerritoryNode, str]] = []
    for site in places.sites:
        site_type = SiteType(site.site_type) if site.site_type else None
        for kind in book.inspections:
            months = kind.months(site_type)
            at = survey + timedelta(days=rng.randrange(5, 25))
            while at < now - timedelta(hours=2):
                if rng.random() >= SKIPPED:
                    visits.append((at, site, kind.code))
                at += timedelta(days=30 * months + rng.randrange(-4, 4))
    visits.sort(key=lambda v: v[0])
    month = survey.astimezone(SHANGHAI).date().replace(day=1)
    for at, site, code in visits:
        while month_end and at.astimezone(SHANGHAI).date() >= _next_month(month):
            month = _next_month(month)
            month_end(month - timedelta(days=1))
        community = places.community_of[site.id]
        officer = demo_incidents.staff_of(
            f"{community.name}网格员", Role.grid_officer, community.path
        )
        who = inspector if code == "fire" and inspector.user_id else officer
        staff = places.people[community.id]
        _inspect(
            session,
            rng=rng,
            site=site,
            kind=code,
            at=at,
            now=now,
            who=who,
            staff=staff,
            accounts=accounts,
            counts=counts,
        )
    meta.put(session, DONE_KEY, now.isoformat())
    session.flush()
    return counts


def _next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def _register(
    session: Session, *, rng: random.Random, site: TerritoryNode, staff: Principal, at: datetime
) -> None:
    """The survey: each item of the site's checklist as it was found, its devices counting."""
    book = service.checklist(session)
    site_type = SiteType(site.site_type) if site.site_type else None
    share = PRESENT.get(site_type, 0.8) if site_type else 0.8
    evidence = service.evidence(session, site=site, book=book)
    day = at.astimezone(SHANGHAI).date()
    entries: dict[str, ItemIn] = {}
    for group, item in book.for_site(site_type):
        code = f"{group.code}.{item.code}"
        seen = evidence.get(code, [])
        if code == "video.lifts" and site_type != SiteType.business_building and rng.random() < 0.4:
            status = ItemStatus.na  # no lifts: low-rise blocks
        elif seen or rng.random() < share:
            status = ItemStatus.present
        else:
            status = rng.choice([ItemStatus.missing, ItemStatus.missing, ItemStatus.broken])
        count = None
        if item.counted and status == ItemStatus.present:
            count = max(len(seen), rng.randint(1, 12))
        details: dict[str, Any] = {}
        if code == "duty.guard_room" and status == ItemStatus.present:
            details["staffed_hours"] = rng.choice([12, 16, 24, 24])
        if code == "perimeter.wall" and status == ItemStatus.present:
            details["height_m"] = rng.choice([1.8, 2.0, 2.2, 2.5])
        if code == "management.organisation" and status == ItemStatus.present:
            details["bodies"] = _bodies(rng, site)
        entries[code] = ItemIn(status=status, count=count, details=details, checked_on=day)
    service.set_items(session, actor=staff, site=site, entries=entries)


def _bodies(rng: random.Random, site: TerritoryNode) -> list[str]:
    """Who manages the site as the territory has it; most commercial compounds with a property
    company have an owners' committee as well."""
    found: list[str] = [site.management] if site.management and site.management != "none" else []
    if (
        site.site_type == SiteType.commercial_residential
        and "owners_committee" not in found
        and rng.random() < 0.7
    ):
        found.append("owners_committee")
    return found


def _inspect(
    session: Session,
    *,
    rng: random.Random,
    site: TerritoryNode,
    kind: str,
    at: datetime,
    now: datetime,
    who: Principal,
    staff: Principal,
    accounts: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """One inspection: what the register holds, worn here and there; the cases it opens live on
    (accepted, handled, verified, closed) as far as the time since allows."""
    book = service.checklist(session)
    found = book.inspection(kind)
    assert found is not None
    site_type = SiteType(site.site_type) if site.site_type else None
    rows = service.items_of(session, site_id=site.id)
    answers = []
    for group, item in book.for_site(site_type, found):
        code = f"{group.code}.{item.code}"
        row = rows.get(code)
        status = row.status if row else ItemStatus.present
        if status == ItemStatus.present and rng.random() < WORN:
            status = rng.choice([ItemStatus.missing, ItemStatus.broken])
        note = rng.choice(NOTES[status]) if status in FAILED else None
        answers.append(
            AnswerIn(code=code, status=status, count=row.count if row else None, note=note)
        )
    before = {r.defect_incident_id for r in rows.values() if r.defect_incident_id}
    inspection, _new = service.inspect(
        session,
        actor=who,
        data=InspectionIn(
            client_key=uuid.UUID(int=rng.getrandbits(128)).hex,
            site_id=site.id,
            kind=kind,
            at=at,
            answers=answers,
        ),
        received=at + timedelta(minutes=rng.randrange(1, 90)),
    )
    counts["inspections"] += 1
    counts["failed"] += inspection.failed
    opened = {
        row.defect_incident_id
        for row in service.items_of(session, site_id=site.id).values()
        if row.defect_incident_id and row.defect_incident_id not in before
    }
    for incident_id in sorted(i for i in opened if i is not None):
        incident = incident_service.get(session, incident_id=incident_id)
        if incident is None:
            continue
        counts["cases"] += 1
        # A guard room or a charging area is built, not fixed: some wait for a project.
        if incident.kind in ("facilities.guard_room", "fire.charging_area") and rng.random() < 0.5:
            counts["open"] += 1
            continue
        department = "社区" if incident.handler == "community_admin" else "物业"
        demo_incidents.case_life(
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


# The seed's renovations: old and three-no courtyards, by stage, with the days they reached it
# (days ago): planned, consulted, approved, works began, accepted, in normal management.
STAGES: tuple[tuple[int | None, ...], ...] = (
    (700, 670, 640, 600, 420, 380),  # done the year before last, now in normal management
    (520, 500, 470, 430, 300, 260),
    (400, 380, 350, 300, 150, None),  # accepted this year …
    (380, 360, 330, 280, 120, None),
    (360, 330, 300, 240, 90, None),
    (300, 280, 250, 200, 60, None),
    (280, 250, 220, 170, 40, None),
    (200, 180, 150, 100, None, None),  # in works
    (150, 130, 100, 60, None, None),
    (120, 100, 70, None, None, None),  # approved
    (90, 60, None, None, None, None),  # residents have decided
    (40, None, None, None, None, None),  # planned
)
WORKS: tuple[tuple[list[str], str, list[str], list[str]], ...] = (
    (
        ["basic"],
        "改造供水、供电、燃气管网，更换老化线路",
        ["fire.extinguishers", "building.lighting"],
        ["water", "power", "gas"],
    ),
    (
        ["basic", "complete"],
        "新建门卫室，安装门禁和楼道照明，建电动车集中充电棚",
        ["duty.guard_room", "entrance.access_control", "fire.ebike_area", "building.lighting"],
        ["power"],
    ),
    (
        ["basic", "improve"],
        "整治围墙，增设周界监控和烟感，接入平台",
        ["perimeter.wall", "video.entrances", "fire.smoke_detectors"],
        [],
    ),
)


def _minutes(seed: int) -> bytes:
    """A drawn page of minutes (lines of writing, signatures), as a phone would photograph it."""
    rng = random.Random(seed)
    image = Image.new("RGB", (900, 1200), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    for y in range(120, 1000, 42):
        draw.line((80, y, 80 + rng.randrange(500, 740), y), fill=(60, 60, 70), width=3)
    for x in range(100, 800, 160):
        draw.arc((x, 1060, x + 120, 1120), 200, 340, fill=(30, 30, 120), width=4)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def _renovations(
    session: Session, *, rng: random.Random, places: Any, now: datetime, counts: dict[str, int]
) -> None:
    """The seed's projects over the courtyards: one across a community's courtyards (water, power
    and gas), the others one courtyard each, at every stage."""
    courtyards = [s for s in places.sites if s.site_type in service.COURTYARDS]
    rng.shuffle(courtyards)
    today = now.astimezone(SHANGHAI).date()
    # The first project takes a community's courtyards together; the others one each.
    by_community: dict[int, list[TerritoryNode]] = {}
    for site in courtyards:
        by_community.setdefault(places.community_of[site.id].id, []).append(site)
    together = max(by_community.values(), key=len)
    rest = [c for c in courtyards if c not in together]
    groups = [together, *([c] for c in rest[: len(STAGES) - 1])]
    for n, (sites, stages) in enumerate(zip(groups, STAGES, strict=False)):
        community = places.community_of[sites[0].id]
        staff = places.people[community.id]
        categories, works, items, utilities = WORKS[0] if len(sites) > 1 else WORKS[1 + n % 2]

        def day(ago: int) -> date:
            return today - timedelta(days=ago)

        budget = rng.randrange(60, 240) * 10_000 * len(sites)
        project = renovation.create(
            session,
            actor=staff,
            data=ProjectIn(
                name=f"{'、'.join(s.name for s in sites)}有机更新",
                sites=[s.id for s in sites],
                categories=categories,
                works=works,
                utilities=utilities,
                items=items,
                budget_yuan=budget,
                funding=[
                    Funding(source="区财政", yuan=budget * 7 // 10),
                    Funding(source="街道", yuan=budget * 2 // 10),
                    Funding(source="居民自筹", yuan=budget // 10),
                ],
                planned_on=day(stages[0] or 0),
            ),
        )
        counts["projects"] += 1
        if stages[1] is None:
            continue
        households = rng.randrange(30, 120) * len(sites)
        present = int(households * rng.uniform(0.7, 0.9))
        against = int(present * rng.uniform(0.02, 0.1))
        renovation.consult(
            session,
            actor=staff,
            project=project,
            data=ConsultationIn(
                held_on=day(stages[1]),
                households=households,
                present=present,
                votes_for=present - against,
                votes_against=against,
                decision=Decision.agreed,
                note="院落居民议事会，自管会主持，街道、社区列席",
            ),
            minutes=document(_minutes(n)),
        )
        for action, ago in zip(
            (Action.approve, Action.start, Action.accept, Action.manage), stages[2:], strict=True
        ):
            if ago is None:
                break
            photos = (
                [demo_incidents.drawn_photo(project.id * 10 + len(action), after=True)]
                if action in (Action.start, Action.accept)
                else []
            )
            renovation.move(
                session,
                actor=staff,
                project=project,
                action=action,
                on=day(ago),
                photos=photos,
                at=datetime.combine(day(ago), datetime.min.time(), tzinfo=SHANGHAI),
            )
