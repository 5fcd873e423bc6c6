"""`pingan bench facilities`: how many inspections from phones the platform takes a second, and
how long the physical-defence desk, its map and the schedule take for a large territory — measured
for real.

For each database: a fresh database with SITES sites (a district's worth of compounds, courtyards
and work units, far past one sub-district's 114), each with its register kept, and PAST
inspections over the last year written straight into the database; then `pingan serve` as its own
process, and
- inspections: INSPECTORS people sending whole inspections at once over HTTP for SEND_S seconds,
  one in ten with a failed item and its phone-sized photo (which opens a grid event): inspections
  accepted a second and request latency (p50, p99);
- desk: the community desk page, the map layer, the late-inspection list and one site's sheet,
  each asked ASKS times: time (p50, p99).
"""

from __future__ import annotations

import json
import random
import tempfile
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM
from pingan.bench import Platform, crowd, page_times
from pingan.db.base import utcnow
from pingan.facilities import checklist as checklist_mod
from pingan.facilities.models import FacilityItem, FacilitySite, Inspection, ItemStatus
from pingan.incidents.bench import phone_photo
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, SiteType, TerritoryNode
from pingan.territory.schemas import NodeCreate

SITES = 2_000
PAST = 50_000
INSPECTORS = 8
SEND_S = 15.0
ASKS = 20
Progress = Callable[[str], None]


def _fill(platform: Platform) -> tuple[list[int], int]:
    """SITES sites of every type with their registers, PAST inspections over the last year."""
    rng = random.Random(21741)
    book = checklist_mod.shipped()
    now = utcnow()
    types = list(SiteType)
    with Session(platform.engine) as s:
        s.info["actor"] = "bench"
        grid = s.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.grid)).one()
        have = s.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site)).all()
        for n in range(SITES - len(have)):
            territory_service.create(
                s,
                actor=SYSTEM,
                data=NodeCreate(
                    kind=NodeKind.site,
                    parent_id=grid.id,
                    name=f"测试小区{n}",
                    site_type=types[n % len(types)],
                    lon=103.79 + rng.uniform(0, 0.01),
                    lat=30.68 + rng.uniform(0, 0.01),
                ),
            )
        s.commit()
        sites = s.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site)).all()
        community = grid.parent_id or grid.id
        sheets, items, inspections = [], [], []
        for site in sites:
            site_type = SiteType(site.site_type) if site.site_type else None
            level = book.default_level.get(site_type, 3) if site_type else 3
            sheets.append(
                {
                    "site_id": site.id,
                    "path": site.path,
                    "community_id": community,
                    "site_type": site.site_type,
                    "level": level,
                    "required": 15,
                    "present": 13,
                    "defects": 0,
                    "completeness": round(13 / 15, 4),
                    "bundles": {"three_basics": rng.random() < 0.7},
                    "updated_at": now,
                }
            )
            for group, item in book.for_site(site_type):
                items.append(
                    {
                        "site_id": site.id,
                        "code": f"{group.code}.{item.code}",
                        "status": (
                            ItemStatus.present if rng.random() < 0.9 else ItemStatus.missing
                        ).value,
                        "checked_on": (now - timedelta(days=rng.randrange(365))).date(),
                        "checked_by": "bench",
                        "source": "register",
                        "updated_at": now,
                    }
                )
        for n in range(PAST):
            site = sites[n % len(sites)]
            inspections.append(
                {
                    "client_key": uuid.UUID(int=rng.getrandbits(128)).hex,
                    "site_id": site.id,
                    "path": site.path,
                    "community_id": community,
                    "kind": "routine" if n % 3 else "fire",
                    "checklist_version": 0,
                    "inspector": "bench",
                    "at": now - timedelta(minutes=rng.randrange(365 * 24 * 60)),
                    "received_at": now,
                    "passed": 15,
                    "failed": 0,
                    "not_applicable": 1,
                }
            )
        for table, rows in (
            (FacilitySite, sheets),
            (FacilityItem, items),
            (Inspection, inspections),
        ):
            for start in range(0, len(rows), 5000):
                s.execute(insert(table), rows[start : start + 5000])
        s.commit()
        return [site.id for site in sites], community


def _inspections(platform: Platform, token: str, sites: list[int]) -> dict[str, Any]:
    """INSPECTORS people sending whole inspections at once, one in ten with a failed item."""
    book = checklist_mod.shipped()
    routine = book.inspection("routine")
    assert routine is not None
    photo = phone_photo()
    with Session(platform.engine) as s:
        types: dict[int, str | None] = {
            int(i): t
            for i, t in s.execute(
                select(TerritoryNode.id, TerritoryNode.site_type).where(
                    TerritoryNode.kind == NodeKind.site
                )
            )
        }

    def inspect(http: httpx.Client, rng: random.Random) -> bool:
        site = rng.choice(sites)
        found = types.get(site)
        site_type = SiteType(found) if found else None
        codes = [f"{g.code}.{i.code}" for g, i in book.for_site(site_type, routine)]
        failing = rng.choice(codes) if rng.random() < 0.1 else None
        body = {
            "client_key": uuid.uuid4().hex,
            "site_id": site,
            "kind": "routine",
            "at": utcnow().isoformat(),
            "answers": [
                {"code": c, "status": "broken", "note": "损坏", "photos": [0]}
                if c == failing
                else {"code": c, "status": "present"}
                for c in codes
            ],
        }
        files = [("photos", ("p.jpg", photo, "image/jpeg"))] if failing else None
        r = http.post("/api/v1/inspections", data={"inspection": json.dumps(body)}, files=files)
        return r.status_code == 201

    return {"inspectors": INSPECTORS, **crowd(platform, token, INSPECTORS, SEND_S, inspect)}


def _desk(platform: Platform, token: str, site: int, community: int) -> dict[str, Any]:
    return page_times(
        platform,
        token,
        [
            ("desk_page", f"/facilities?community={community}"),
            ("map_layer", "/api/v1/map/facilities"),
            ("late_inspections", "/api/v1/inspections/schedule?overdue=true"),
            ("site_sheet", f"/facilities/sites/{site}"),
        ],
        ASKS,
    )


def facilities(*, backends: list[str], pg_url: str, progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {"sites": SITES, "past_inspections": PAST}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing {SITES} sites and {PAST} inspections …")
                _fleet, token = platform.prepare()
                sites, community = _fill(platform)
                platform.start()
                progress(f"{backend}: {INSPECTORS} inspectors sending for {SEND_S:.0f} s …")
                figures: dict[str, Any] = {"inspections": _inspections(platform, token, sites)}
                progress(f"{backend}: the desk, the map and the schedule, {ASKS} times each …")
                figures["desk_ms"] = _desk(platform, token, sites[0], community)
                figures["peak_rss_mb"] = platform.peak_rss_mb()
                out[backend] = figures
            finally:
                platform.stop()
    return out
