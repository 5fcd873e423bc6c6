"""Teams, rosters, meetings, routes with signed checkpoint codes, and patrol runs: check-ins kept
and flagged (far, out of order, late), refusals recorded, coverage figured — on both databases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.auth.models import AuditEntry
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.patrol.models import Run
from tests.conftest import World, add_user

# Two checkpoints 200 m apart in 光华苑.
A = {"name": "东门", "lon": 103.805, "lat": 30.685, "radius_m": 50, "due_min": 10}
B = {"name": "北侧围墙", "lon": 103.805, "lat": 30.6868, "radius_m": 50, "due_min": 20}


@pytest.fixture()
def patrol(client: TestClient, world: World) -> dict[str, Any]:
    add_user(world, "volunteer", Role.patrol_member, "gh", person_id=world.people["gh"])
    add_user(world, "other_volunteer", Role.patrol_member, "gh")
    h = world.auth("gh_admin")
    team = client.post(
        "/api/v1/patrol/teams",
        json={"kind": "volunteers", "name": "光华红袖套志愿巡逻队", "node_id": world.nodes["gh"]},
        headers=h,
    ).json()
    member = client.post(
        f"/api/v1/patrol/teams/{team['id']}/members",
        json={
            "person_id": world.people["gh"],
            "user_id": world.users["volunteer"],
            "programme": "红袖套",
        },
        headers=h,
    )
    assert member.status_code == 201, member.text
    route = client.post(
        "/api/v1/patrol/routes",
        json={
            "team_id": team["id"],
            "name": "光华苑夜巡",
            "duration_min": 30,
            "checkpoints": [A, B],
        },
        headers=h,
    ).json()
    codes = client.get(f"/api/v1/patrol/routes/{route['id']}/codes", headers=h).json()
    return {"team": team, "member": member.json(), "route": route, "codes": codes}


def walk_first_checkpoint_only(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The volunteer walks the route, checks in at the first checkpoint only, and finishes."""
    v = world.auth("volunteer")
    first, _second = patrol["codes"]
    run = client.post(f"/api/v1/patrol/routes/{patrol['route']['id']}/runs", headers=v).json()
    client.post(
        f"/api/v1/patrol/runs/{run['id']}/checkins",
        json={"token": first["token"], "lon": 103.805, "lat": 30.685},
        headers=v,
    )
    done = client.post(f"/api/v1/patrol/runs/{run['id']}/finish", headers=v).json()
    return run, done


def test_a_run_with_two_check_ins_and_coverage(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    v = world.auth("volunteer")
    first, second = patrol["codes"]
    assert first["token"].startswith("PA1.") and str(first["checkpoint_id"]) in first["token"]
    run = client.post(f"/api/v1/patrol/routes/{patrol['route']['id']}/runs", headers=v)
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": first["token"], "lon": 103.80502, "lat": 30.68501},
        headers=v,
    )
    assert r.status_code == 201 and r.json()["flags"] == [] and r.json()["distance_m"] < 5
    # Queued while offline: sent later, with the time it was scanned.
    scanned = utcnow() - timedelta(seconds=30)
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": second["token"], "lon": 103.805, "lat": 30.6868, "at": scanned.isoformat()},
        headers=v,
    )
    assert r.status_code == 201 and r.json()["flags"] == []
    kept = client.get(f"/api/v1/patrol/runs/{run_id}", headers=v).json()["checkins"][1]["at"]
    assert abs((datetime.fromisoformat(kept) - scanned).total_seconds()) < 1
    done = client.post(f"/api/v1/patrol/runs/{run_id}/finish", headers=v).json()
    assert done["state"] == "finished" and done["missed"] == []
    [cov] = client.get("/api/v1/patrol/coverage", headers=world.auth("gh_admin")).json()
    assert (cov["runs"], cov["planned"], cov["on_time"], cov["coverage"]) == (1, 2, 2, 1.0)
    # The other community does not see the route or the run.
    assert (
        client.get(f"/api/v1/patrol/runs/{run_id}", headers=world.auth("hg_admin")).status_code
        == 404
    )


def test_far_out_of_order_late_are_flagged_and_missed_points_noted(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    v = world.auth("volunteer")
    first, second = patrol["codes"]
    run_id = client.post(f"/api/v1/patrol/routes/{patrol['route']['id']}/runs", headers=v).json()[
        "id"
    ]
    run = world.session.get(Run, run_id)
    assert run is not None
    run.started_at = utcnow() - timedelta(minutes=40)  # well past both checkpoints' times
    world.session.flush()
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": second["token"], "lon": 103.80, "lat": 30.68},  # ~700 m away
        headers=v,
    )
    assert r.status_code == 201
    assert set(r.json()["flags"]) == {"far", "out_of_order", "late"}
    done = client.post(f"/api/v1/patrol/runs/{run_id}/finish", headers=v).json()
    assert done["missed"] == [first["checkpoint_id"]]
    [member] = client.get(
        f"/api/v1/patrol/teams/{patrol['team']['id']}/members", headers=world.auth("gh_admin")
    ).json()
    assert member["service_minutes"] >= 40  # volunteer hours come from the runs


