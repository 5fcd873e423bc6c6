"""`pingan bench incidents`: how many reports with a photo the platform accepts a second, and how
long the incident desk takes with 50,000 cases in the database — measured for real.

For each database: a fresh database, `pingan serve` as its own process, then
- reports: REPORTERS people reporting at once over HTTP, each report multipart with a phone-sized
  JPEG (re-encoded and stripped by the platform), for REPORT_S seconds: reports accepted a second
  and request latency (p50, p99);
- desk: CASES cases written into the database (a quarter of a year of a sub-district and more,
  every state), then the incident desk's page and its API list, each view asked DESK_ASKS times:
  page time (p50, p99).
"""

from __future__ import annotations

import io
import json
import random
import secrets
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pingan.bench import Platform, crowd, page_times
from pingan.db.base import utcnow
from pingan.incidents.models import OPEN_STATES, Channel, Incident, IncidentState
from pingan.territory.models import NodeKind, TerritoryNode

REPORTERS = 8
REPORT_S = 15.0
CASES = 50_000
DESK_ASKS = 30
Progress = Callable[[str], None]


def phone_photo() -> bytes:
    """A phone's photo after the page scaled it: 2048 × 1536, some detail, about 400 KB."""
    rng = random.Random(7)
    image = Image.new("RGB", (2048, 1536), (190, 186, 180))
    draw = ImageDraw.Draw(image)
    for _ in range(3000):
        x, y = rng.randrange(2048), rng.randrange(1536)
        draw.rectangle(
            (x, y, x + rng.randrange(4, 40), y + rng.randrange(4, 40)),
            fill=tuple(rng.randrange(256) for _ in range(3)),
        )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def _reports(platform: Platform, token: str, point: tuple[float, float]) -> dict[str, Any]:
    photo = phone_photo()

    def report(http: httpx.Client, rng: random.Random) -> bool:
        body = {
            "kind": "environment.exposed_rubbish",
            "description": "门口垃圾桶满了溢出来",
            "lon": point[0] + rng.uniform(-0.002, 0.002),
            "lat": point[1] + rng.uniform(-0.002, 0.002),
        }
        r = http.post(
            "/api/v1/incidents",
            data={"report": json.dumps(body)},
            files=[("photos", ("p.jpg", photo, "image/jpeg"))],
        )
        return r.status_code == 201

    return {
        "reporters": REPORTERS,
        "photo_kb": round(len(photo) / 1024),
        **crowd(platform, token, REPORTERS, REPORT_S, report),
    }


def _fill(platform: Platform) -> int:
    """CASES cases over ninety days, in every state, written straight into the database."""
    rng = random.Random(50)
    now = utcnow()
    states = list(IncidentState)
    kinds = [
        "fire.ebike_indoor",
        "environment.exposed_rubbish",
        "facilities.lighting",
        "dispute.neighbour",
    ]
    with Session(platform.engine) as s:
        grids = s.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.grid)).all()
        rows: list[dict[str, Any]] = []
        for n in range(CASES):
            grid = grids[n % len(grids)]
            state = rng.choice(states)
            reported = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
            accepted = reported + timedelta(hours=1) if state != IncidentState.reported else None
            due = accepted + timedelta(days=2) if accepted else None
            kind = rng.choice(kinds)
            rows.append(
                {
                    "token": secrets.token_urlsafe(16),
                    "kind": kind,
                    "category": kind.split(".")[0],
                    "priority": rng.randint(1, 4),
                    "handler": "site_manager",
                    "state": state.value,
                    "is_open": state in OPEN_STATES,
                    "channel": rng.choice(list(Channel)).value,
                    "description": f"第 {n} 号事件：门口垃圾桶满了溢出来",
                    "lon": 103.79 + rng.uniform(0, 0.01),
                    "lat": 30.68 + rng.uniform(0, 0.01),
                    "node_id": grid.id,
                    "path": grid.path,
                    "community_id": grid.parent_id,
                    "level": 1 if due and due < now and state in OPEN_STATES else 0,
                    "reported_at": reported,
                    "accepted_at": accepted,
                    "due_at": due,
                    "overdue_at": due if due and due < now and state in OPEN_STATES else None,
                    "supervised": False,
                    "reopened": 0,
                    "updated_at": reported,
                    "version": 1,
                }
            )
            if len(rows) == 5000:
                s.execute(insert(Incident), rows)
                rows = []
        if rows:
            s.execute(insert(Incident), rows)
        s.commit()
    return CASES


def _desk(platform: Platform, token: str) -> dict[str, Any]:
    return page_times(
        platform,
        token,
        [
            ("page_open", "/incidents?view=open"),
            ("page_overdue", "/incidents?view=overdue"),
            ("page_all", "/incidents?view=all"),
            ("api_open", "/api/v1/incidents?view=open&limit=50"),
        ],
        DESK_ASKS,
    )


def incidents(*, backends: list[str], pg_url: str, progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {"cases_in_database": CASES}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing …")
                _fleet, token = platform.prepare()
                with Session(platform.engine) as s:
                    site = s.scalars(
                        select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site)
                    ).first()
                    point = (site.lon or 103.792, site.lat or 30.682) if site else (103.792, 30.682)
                platform.start()
                progress(
                    f"{backend}: {REPORTERS} people reporting with a photo for {REPORT_S:.0f} s …"
                )
                figures: dict[str, Any] = {"reports": _reports(platform, token, point)}
                progress(f"{backend}: writing {CASES} cases …")
                _fill(platform)
                progress(f"{backend}: the incident desk, {DESK_ASKS} times a view …")
                figures["desk_ms"] = _desk(platform, token)
                figures["peak_rss_mb"] = platform.peak_rss_mb()
                out[backend] = figures
            finally:
                platform.stop()
    return out
