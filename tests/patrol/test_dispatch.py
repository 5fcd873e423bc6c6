"""Dispatch of an alarm to the nearest on-duty responder; accept → on the way → on scene →
resolved; cannot attend or no answer in time passes it on; every step on the alarm's timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.alarms.models import Alarm, AlarmEntry
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.patrol import dispatch
from pingan.patrol.models import Task
from tests.alarms.test_alarms import send
from tests.conftest import World, add_device, add_user


@pytest.fixture()
def crew(client: TestClient, world: World) -> dict[str, Any]:
    """Two volunteers on duty in 光华: one 100 m from 光华苑, one 1 km away."""
    h = world.auth("gh_admin")
    team = client.post(
        "/api/v1/patrol/teams",
        json={"kind": "community_patrol", "name": "光华治保巡逻队", "node_id": world.nodes["gh"]},
        headers=h,
    ).json()
    out: dict[str, Any] = {"team": team}
    now = utcnow()
    for name, lat in (("near", 30.6859), ("far", 30.6940)):
        person = client.post(
            "/api/v1/people",
            json={"node_id": world.nodes["gh_hh"], "name": f"队员{name}"},
            headers=h,
        ).json()["id"]
        add_user(world, name, Role.patrol_member, "gh")
        member = client.post(
            f"/api/v1/patrol/teams/{team['id']}/members",
            json={"person_id": person, "user_id": world.users[name]},
            headers=h,
        ).json()
        client.post(
            f"/api/v1/patrol/teams/{team['id']}/shifts",
            json={
                "member_id": member["id"],
                "starts_at": (now - timedelta(hours=1)).isoformat(),
                "ends_at": (now + timedelta(hours=4)).isoformat(),
            },
            headers=h,
        )
        r = client.post(
            "/api/v1/patrol/position", json={"lon": 103.805, "lat": lat}, headers=world.auth(name)
        )
        assert r.status_code == 204
        out[name] = member
    token = add_device(world, "gh-smoke", node="gh_site", name="1栋烟感")
    send(client, token, kind="fire", code="smoke", zone="1")
    out["alarm"] = world.session.scalars(select(Alarm)).one().id
    return out


def timeline(world: World, alarm_id: int) -> list[str]:
    world.session.expire_all()
    return [
        e.action
        for e in world.session.scalars(
            select(AlarmEntry).where(AlarmEntry.alarm_id == alarm_id).order_by(AlarmEntry.id)
        )
    ]


def test_nearest_accepts_goes_arrives_and_resolves(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    alarm = crew["alarm"]
    r = client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=world.auth("gh_operator")
    )
    assert r.status_code == 200, r.text
    task = r.json()
    assert task["member_id"] == crew["near"]["id"] and task["distance_m"] < 200
    assert client.get("/api/v1/patrol/my-tasks", headers=world.auth("far")).json() == []
    [mine] = client.get("/api/v1/patrol/my-tasks", headers=world.auth("near")).json()
    for step in ("accept", "en_route", "on_scene"):
        r = client.post(
            f"/api/v1/patrol/tasks/{mine['id']}/{step}", json={}, headers=world.auth("near")
        )
        assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/patrol/tasks/{mine['id']}/resolve",
        json={"note": "厨房油烟引起，已通风，无火情"},
        headers=world.auth("near"),
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved"
    # Someone else's task does not exist for them; a step out of turn is refused.
    assert (
        client.post(
            f"/api/v1/patrol/tasks/{mine['id']}/accept", json={}, headers=world.auth("far")
        ).status_code
        == 404
    )
    r = client.post(
        f"/api/v1/patrol/tasks/{mine['id']}/accept", json={}, headers=world.auth("near")
    )
    assert r.status_code == 409
    state = client.get(f"/api/v1/alarms/{alarm}", headers=world.auth("gh_operator")).json()["state"]
    assert state == "resolved"
    # The operator's dispatch is their acknowledgement: no separate line for it.
    assert timeline(world, alarm) == [
        "raised",
        "dispatch",
        "dispatch_offer",
        "dispatch_accept",
        "dispatch_en_route",
        "arrive",
        "dispatch_on_scene",
        "resolve",
        "dispatch_resolve",
    ]


def test_cannot_attend_or_no_answer_passes_it_on(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    alarm = crew["alarm"]
    first = client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=world.auth("gh_operator")
    ).json()
    r = client.post(
        f"/api/v1/patrol/tasks/{first['id']}/decline",
        json={"note": "正在处理另一起纠纷"},
        headers=world.auth("near"),
    )
    assert r.status_code == 200
    [second] = client.get("/api/v1/patrol/my-tasks", headers=world.auth("far")).json()
    # Nobody accepts in time: with everyone tried, the centre is told.
    dispatch.pass_on_overdue(world.session, now=utcnow() + timedelta(seconds=dispatch.ACCEPT_S + 1))
    tasks = world.session.scalars(select(Task).order_by(Task.id)).all()
    assert [t.state for t in tasks] == ["declined", "timed_out"]
    assert tasks[1].id == second["id"]
    assert timeline(world, alarm)[-3:] == ["dispatch_offer", "dispatch_timeout", "dispatch_none"]
    # A second dispatch while one is open is refused.
    client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch",
        json={"member_id": crew["near"]["id"]},
        headers=world.auth("gh_operator"),
    )
    r = client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=world.auth("gh_operator")
    )
    assert r.status_code == 409
    # The other community cannot dispatch this alarm.
    r = client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=world.auth("hg_admin")
    )
    assert r.status_code == 404


def test_which_teams_answer_a_place(world: World) -> None:
    from pingan.territory.models import TerritoryNode

    def path(name: str) -> str:
        node = world.session.get(TerritoryNode, world.nodes[name])
        assert node is not None
        return node.path

    site = path("gh_site")
    assert dispatch.serves(path("gh"), site)  # the community's patrol
    assert dispatch.serves(path("street"), site)  # the street's patrol
    assert dispatch.serves(site, site)  # the compound's own guards
    assert not dispatch.serves(path("hg"), site)  # another community's
    assert not dispatch.serves(path("hg_site"), site)
