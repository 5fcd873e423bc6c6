"""Notification channels kept in the console: entered with their secrets sealed and never shown
again, tried with "send a test" against a real peer, told of alarms like the rules file's own."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.alarms.models import ChannelRecord, Notification
from pingan.alarms.rules import parse
from pingan.auth.models import AuditEntry
from tests.alarms.test_alarms import send
from tests.alarms.test_notify import Receiver
from tests.conftest import World, add_device
from tests.patrol.test_exceptions import _rules
from tests.web.test_console import page

ROBOT_KEY = "0f3c9d2e-robot-key"


def _add(client: TestClient, world: World, **extra: object) -> dict[str, object]:
    r = client.post(
        "/api/v1/notification-channels",
        json={"key": "duty_group", "name": "值班群", "type": "wecom", **extra},
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_channel_is_entered_tried_and_never_shows_its_key(
    client: TestClient, world: World
) -> None:
    robot = Receiver()
    made = _add(client, world, url=f"{robot.url}/wecom?key={ROBOT_KEY}", every_alarm=True)
    assert made["host"] == "127.0.0.1" and ROBOT_KEY not in json.dumps(made)
    listed = client.get("/api/v1/notification-channels", headers=world.auth("street_admin"))
    assert ROBOT_KEY not in listed.text
    # Sealed at rest and kept out of the audit log.
    world.session.expire_all()
    raw = world.session.connection().exec_driver_sql("SELECT url FROM notification_channels")
    assert ROBOT_KEY not in str(raw.all())
    entries = world.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "notification_channels")
    ).all()
    assert entries and all(ROBOT_KEY not in json.dumps(e.after or {}) for e in entries)

    tried = client.post(
        f"/api/v1/notification-channels/{made['id']}/test", headers=world.auth("street_admin")
    )
    assert tried.status_code == 200, tried.text
    assert tried.json() == {"ok": True, "result": "sent"}
    [(path, _headers, body)] = robot.to("/wecom")
    assert ROBOT_KEY in path and "测试" in json.loads(body)["markdown"]["content"]
    html = page(client, world, "street_admin", "/admin/channels").text
    assert "duty_group" in html and "sent" in html and ROBOT_KEY not in html

    broken = _add(client, world, key="old_robot", url="http://127.0.0.1:9/wecom?key=gone")
    failed = client.post(
        f"/api/v1/notification-channels/{broken['id']}/test", headers=world.auth("street_admin")
    )
    assert failed.json()["ok"] is False and "ConnectError" in failed.json()["result"]
    world.session.expire_all()
    kept = world.session.scalars(select(ChannelRecord).where(ChannelRecord.key == "old_robot"))
    assert "ConnectError" in (kept.one().last_test_result or "")
    # Who may: admins; an operator may not even list them.
    operator = client.get("/api/v1/notification-channels", headers=world.auth("gh_operator"))
    assert operator.status_code == 403
    # Nor a community's admin: a channel told of every alarm would tell of other communities'.
    community = client.get("/api/v1/notification-channels", headers=world.auth("gh_admin"))
    assert community.status_code == 403
    assert page(client, world, "gh_operator", "/admin/channels").status_code == 404


def test_a_console_channel_is_told_of_alarms_and_rules_may_name_it(
    client: TestClient, world: World
) -> None:
    robot = Receiver()
    _add(client, world, url=f"{robot.url}/wecom?key=k", every_alarm=True)
    rules = _rules(client)
    saved = rules.current
    rules.current = parse(
        "rules:\n"
        "  - {id: fire, when: {kind: fire}, category: fire, priority: 1, title: 火警,"
        " notify: [duty_group, nowhere]}\n"
    )
    try:
        token = add_device(world, "gh-smoke-ch", node="gh_site", name="烟感")
        send(client, token, kind="fire", code="smoke")
        world.session.expire_all()
        channels = world.session.scalars(select(Notification.channel)).all()
        assert channels == ["duty_group"]  # once, though both the rule and the console ask
        html = page(client, world, "street_admin", "/admin/channels").text
        assert 'id="unknown"' in html and "nowhere" in html
    finally:
        rules.current = saved
    wrong = client.post(
        "/api/v1/notification-channels",
        json={"key": "mail", "name": "邮件", "type": "email"},
        headers=world.auth("street_admin"),
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "to"
    twice = client.post(
        "/api/v1/notification-channels",
        json={"key": "duty_group", "name": "again", "type": "wecom", "url": "https://a.example"},
        headers=world.auth("street_admin"),
    )
    assert twice.status_code == 409


def test_odd_input_gets_a_clear_answer_and_changes_nothing(
    client: TestClient, world: World
) -> None:
    """What the fuzzer found: flags sent as null, an address with a control character."""
    made = _add(client, world, url="https://robot.example/send?key=1", every_alarm=True)
    h = world.auth("street_admin")
    r = client.patch(
        f"/api/v1/notification-channels/{made['id']}",
        json={"every_alarm": None, "enabled": None, "responders": None, "name": "值班群二"},
        headers=h,
    )
    assert r.status_code == 200, r.text
    assert r.json()["every_alarm"] is True and r.json()["enabled"] is True
    assert r.json()["name"] == "值班群二"
    bad = client.patch(
        f"/api/v1/notification-channels/{made['id']}",
        json={"url": "https://\x12robot.example/"},
        headers=h,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "url"
    blank = client.patch(
        f"/api/v1/notification-channels/{made['id']}", json={"to": ["", " "]}, headers=h
    )
    assert blank.status_code == 200 and blank.json()["to"] == []