def test_bad_check_ins_are_refused_with_the_reason_and_recorded(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    v = world.auth("volunteer")
    first, _second = patrol["codes"]
    run_id = client.post(f"/api/v1/patrol/routes/{patrol['route']['id']}/runs", headers=v).json()[
        "id"
    ]
    forged = first["token"][:-4] + "AAAA"
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": forged, "lon": 103.805, "lat": 30.685},
        headers=v,
    )
    assert r.status_code == 422 and r.json()["field"] == "token"
    guessed = f"PA1.{first['checkpoint_id'] + 1}.1.x"
    assert (
        client.post(
            f"/api/v1/patrol/runs/{run_id}/checkins",
            json={"token": guessed, "lon": 103.805, "lat": 30.685},
            headers=v,
        ).status_code
        == 422
    )
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": first["token"], "lon": 0, "lat": 0},
        headers=v,
    )
    assert r.status_code == 422 and r.json()["field"] == "lon"
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": first["token"], "lon": "east", "lat": 30.685},
        headers=v,
    )
    assert r.status_code == 422
    # Someone else's run.
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": first["token"], "lon": 103.805, "lat": 30.685},
        headers=world.auth("other_volunteer"),
    )
    assert r.status_code == 403
    # A re-issued code voids the printed one.
    fresh = client.post(
        f"/api/v1/patrol/routes/{patrol['route']['id']}/checkpoints/{first['checkpoint_id']}/reissue",
        headers=world.auth("gh_admin"),
    ).json()
    assert fresh["token"] != first["token"]
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": first["token"], "lon": 103.805, "lat": 30.685},
        headers=v,
    )
    assert r.status_code == 422
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": fresh["token"], "lon": 103.805, "lat": 30.685},
        headers=v,
    )
    assert r.status_code == 201
    # One queued on the phone that arrives after the run ended: refused, and kept.
    client.post(f"/api/v1/patrol/runs/{run_id}/finish", headers=v)
    r = client.post(
        f"/api/v1/patrol/runs/{run_id}/checkins",
        json={"token": fresh["token"], "lon": 103.805, "lat": 30.685, "at": utcnow().isoformat()},
        headers=v,
    )
    assert r.status_code == 409
    reasons = [
        e.note
        for e in world.session.scalars(
            select(AuditEntry).where(AuditEntry.entity == "patrol_checkins").order_by(AuditEntry.id)
        )
    ]
    assert reasons == [
        "bad_token",
        "bad_token",
        "bad_position",
        "not_your_run",
        "bad_token",
        "run_finished",
    ]


def test_roster_on_duty_swap_and_meetings(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    h = world.auth("gh_admin")
    team = patrol["team"]["id"]
    second = client.post(
        f"/api/v1/patrol/teams/{team}/members",
        json={"person_id": _another_person(client, world)},
        headers=h,
    ).json()
    now = utcnow()
    mine = client.post(
        f"/api/v1/patrol/teams/{team}/shifts",
        json={
            "member_id": patrol["member"]["id"],
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=3)).isoformat(),
        },
        headers=h,
    ).json()
    theirs = client.post(
        f"/api/v1/patrol/teams/{team}/shifts",
        json={
            "member_id": second["id"],
            "starts_at": (now + timedelta(hours=5)).isoformat(),
            "ends_at": (now + timedelta(hours=9)).isoformat(),
        },
        headers=h,
    ).json()
    duty = client.get("/api/v1/patrol/on-duty", headers=world.auth("gh_operator")).json()
    assert [d["member"]["id"] for d in duty] == [patrol["member"]["id"]]
    r = client.post(
        f"/api/v1/patrol/shifts/{mine['id']}/swap", json={"other_shift_id": theirs["id"]}, headers=h
    )
    assert r.status_code == 200
    duty = client.get("/api/v1/patrol/on-duty", headers=world.auth("gh_operator")).json()
    assert [d["member"]["id"] for d in duty] == [second["id"]]
    r = client.post(
        f"/api/v1/patrol/teams/{team}/shifts",
        json={"member_id": second["id"], "starts_at": now.isoformat(), "ends_at": now.isoformat()},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "ends_at"
    meeting = client.post(
        "/api/v1/patrol/meetings",
        json={
            "node_id": world.nodes["gh"],
            "held_at": now.isoformat(),
            "title": "光华社区群防群治联席会",
            "attendees": ["社区书记", "派出所社区民警", "物业经理", "志愿者队长"],
            "decisions": "增加夜间巡逻班次；东门增设照明。",
        },
        headers=h,
    )
    assert meeting.status_code == 201
    assert client.get("/api/v1/patrol/meetings", headers=world.auth("hg_admin")).json() == []
    # A team of the other community is not theirs to change.
    r = client.post(
        f"/api/v1/patrol/teams/{team}/members",
        json={"person_id": world.people["hg"]},
        headers=world.auth("hg_admin"),
    )
    assert r.status_code == 404


def _another_person(client: TestClient, world: World) -> int:
    r = client.post(
        "/api/v1/people",
        json={"node_id": world.nodes["gh_hh"], "name": "光华志愿者"},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
