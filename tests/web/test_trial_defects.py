"""What a new user met on a first try of the console, each fixed where it was caused: an action's
answer that lost the alarm's place, the platform's dispatch counted as an operator's
acknowledgement, an ended alarm that still offered dispatch, checkpoints off the team's ground,
service time that rounded to nothing, a resident shown the map and the register."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.alarms import service as alarm_service
from pingan.alarms.models import Alarm, AlarmEntry, AlarmState, Level
from pingan.alarms.rules import parse
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.patrol import dispatch
from pingan.patrol.models import Task
from tests.alarms.test_alarms import send
from tests.conftest import World, add_device, add_user
from tests.patrol.test_dispatch import crew
from tests.patrol.test_exceptions import _rules
from tests.patrol.test_patrol import patrol
from tests.web.test_console import page

__all__ = ["crew", "patrol"]  # fixtures


def _alarm(world: World, alarm_id: int) -> Alarm:
    world.session.expire_all()
    alarm = world.session.get(Alarm, alarm_id)
    assert alarm is not None
    return alarm


def test_an_action_s_answer_carries_the_alarm_s_place_and_what_may_follow(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    """The desk renders an action's answer like a live update: without the path, a filtered
    desk hid the acknowledged alarm and its place column went blank."""
    alarm = _alarm(world, crew["alarm"])
    r = client.post(
        f"/api/v1/alarms/{alarm.id}/actions",
        json={"action": "acknowledge", "version": alarm.version},
        headers=world.auth("gh_operator"),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == alarm.path and body["path"].count("/") >= 4
    assert body["acknowledged"] is True
    assert body["actions"] == ["dispatch", "resolve", "false_alarm", "note"]
    listed = client.get(
        "/api/v1/alarms", params={"desk": True}, headers=world.auth("gh_operator")
    ).json()["items"]
    assert [a["path"] for a in listed] == [alarm.path]


def test_the_platform_s_dispatch_leaves_acknowledgement_to_a_person(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    rules = _rules(client)
    saved = rules.current
    rules.current = parse(
        "rules:\n"
        "  - {id: fire, when: {kind: fire}, category: fire, priority: 2, title: 烟感报警, dispatch: true}\n"
    )
    try:
        token = add_device(world, "gh-smoke-2", node="gh_site", name="2栋烟感")
        send(client, token, kind="fire", code="smoke", zone="2")
        world.session.expire_all()
        fire = world.session.scalars(
            select(Alarm).where(Alarm.id != crew["alarm"]).order_by(Alarm.id.desc())
        ).first()
        assert fire is not None and fire.state == AlarmState.raised
        assert dispatch.auto_dispatch(world.session, rules=rules) >= 1
        world.session.commit()
        fire = _alarm(world, fire.id)
        # Dispatched by the machine, and still waiting for a person.
        assert fire.state == AlarmState.dispatched
        assert fire.acknowledged_at is None and fire.ack_seconds is None
        assert fire.escalate_at is not None
        shown = client.get(f"/api/v1/alarms/{fire.id}", headers=world.auth("gh_operator")).json()
        assert shown["acknowledged"] is False and shown["actions"][0] == "acknowledge"
        entries = [e["action"] for e in shown["timeline"]]
        assert "dispatch_offer" in entries and "acknowledge" not in entries
        # Nobody acknowledged in time: it escalates though a responder has it.
        level = fire.level
        later = utcnow() + timedelta(minutes=5)
        assert fire.id in [
            a.id for a in alarm_service.escalate_due(world.session, rules=rules, now=later)
        ]
        world.session.commit()
        fire = _alarm(world, fire.id)
        assert fire.level == min(level + 1, Level.street)
        # The operator's 确认 now does something: it records their time, the state stays.
        r = client.post(
            f"/api/v1/alarms/{fire.id}/actions",
            json={"action": "acknowledge", "version": fire.version},
            headers=world.auth("gh_operator"),
        )
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "dispatched" and r.json()["acknowledged"] is True
        assert "acknowledge" not in r.json()["actions"]
        fire = _alarm(world, fire.id)
        assert fire.acknowledged_at is not None and fire.escalate_at is None
        who = world.session.scalars(
            select(AlarmEntry.actor).where(
                AlarmEntry.alarm_id == fire.id, AlarmEntry.action == "acknowledge"
            )
        ).one()
        assert who.endswith(":gh_operator")
        # Twice is not allowed: it is acknowledged.
        again = client.post(
            f"/api/v1/alarms/{fire.id}/actions",
            json={"action": "acknowledge"},
            headers=world.auth("gh_operator"),
        )
        assert again.status_code == 409
    finally:
        rules.current = saved


def test_an_operator_s_dispatch_is_their_acknowledgement(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    r = client.post(
        f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch",
        json={},
        headers=world.auth("gh_operator"),
    )
    assert r.status_code == 200, r.text
    alarm = _alarm(world, crew["alarm"])
    assert alarm.state == AlarmState.dispatched and alarm.acknowledged_at is not None


def test_an_ended_alarm_offers_no_dispatch_and_frees_its_responder(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    op = world.auth("gh_operator")
    alarm_id = crew["alarm"]
    task = client.post(f"/api/v1/patrol/alarms/{alarm_id}/dispatch", json={}, headers=op).json()
    near = world.auth("near")
    assert (
        client.post(f"/api/v1/patrol/tasks/{task['id']}/accept", json={}, headers=near).status_code
        == 200
    )
    before = page(client, world, "gh_operator", f"/alarms/{alarm_id}").text
    assert 'id="dispatch"' in before and "执行任务中" in before
    alarm = _alarm(world, alarm_id)
    r = client.post(
        f"/api/v1/alarms/{alarm_id}/actions",
        json={"action": "resolve", "version": alarm.version},
        headers=op,
    )
    assert r.status_code == 200 and r.json()["actions"] == ["close", "note"]
    # Before the worker's round has cancelled the task: the responder is free already.
    world.session.expire_all()
    assert world.session.get(Task, task["id"]).state.value == "accepted"  # type: ignore[union-attr]
    assert crew["near"]["id"] not in dispatch.busy(world.session)
    after = page(client, world, "gh_operator", f"/alarms/{alarm_id}").text
    # The dispatch button and the candidates are inside the part the page takes anew.
    responders = after[after.index('id="responders"') :]
    responders = responders[: responders.index("</section>")]
    assert 'id="dispatch"' not in after and "dispatch-to" not in after
    assert "执行任务中" not in after and "尚未派给队员" not in responders


def test_a_route_s_checkpoints_lie_on_the_team_s_ground_with_names_of_their_own(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    h = world.auth("gh_admin")

    def route(*points: dict[str, Any]) -> Any:
        return client.post(
            "/api/v1/patrol/routes",
            json={
                "team_id": patrol["team"]["id"],
                "name": "试走",
                "duration_min": 30,
                "checkpoints": list(points),
            },
            headers=h,
        )

    inside = {"name": "东门", "lon": 103.805, "lat": 30.685, "due_min": 10}
    in_the_next_community = {"name": "红光苑门口", "lon": 103.83, "lat": 30.685, "due_min": 20}
    off_the_territory = {"name": "远处", "lon": 104.2, "lat": 30.5, "due_min": 20}
    r = route(inside, in_the_next_community)
    assert r.status_code == 422, r.text
    assert "红光苑门口" in r.json()["detail"] and "光华社区" in r.json()["detail"]
    assert r.json()["field"] == "checkpoints.1.lon"
    assert route(inside, off_the_territory).status_code == 422
    twice = route(inside, {**inside, "lat": 30.686})
    assert twice.status_code == 422 and "重复" in twice.json()["detail"]
    assert route(inside, {**inside, "name": "西门", "lat": 30.69}).status_code == 201
    # The editor makes up no name: each point's box starts empty and is required.
    script = client.get("/static/patrol.js").text
    assert 'name: "", lat:' in script and "required: true" in script


def test_short_runs_and_tasks_count_as_service(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    op = world.auth("gh_operator")
    near = world.auth("near")
    task = client.post(f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch", json={}, headers=op)
    task_id = task.json()["id"]
    for step in ("accept", "on_scene", "resolve"):
        r = client.post(f"/api/v1/patrol/tasks/{task_id}/{step}", json={}, headers=near)
        assert r.status_code == 200, r.text
    # A task worked on for seconds is service, not nothing.
    me = client.get("/api/v1/patrol/me", headers=near).json()
    assert me["teams"][0]["service_minutes"] == 1
    world.session.expire_all()
    done = world.session.get(Task, task_id)
    assert done is not None and done.accepted_at is not None
    done.accepted_at -= timedelta(minutes=95)
    world.session.commit()
    me = client.get("/api/v1/patrol/me", headers=near).json()
    assert me["teams"][0]["service_minutes"] == 95
    members = client.get(
        f"/api/v1/patrol/teams/{crew['team']['id']}/members", headers=world.auth("gh_admin")
    ).json()
    assert {m["service_minutes"] for m in members} == {95, 0}
    hours = client.get("/api/v1/figures/volunteer_hours", headers=world.auth("gh_admin")).json()
    assert [row[-1] for row in hours["rows"]] == [1.58]
    html = page(client, world, "gh_admin", "/patrol").text
    assert "1 小时 35 分钟" in html


def test_a_resident_sees_their_own_record_household_and_consent_and_nothing_else(
    client: TestClient, world: World
) -> None:
    h = world.auth("gh_admin")
    spouse = client.post(
        "/api/v1/people",
        json={"node_id": world.nodes["gh_hh"], "name": "光华配偶", "relation": "配偶"},
        headers=h,
    )
    assert spouse.status_code == 201, spouse.text
    add_user(world, "gh_resident", Role.resident, "gh_hh", person_id=world.people["gh"])
    world.session.commit()
    own = page(client, world, "gh_resident", "/me")
    assert own.status_code == 200
    assert "光华居民" in own.text and "光华配偶" in own.text and "1单元101" in own.text
    assert "100****5678" in own.text and "10012345678" not in own.text
    assert "我的人脸授权" in own.text
    # Their menu is their own page; the map and the register are not theirs to read.
    menu = own.text[own.text.index("<nav") : own.text.index("</nav>")]
    assert 'href="/me"' in menu and 'href="/map"' not in menu and 'href="/territory"' not in menu
    for path in ("/map", "/territory", "/desk"):
        assert page(client, world, "gh_resident", path).status_code == 404, path
    r = client.get("/api/v1/people", headers=world.auth("gh_resident"))
    assert r.status_code == 403
    assert client.get("/api/v1/me/face", headers=world.auth("gh_resident")).status_code == 200
