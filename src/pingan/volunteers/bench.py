"""`pingan bench volunteers`: the volunteer service at the scale the street aims for — measured for
real.

For each database: a fresh database with VOLUNTEERS confirmed volunteers of the three programmes
and WEEKS weeks of PER_WEEK activities (a past activity with ATTENDING volunteers checked in and
out) written straight into the database, and PER_WEEK activities under way now; then `pingan
serve` as its own process, and
- check-ins: PHONES volunteers at once checking in on the spot by an activity's code for SEND_S
  seconds (each with their own key, as on their phone): check-ins a second, latency (p50, p99);
- pages: the desk page, the roster's first page over the API (with every volunteer's hours), the
  volunteers figure over the period, a volunteer's own page, and the XLSX export of everyone's
  hours, each asked ASKS times: time (p50, p99), and the export's size.
Sign-ups are not driven: they come from many addresses at a person's pace and are rate-limited
per address, so a crowd from one machine measures only the limit.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pingan.bench import Platform, crowd, page_times, percentiles
from pingan.db.base import utcnow
from pingan.territory.models import NodeKind, TerritoryNode
from pingan.volunteers.models import Activity, Attendance, Programme, State, Volunteer

VOLUNTEERS = 15_000
WEEKS = 8
PER_WEEK = 100
ATTENDING = 20
PHONES = 8
SEND_S = 15.0
ASKS = 10
Progress = Callable[[str], None]


def key_of(n: int) -> str:
    return f"bench-volunteer-key-{n:05d}"


def _fill(platform: Platform) -> tuple[int, list[str]]:
    """The volunteers and the activities behind; the activities under way now, their codes."""
    rng = random.Random(15000)
    now = utcnow()
    with Session(platform.engine) as s:
        s.info["actor"] = "bench"
        community = s.scalars(
            select(TerritoryNode).where(TerritoryNode.kind == NodeKind.community)
        ).first()
        assert community is not None
        programmes = [p.id for p in s.scalars(select(Programme))]
        volunteers = [
            {
                "programme_id": programmes[n % len(programmes)],
                "community_id": community.id,
                "path": community.path,
                "name": f"志愿者{n}",
                "phone": f"13{n:09d}",
                "state": State.confirmed.value,
                "key_hash": hashlib.sha256(key_of(n).encode()).hexdigest(),
                "decided_at": now - timedelta(days=rng.randrange(365)),
                "decided_by": "bench",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(VOLUNTEERS)
        ]
        for start in range(0, len(volunteers), 5000):
            s.execute(insert(Volunteer), volunteers[start : start + 5000])
        ids = list(s.scalars(select(Volunteer.id)))
        activities, codes = [], []
        for week in range(-WEEKS, 1):
            for n in range(PER_WEEK):
                starts = (
                    now - timedelta(minutes=30)
                    if week == 0
                    else now + timedelta(weeks=week, hours=rng.randrange(150))
                )
                code = f"{(week + WEEKS) * PER_WEEK + n:06d}"
                activities.append(
                    {
                        "kind": "civility",
                        "title": f"活动{week}-{n}",
                        "programme_id": programmes[n % len(programmes)],
                        "node_id": community.id,
                        "path": community.path,
                        "place": "广场",
                        "lon": 103.8,
                        "lat": 30.69,
                        "radius_m": 300,
                        "starts_at": starts,
                        "ends_at": starts + timedelta(hours=2),
                        "capacity": None,
                        "code": code,
                        "cancelled": False,
                        "created_by": "bench",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if week == 0:
                    codes.append(code)
        s.execute(insert(Activity), activities)
        past = s.execute(
            select(Activity.id, Activity.starts_at).where(
                Activity.starts_at < now - timedelta(hours=3)
            )
        ).all()
        rows = []
        for activity_id, starts in past:
            for volunteer_id in rng.sample(ids, ATTENDING):
                rows.append(
                    {
                        "activity_id": activity_id,
                        "volunteer_id": volunteer_id,
                        "signed_up_at": starts - timedelta(days=1),
                        "in_at": starts,
                        "in_lon": 103.8,
                        "in_lat": 30.69,
                        "out_at": starts + timedelta(hours=2),
                        "flags": [],
                        "accepted": True,
                        "minutes": 120,
                        "at": now,
                    }
                )
        for start in range(0, len(rows), 5000):
            s.execute(insert(Attendance), rows[start : start + 5000])
        s.commit()
        return len(rows), codes


def _check_ins(platform: Platform, token: str, codes: list[str]) -> dict[str, Any]:
    def check(http: httpx.Client, rng: random.Random) -> bool:
        r = http.post(
            "/api/v1/public/volunteers/me/checks",
            json={"code": rng.choice(codes), "action": "in", "lon": 103.8, "lat": 30.69},
            headers={"X-Volunteer-Key": key_of(rng.randrange(VOLUNTEERS))},
        )
        return r.status_code == 200

    return {"phones": PHONES, **crowd(platform, token, PHONES, SEND_S, check)}


def _own_page(platform: Platform) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=platform.base, timeout=60) as http:
        for n in range(ASKS):
            sent = time.perf_counter()
            r = http.get(
                "/api/v1/public/volunteers/me", headers={"X-Volunteer-Key": key_of(n * 997)}
            )
            times.append((time.perf_counter() - sent) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"own page: {r.status_code} {r.text[:200]}")
    return percentiles(times)


def _export(platform: Platform, token: str) -> dict[str, Any]:
    times, size = [], 0
    with httpx.Client(
        base_url=platform.base, timeout=300, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        for _ in range(3):
            sent = time.perf_counter()
            r = http.get("/api/v1/volunteers/hours.xlsx")
            times.append((time.perf_counter() - sent) * 1000)
            if r.status_code != 200:
                raise RuntimeError(f"export: {r.status_code} {r.text[:200]}")
            size = len(r.content)
    return {"ms": percentiles(times), "bytes": size}


def volunteers(*, backends: list[str], pg_url: str, progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {
        "volunteers": VOLUNTEERS,
        "activities": (WEEKS + 1) * PER_WEEK,
        "per_week": PER_WEEK,
    }
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing {VOLUNTEERS} volunteers and {WEEKS} weeks …")
                _fleet, token = platform.prepare()
                attendances, codes = _fill(platform)
                platform.start()
                progress(f"{backend}: {PHONES} phones checking in for {SEND_S:.0f} s …")
                figures: dict[str, Any] = {
                    "attendances": attendances,
                    "check_ins": _check_ins(platform, token, codes),
                }
                progress(f"{backend}: the desk, the roster, the figure, {ASKS} times each …")
                figures["pages_ms"] = page_times(
                    platform,
                    token,
                    [
                        ("desk_page", "/volunteers"),
                        ("roster_api", "/api/v1/volunteers?limit=50"),
                        ("figure", "/api/v1/figures/volunteers"),
                    ],
                    ASKS,
                )
                figures["pages_ms"]["own_page"] = _own_page(platform)
                progress(f"{backend}: the XLSX export of {VOLUNTEERS} volunteers' hours …")
                figures["export"] = _export(platform, token)
                figures["peak_rss_mb"] = platform.peak_rss_mb()
                out[backend] = figures
            finally:
                platform.stop()
    return out
