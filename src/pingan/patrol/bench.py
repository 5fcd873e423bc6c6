"""`pingan bench patrol`: how fast dispatch reaches a responder's phone, how fast their steps reach
the centre, and how many check-ins the platform takes — measured for real.

For each database: a fresh database, `pingan serve` as its own process, RESPONDERS patrol members
on duty with positions spread over the territory (so each dispatch ranks them all), one of them
with their phone page's task stream open and an operator with the alarm stream open. Figures:
- dispatch_to_phone_ms: from the operator's dispatch request to the task arriving on the phone's
  stream (p50, p99);
- step_to_centre_ms: from the responder's accept to the line arriving on the operator's stream;
- checkins: WALKERS volunteers checking in over HTTP, each request a scanned code with a
  position, paced to PACED a second in all and then as fast as they can: check-ins per second
  and request latency (p50, p99).
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.alarms.rules import RuleBook
from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.bench import Platform, listen, percentiles
from pingan.db.base import utcnow
from pingan.faces.vault import Vault
from pingan.patrol import service as patrol_service
from pingan.patrol.models import Member
from pingan.patrol.schemas import CheckpointIn, MemberIn, RouteIn, ShiftIn, TeamIn
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, TerritoryNode
from pingan.territory.schemas import PersonCreate

RESPONDERS = 200
WALKERS = 20
DISPATCHES = 60
CHECKIN_S = 10.0
PACED = 50  # check-ins a second in all: a whole sub-district's patrols at their busiest, and more
Progress = Callable[[str], None]


def _token(session: Session, username: str, role: Role, node_id: int, person_id: int | None) -> str:
    user = auth_service.create(
        session,
        actor=SYSTEM,
        data=UserCreate(
            username=username,
            display_name=username,
            password="bench-password-1",
            roles=[BindingIn(role=role, node_id=node_id)],
            person_id=person_id,
        ),
    )
    raw, _ = auth_service.issue_token(
        session, user=user, kind="api", name="bench", lifetime=timedelta(hours=2)
    )
    return raw


def _prepare(platform: Platform) -> dict[str, Any]:
    """Responders on duty, a route for the walkers, open alarms to dispatch; API tokens."""
    platform.prepare()
    rules = RuleBook.load(None)
    fire = next(r for r in rules.current.rules if r.id == "fire")
    vault = Vault.from_setting(platform.settings.data_key)
    with Session(platform.engine) as s:
        s.info["actor"] = "bench"
        community = s.scalars(
            select(TerritoryNode).where(TerritoryNode.kind == NodeKind.community)
        ).first()
        site = s.scalars(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site)).first()
        assert community is not None and site is not None
        lon, lat = site.lon or 103.792, site.lat or 30.682
        team = patrol_service.create_team(
            s, actor=SYSTEM, data=TeamIn(kind="volunteers", name="bench", node_id=community.id)
        )
        now = utcnow()
        tokens: list[str] = []
        members: list[int] = []
        for n in range(RESPONDERS):
            person = territory_service.create_person(
                s, actor=SYSTEM, data=PersonCreate(node_id=site.id, name=f"队员{n}")
            )
            token = _token(s, f"walker{n}", Role.patrol_member, community.id, person.id)
            user_id = auth_service.get_by_username(s, username=f"walker{n}")
            assert user_id is not None
            member = patrol_service.add_member(
                s,
                actor=SYSTEM,
                team_id=team.id,
                data=MemberIn(person_id=person.id, user_id=user_id.id),
            )
            patrol_service.add_shift(
                s,
                actor=SYSTEM,
                team_id=team.id,
                data=ShiftIn(member_id=member.id, starts_at=now, ends_at=now + timedelta(hours=2)),
            )
            row = s.get(Member, member.id)
            assert row is not None
            # Spread over about 2 km, so that each dispatch ranks them all by distance.
            row.last_lon = lon + 0.0002 * (n % 100)
            row.last_lat = lat + 0.0002 * (n // 100)
            row.last_position_at = now
            tokens.append(token)
            members.append(member.id)
        route = patrol_service.create_route(
            s,
            actor=SYSTEM,
            data=RouteIn(
                team_id=team.id,
                name="bench",
                duration_min=600,
                checkpoints=[
                    CheckpointIn(name=f"点{i}", lon=lon + 0.0001 * i, lat=lat, due_min=600)
                    for i in range(10)
                ],
            ),
        )
        codes = [patrol_service.token(vault, c) for c in patrol_service.checkpoints(s, route=route)]
        operator = _token(s, "bench_operator", Role.centre_operator, community.id, None)
        alarms = [
            alarm_service.open_alarm(
                s,
                rules=rules,
                rule=fire,
                subject=f"bench {n}",
                node_id=site.id,
                path=site.path,
                key=f"bench:{n}",
                at=now,
            ).id
            for n in range(DISPATCHES)
        ]
        route_id = route.id
        s.commit()
    return {
        "tokens": tokens,
        "members": members,
        "route": route_id,
        "codes": codes,
        "operator": operator,
        "alarms": alarms,
        "point": (lon, lat),
    }


def _dispatch(platform: Platform, world: dict[str, Any]) -> dict[str, Any]:
    responder, member = world["tokens"][0], world["members"][0]
    offered: dict[int, float] = {}
    stepped: dict[int, float] = {}
    stop = threading.Event()
    phone_ready, centre_ready = threading.Event(), threading.Event()

    def on_tasks(tasks: Any) -> None:
        for task in tasks:
            offered.setdefault(task["alarm_id"], time.perf_counter())

    def on_alarm(change: Any) -> None:
        if change["action"] == "dispatch_accept":
            stepped.setdefault(change["alarm"]["id"], time.perf_counter())

    base = platform.base
    listen(f"{base}/api/v1/patrol/my-tasks/stream", responder, "tasks", on_tasks, phone_ready, stop)
    listen(f"{base}/api/v1/alarms/stream", world["operator"], "alarm", on_alarm, centre_ready, stop)
    phone_ready.wait(10)
    centre_ready.wait(10)
    to_phone: list[float] = []
    to_centre: list[float] = []
    operator = {"Authorization": f"Bearer {world['operator']}"}
    phone = {"Authorization": f"Bearer {responder}"}
    with httpx.Client(base_url=platform.base, timeout=10) as http:
        for alarm in world["alarms"]:
            sent = time.perf_counter()
            task = http.post(
                f"/api/v1/patrol/alarms/{alarm}/dispatch",
                json={"member_id": member},
                headers=operator,
            ).json()
            deadline = time.monotonic() + 5
            while alarm not in offered and time.monotonic() < deadline:
                time.sleep(0.001)
            if alarm in offered:
                to_phone.append((offered[alarm] - sent) * 1000)
            accepted = time.perf_counter()
            http.post(f"/api/v1/patrol/tasks/{task['id']}/accept", json={}, headers=phone)
            deadline = time.monotonic() + 5
            while alarm not in stepped and time.monotonic() < deadline:
                time.sleep(0.001)
            if alarm in stepped:
                to_centre.append((stepped[alarm] - accepted) * 1000)
            http.post(f"/api/v1/patrol/tasks/{task['id']}/resolve", json={}, headers=phone)
    stop.set()
    return {
        "dispatch_to_phone_ms": percentiles(to_phone),
        "step_to_centre_ms": percentiles(to_centre),
    }


def _checkins(platform: Platform, world: dict[str, Any], rate: float | None) -> dict[str, Any]:
    """As fast as the walkers can (rate None), or paced to `rate` check-ins a second in all."""
    lon, lat = world["point"]
    lags: list[list[float]] = [[] for _ in range(WALKERS)]
    errors = [0] * WALKERS
    start = threading.Barrier(WALKERS + 1)

    def walk(n: int) -> None:
        headers = {"Authorization": f"Bearer {world['tokens'][n + 1]}"}
        with httpx.Client(base_url=platform.base, timeout=10, headers=headers) as http:
            run = http.post(f"/api/v1/patrol/routes/{world['route']}/runs").json()["id"]
            start.wait()
            end = time.monotonic() + CHECKIN_S
            i = 0
            gap = WALKERS / rate if rate else 0.0
            due = time.monotonic() + gap * n / WALKERS  # staggered, as people are, not in bursts
            while time.monotonic() < end:
                if gap:
                    due += gap
                    time.sleep(max(0.0, due - time.monotonic()))
                code = world["codes"][i % len(world["codes"])]
                sent = time.perf_counter()
                r = http.post(
                    f"/api/v1/patrol/runs/{run}/checkins",
                    json={"token": code, "lon": lon + 0.0001 * (i % 10), "lat": lat},
                )
                lags[n].append((time.perf_counter() - sent) * 1000)
                errors[n] += r.status_code != 201
                i += 1

    threads = [threading.Thread(target=walk, args=(n,)) for n in range(WALKERS)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    samples = [lag for walker in lags for lag in walker]
    return {
        "walkers": WALKERS,
        "target_per_s": rate,
        "per_s": round(len(samples) / elapsed),
        "latency_ms": percentiles(samples),
        "errors": sum(errors),
    }


def patrol(*, backends: list[str], pg_url: str, progress: Progress) -> dict[str, Any]:
    out: dict[str, Any] = {"responders_on_duty": RESPONDERS, "dispatches": DISPATCHES}
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="pingan-bench-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing {RESPONDERS} responders on duty …")
                world = _prepare(platform)
                platform.start()
                progress(f"{backend}: {DISPATCHES} dispatches to a phone …")
                figures = _dispatch(platform, world)
                progress(f"{backend}: {WALKERS} volunteers checking in, {PACED}/s in all …")
                figures["checkins_paced"] = _checkins(platform, world, PACED)
                progress(f"{backend}: {WALKERS} volunteers checking in as fast as they can …")
                figures["checkins_flat_out"] = _checkins(platform, world, None)
                figures["peak_rss_mb"] = platform.peak_rss_mb()
                out[backend] = figures
            finally:
                platform.stop()
    return out
