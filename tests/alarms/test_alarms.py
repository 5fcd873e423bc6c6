"""Events raise alarms by the rules; repeats count; restores mark; people move them along."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.alarms.models import Alarm
from pingan.db.base import utcnow
from pingan.devices import supervision
from pingan.devices.models import Device
from tests.conftest import Backend, World, add_device


@pytest.fixture()
def devices(world: World) -> dict[str, str]:
    return {
        "smoke": add_device(world, "gh-smoke", node="gh_site", name="1栋烟感"),
        "door": add_device(
            world, "gh-door", node="gh_site", kind="access_controller", name="东门门禁"
        ),
        "red": add_device(world, "hg-smoke", node="hg_site", name="红光烟感"),
    }


def send(client: TestClient, token: str, **event: Any) -> None:
    r = client.post(
        "/api/v1/ingest/events", json=event, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text


def alarms(
    client: TestClient, world: World, user: str = "gh_admin", **params: Any
) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alarms", params=params, headers=world.auth(user))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_fire_raises_p1_on_every_desk(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["smoke"], kind="fire", code="smoke", zone="1")
    [alarm] = alarms(client, world)
    assert alarm["priority"] == 1 and alarm["category"] == "fire" and alarm["state"] == "raised"
    assert (alarm["title"], alarm["subject"]) == ("火警", "1栋烟感") and alarm["level"] == 2
    for user in ("gh_admin", "gh_operator", "street_admin"):
        assert [a["id"] for a in alarms(client, world, user, desk="true")] == [alarm["id"]], user
    assert alarms(client, world, "hg_admin") == []
    r = client.get(f"/api/v1/alarms/{alarm['id']}", headers=world.auth("hg_admin"))
    assert r.status_code == 404


def test_repeats_count_and_restore_never_closes_a_p1(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    for _ in range(3):
        send(client, devices["smoke"], kind="fire", code="smoke", zone="1")
    send(client, devices["smoke"], kind="restore", code="smoke", zone="1")
    [alarm] = alarms(client, world)
    assert alarm["count"] == 3 and alarm["restored"] is True and alarm["state"] == "raised"
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=world.auth("gh_admin")).json()
    assert [e["action"] for e in detail["timeline"]] == ["raised", "restored"]
    # Another zone is another alarm.
    send(client, devices["smoke"], kind="fire", code="smoke", zone="2")
    assert len(alarms(client, world)) == 2


def test_restore_closes_a_minor_alarm_when_the_rule_says_so(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["door"], kind="door", code="door_held_open", zone="east")
    [alarm] = alarms(client, world)
    assert alarm["priority"] == 3 and alarm["level"] == 0
    assert alarms(client, world, "street_admin", desk="true") == []  # not on the street's desk yet
    send(client, devices["door"], kind="restore", code="door_held_open", zone="east")
    [alarm] = alarms(client, world)
    assert alarm["state"] == "closed" and alarm["restored"] is True


def test_quiet_events_raise_nothing(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["door"], kind="heartbeat")
    send(client, devices["door"], kind="door", code="access_granted")
    assert alarms(client, world) == []


def test_lifecycle_and_two_operators(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["smoke"], kind="fire", code="smoke")
    [alarm] = alarms(client, world)
    url = f"/api/v1/alarms/{alarm['id']}/actions"
    h = world.auth("gh_operator")
    assert alarm["actions"] == ["acknowledge", "dispatch", "false_alarm", "note"]
    r = client.post(
        url,
        json={"action": "acknowledge", "note": "已查看监控", "version": alarm["version"]},
        headers=h,
    )
    assert (
        r.status_code == 200
        and r.json()["state"] == "acknowledged"
        and r.json()["ack_seconds"] >= 0
    )
    # A second operator acting on what they saw before: refused, told what happened.
    r = client.post(
        url,
        json={"action": "acknowledge", "version": alarm["version"]},
        headers=world.auth("gh_admin"),
    )
    assert (
        r.status_code == 409
        and r.json()["field"] == "version"
        and "acknowledged" in r.json()["detail"]
    )
    r = client.post(url, json={"action": "acknowledge"}, headers=world.auth("gh_admin"))
    assert r.status_code == 409 and r.json()["field"] == "action"
    for action, state in (
        ("dispatch", "dispatched"),
        ("arrive", "on_scene"),
        ("note", "on_scene"),
        ("resolve", "resolved"),
        ("close", "closed"),
    ):
        r = client.post(url, json={"action": action, "note": f"{action}"}, headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["state"] == state
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=h).json()
    assert [e["action"] for e in detail["timeline"]] == [
        "raised",
        "acknowledge",
        "dispatch",
        "arrive",
        "note",
        "resolve",
        "close",
    ]
    assert detail["timeline"][1]["actor_user_id"] == world.users["gh_operator"]
    assert detail["timeline"][1]["note"] == "已查看监控"
    assert detail["resolve_seconds"] is not None
    # After closing, the same sensor raises a new alarm.
    send(client, devices["smoke"], kind="fire", code="smoke")
    assert len(alarms(client, world)) == 2


def test_outside_scope_cannot_act(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["red"], kind="fire", code="smoke")
    [alarm] = alarms(client, world, "hg_admin")
    r = client.post(
        f"/api/v1/alarms/{alarm['id']}/actions",
        json={"action": "acknowledge"},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 404


def test_escalation_moves_unacknowledged_alarms_up(
    db: Session, client: TestClient, world: World, devices: dict[str, str], backend: Backend
) -> None:
    send(client, devices["door"], kind="tamper", code="case_open")
    [alarm] = alarms(client, world)
    assert alarm["priority"] == 2 and alarm["level"] == 0
    rules = backend.app.state.runtime.rules
    later = utcnow() + timedelta(seconds=rules.escalation_s(2) + 1)
    assert [a.id for a in alarm_service.escalate_due(db, rules=rules, now=later)] == [alarm["id"]]
    db.flush()
    assert alarms(client, world, "gh_operator", desk="true")[0]["level"] == 1
    assert alarms(client, world, "street_admin", desk="true") == []
    alarm_service.escalate_due(
        db, rules=rules, now=later + timedelta(seconds=rules.escalation_s(2) + 1)
    )
    assert alarms(client, world, "street_admin", desk="true")[0]["level"] == 2
    detail = client.get(f"/api/v1/alarms/{alarm['id']}", headers=world.auth("gh_admin")).json()
    assert [e["action"] for e in detail["timeline"]] == ["raised", "escalated", "escalated"]


def test_silent_device_goes_offline_and_recovers(
    db: Session, client: TestClient, world: World, devices: dict[str, str], backend: Backend
) -> None:
    send(client, devices["door"], kind="heartbeat")
    device = db.get(Device, world.devices["gh-door"])
    assert device is not None
    later = utcnow() + timedelta(seconds=device.supervision_s + 5)
    follow = supervision.check(db, now=later)
    assert [i.device.code for i in follow] == ["gh-door"]
    backend.app.state.runtime.pipeline.process(db, follow)
    assert supervision.check(db, now=later) == []  # once
    db.refresh(device)
    assert device.status == "offline"
    [alarm] = alarms(client, world)
    assert alarm["category"] == "device" and alarm["title"] == "设备离线"
    send(client, devices["door"], kind="heartbeat")
    [alarm] = alarms(client, world)
    assert alarm["state"] == "closed" and alarm["restored"] is True
    db.expire_all()
    assert db.get(Device, world.devices["gh-door"]).status == "online"  # type: ignore[union-attr]
    assert db.query(Alarm).count() == 1


def test_door_opened_without_a_grant(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["door"], kind="door", code="access_granted", zone="east")
    send(client, devices["door"], kind="door", code="door_opened", zone="east")
    assert alarms(client, world) == []  # opened after a grant: an ordinary passage
    other = add_device(
        world, "gh-door-2", node="gh_site", kind="access_controller", name="西门门禁"
    )
    send(client, other, kind="door", code="door_opened", zone="west")
    [alarm] = alarms(client, world)
    assert alarm["rule_id"] == "door_opened_without_grant" and alarm["priority"] == 1


def test_two_detectors_of_one_site_confirm_each_other(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    second = add_device(world, "gh-smoke-2", node="gh_site", name="2栋烟感")
    send(client, devices["smoke"], kind="fire", code="smoke")
    assert [a["rule_id"] for a in alarms(client, world)] == ["fire"]
    send(client, second, kind="fire", code="smoke")
    rules = sorted(a["rule_id"] for a in alarms(client, world))
    assert rules == ["detectors_agree", "fire", "fire"]
    send(client, devices["red"], kind="fire", code="smoke")  # another site agrees with nobody here
    assert sorted(a["rule_id"] for a in alarms(client, world)) == [
        "detectors_agree",
        "fire",
        "fire",
    ]


def test_a_resolved_alarm_never_swallows_a_new_event(
    client: TestClient, world: World, devices: dict[str, str]
) -> None:
    send(client, devices["smoke"], kind="fire", code="smoke")
    [alarm] = alarms(client, world)
    url = f"/api/v1/alarms/{alarm['id']}/actions"
    for action in ("acknowledge", "resolve"):
        assert (
            client.post(url, json={"action": action}, headers=world.auth("gh_operator")).status_code
            == 200
        )
    send(client, devices["smoke"], kind="fire", code="smoke")  # it flares up again minutes later
    states = sorted(a["state"] for a in alarms(client, world))
    assert states == ["raised", "resolved"]
