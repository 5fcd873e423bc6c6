"""What happens without an operator: alarms of `dispatch: true` rules go to the nearest responder;
a responder whose phone page is closed is told by SMS and the responders' channels; a run that
ends with checkpoints missed raises a patrol exception to the team leader; a forgotten run
closes by itself; a scene photo comes with the resolution."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pingan.alarms.models import Alarm, Level, Notification
from pingan.alarms.notify import outbox
from pingan.alarms.notify.channels import Sender
from pingan.alarms.notify.sms import Sms
from pingan.alarms.rules import RuleBook, parse
from pingan.db.base import utcnow
from pingan.patrol import dispatch
from pingan.patrol import service as patrol_service
from pingan.patrol.models import Member, Run
from pingan.territory.models import Person
from tests.alarms.test_alarms import send
from tests.conftest import World, add_device
from tests.patrol.test_dispatch import crew, timeline
from tests.patrol.test_patrol import patrol, walk_first_checkpoint_only

__all__ = ["crew", "patrol"]  # fixtures

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


def _rules(client: TestClient) -> RuleBook:
    rules: RuleBook = client.app.state.runtime.rules  # type: ignore[attr-defined]
    return rules


def test_a_panic_goes_to_the_nearest_responder_by_itself(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    token = add_device(world, "gh-panic", node="gh_site", kind="panic_button", name="一键报警")
    send(client, token, kind="panic", code="panic")
    world.session.expire_all()
    panic = world.session.scalars(select(Alarm).where(Alarm.rule_id == "panic")).one()
    # Nobody pressed anything: the worker's round offers it, once.
    assert dispatch.auto_dispatch(world.session, rules=_rules(client)) == 1
    assert dispatch.auto_dispatch(world.session, rules=_rules(client)) == 0
    world.session.commit()
    [task] = client.get("/api/v1/patrol/my-tasks", headers=world.auth("near")).json()
    assert task["alarm_id"] == panic.id and task["state"] == "offered"
    assert task["title"] == "紧急求助" and task["subject"] and task["place"].endswith("光华苑")
    assert task["lat"] is not None and task["priority"] == 1
    assert timeline(world, panic.id)[-1] == "dispatch_offer"
    # The fire of the fixture has no `dispatch: true` rule: it waits for an operator.
    assert not client.get(
        f"/api/v1/patrol/alarms/{crew['alarm']}/tasks", headers=world.auth("gh_operator")
    ).json()


def test_a_closed_phone_page_is_reached_by_sms_and_the_responders_channel(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    rules = _rules(client)
    saved = rules.current
    rules.current = parse(
        "channels:\n"
        "  - {id: duty_group, type: dingtalk, url: 'http://127.0.0.1:9/robot'}\n"
        "responders: [duty_group]\n"
        "dispatch_accept_s: 30\n"
        "rules:\n"
        "  - {id: fire, when: {kind: fire}, category: fire, priority: 1, title: 火警}\n"
    )
    try:
        near = world.session.get(Member, crew["near"]["id"])
        assert near is not None
        person = world.session.get(Person, near.person_id)
        assert person is not None
        person.phone = "13800000001"
        world.session.commit()
        r = client.post(
            f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch",
            json={},
            headers=world.auth("gh_operator"),
        )
        assert r.status_code == 200, r.text
        offered = datetime.fromisoformat(r.json()["offered_at"])
        assert datetime.fromisoformat(r.json()["deadline"]) - offered == timedelta(seconds=30)
        world.session.expire_all()
        sent = world.session.scalars(
            select(Notification).where(Notification.event == "task.offered")
        ).all()
        assert sorted((n.channel, n.recipient) for n in sent) == [
            ("contact_sms", "13800000001"),
            ("duty_group", "13800000001"),  # the group robot @s the responder
        ]
        # The text message that leaves: to the responder's own number, saying what and where.
        texts: list[tuple[list[str], Sms]] = []

        class Phone:
            def send(self, to: list[str], sms: Sms) -> str:
                texts.append((to, sms))
                return "sent"

        sender = Sender(client.app.state.settings, sms=Phone())  # type: ignore[attr-defined]
        try:
            outbox.deliver_due(
                client.app.state.sessionmaker,  # type: ignore[attr-defined]
                sender=sender,
                rules=rules,
                public_url="https://pingan.local",
            )
        finally:
            sender.close()
        [(to, sms)] = texts
        assert to == ["13800000001"] and "火警" in sms.title and "派单" in sms.title
        assert sms.link == "https://pingan.local/m"  # the phone page, where the task waits
        # With the page open, the offer reaches the page only.
        dispatch.page_open(world.session, actor=_principal(world, "far"))
        world.session.commit()
        client.post(
            f"/api/v1/patrol/tasks/{r.json()['id']}/decline", json={}, headers=world.auth("near")
        )
        [offered] = client.get("/api/v1/patrol/my-tasks", headers=world.auth("far")).json()
        assert offered["state"] == "offered"
        world.session.expire_all()
        count = select(func.count()).select_from(Notification)
        assert world.session.scalar(count.where(Notification.event == "task.offered")) == 2
    finally:
        rules.current = saved


def _principal(world: World, name: str) -> Any:
    from pingan.auth.principal import Principal

    return Principal(user_id=world.users[name], name=name)


def test_missed_checkpoints_raise_a_patrol_exception_to_the_leader(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    h = world.auth("gh_admin")
    leader = client.post(
        "/api/v1/people",
        json={"node_id": world.nodes["gh_hh"], "name": "王队长", "phone": "13900000002"},
        headers=h,
    ).json()["id"]
    r = client.post(
        f"/api/v1/patrol/teams/{patrol['team']['id']}/members",
        json={"person_id": leader, "leader": True},
        headers=h,
    )
    assert r.status_code == 201, r.text
    _run, done = walk_first_checkpoint_only(client, world, patrol)
    assert len(done["missed"]) == 1
    world.session.expire_all()
    alarm = world.session.scalars(select(Alarm).where(Alarm.rule_id == "patrol_missed")).one()
    assert (
        alarm.category == "patrol" and "北侧围墙" in alarm.subject and "光华苑夜巡" in alarm.subject
    )
    assert alarm.level == Level.community
    [sms] = world.session.scalars(
        select(Notification).where(Notification.alarm_id == alarm.id)
    ).all()
    assert (sms.channel, sms.recipient) == ("contact_sms", "13900000002")
    desk = client.get("/api/v1/alarms", headers=world.auth("gh_operator")).json()["items"]
    assert alarm.id in [a["id"] for a in desk]


def test_a_forgotten_run_closes_by_itself_and_reports_what_it_missed(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    v = world.auth("volunteer")
    run = client.post(f"/api/v1/patrol/routes/{patrol['route']['id']}/runs", headers=v).json()
    later = utcnow() + timedelta(minutes=patrol["route"]["duration_min"] + 6)
    rules = _rules(client)
    assert patrol_service.close_overdue(world.session, rules=rules) == 0
    assert patrol_service.close_overdue(world.session, rules=rules, now=later) == 1
    world.session.commit()
    world.session.expire_all()
    closed = world.session.get(Run, run["id"])
    assert closed is not None and closed.state == "finished" and len(closed.missed or []) == 2
    assert closed.finished_at == closed.due_at  # service counted to the planned end
    assert world.session.scalars(select(Alarm).where(Alarm.rule_id == "patrol_missed")).one()


def test_resolving_with_a_photo_of_the_scene(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    task = client.post(
        f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch",
        json={},
        headers=world.auth("gh_operator"),
    ).json()
    near = world.auth("near")
    client.post(f"/api/v1/patrol/tasks/{task['id']}/accept", json={}, headers=near)
    r = client.post(
        f"/api/v1/patrol/tasks/{task['id']}/resolve",
        json={"note": "误报", "photo": "bm90IGFuIGltYWdl"},
        headers=near,
    )
    assert r.status_code == 422 and r.json()["field"] == "photo"
    r = client.post(
        f"/api/v1/patrol/tasks/{task['id']}/resolve",
        json={"note": "误报", "photo": base64.b64encode(PNG).decode()},
        headers=near,
    )
    assert r.status_code == 200 and r.json()["has_photo"]
    for who in ("near", "gh_operator"):
        got = client.get(f"/api/v1/patrol/tasks/{task['id']}/photo", headers=world.auth(who))
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
    assert (
        client.get(
            f"/api/v1/patrol/tasks/{task['id']}/photo", headers=world.auth("hg_admin")
        ).status_code
        == 404
    )


def test_an_alarm_ended_at_the_desk_cancels_its_task(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    alarm = crew["alarm"]
    operator = world.auth("gh_operator")
    task = client.post(f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=operator).json()
    client.post(f"/api/v1/patrol/tasks/{task['id']}/accept", json={}, headers=world.auth("near"))
    current = client.get(f"/api/v1/alarms/{alarm}", headers=operator).json()
    r = client.post(
        f"/api/v1/alarms/{alarm}/actions",
        json={"action": "false_alarm", "version": current["version"], "note": "测试按钮"},
        headers=operator,
    )
    assert r.status_code == 200, r.text
    assert dispatch.cancel_ended(world.session) == 1
    world.session.commit()
    assert client.get("/api/v1/patrol/my-tasks", headers=world.auth("near")).json() == []
    assert timeline(world, alarm)[-1] == "dispatch_cancel"
    # Nothing is passed on, and an ended alarm is not dispatched again.
    assert dispatch.cancel_ended(world.session) == 0
    r = client.post(f"/api/v1/patrol/alarms/{alarm}/dispatch", json={}, headers=operator)
    assert r.status_code == 409 and "已结束" in r.json()["detail"]


def test_the_centre_sees_whom_it_can_send_and_chooses(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    alarm = crew["alarm"]
    operator = world.auth("gh_operator")
    found = client.get(f"/api/v1/patrol/alarms/{alarm}/candidates", headers=operator).json()
    assert [c["name"] for c in found] == ["队员near", "队员far"]
    assert found[0]["distance_m"] < found[1]["distance_m"] and not found[0]["busy"]
    assert found[0]["team"] == "光华治保巡逻队"
    client.cookies.set("pingan_session", world.tokens["gh_operator"])
    page = client.get(f"/alarms/{alarm}")
    client.cookies.clear()
    assert "派给TA" in page.text and "队员near" in page.text
    task = client.post(
        f"/api/v1/patrol/alarms/{alarm}/dispatch",
        json={"member_id": crew["far"]["id"]},
        headers=operator,
    ).json()
    assert task["member_id"] == crew["far"]["id"]
    found = client.get(f"/api/v1/patrol/alarms/{alarm}/candidates", headers=operator).json()
    assert [c["busy"] for c in found] == [False, True]
    r = client.get(f"/api/v1/patrol/alarms/{alarm}/candidates", headers=world.auth("hg_admin"))
    assert r.status_code == 404
