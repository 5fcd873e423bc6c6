"""A year of physical defence for the demo: every site's facility register as the communities'
survey found it a year ago (what its type usually has; old and three-no courtyards short of a
guard room, extinguishers or a door), the devices already registered counting for their items,
and a year of inspections by the grid officers and the street's inspector on their schedule —
most items fine, some found missing or broken, each opening a grid event that the community takes
up and closes once it is seen fixed, a few still open today, a few sites late for inspection.

Everything goes through facilities.service and incidents.service, as the phone and the desk would,
with the time each happened."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import demo_incidents
from pingan.auth import service as auth_service
from pingan.auth.principal import Grant, Principal
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import SHANGHAI, utcnow
from pingan.facilities import service
from pingan.facilities.models import FAILED, ItemStatus
from pingan.facilities.schemas import AnswerIn, InspectionIn, ItemIn
from pingan.incidents import service as incident_service
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
) -> dict[str, int]:
    """Once per demo database: every site's register and a year of its inspections."""
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
    counts = {"sites": 0, "inspections": 0, "failed": 0, "cases": 0, "open": 0, "closed": 0}
    survey = now - timedelta(days=30 * MONTHS + 20)
    say("facility registers")
    for site in places.sites:
        staff = places.people[places.community_of[site.id].id]
        _register(session, rng=rng, site=site, staff=staff, at=survey)
        counts["sites"] += 1
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
    for at, site, code in visits:
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
        entries[code] = ItemIn(status=status, count=count, details=details, checked_on=day)
    service.set_items(session, actor=staff, site=site, entries=entries)


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
