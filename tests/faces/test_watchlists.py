"""Watchlists: the blocked list (police only) raises a P1 alarm with the snapshot; a person with
dementia at an exit gate; a care-list person not seen for days; a recurring stranger at night;
an operator's "not this person"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.alarms.models import Alarm, Notification
from pingan.alarms.notify import outbox
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.devices.models import Device
from pingan.events.models import Event
from pingan.faces import watch
from pingan.faces.models import WatchEntry, WatchTemplate
from tests.conftest import Backend, World, add_device, add_user
from tests.faces.test_engine import photo
from tests.faces.test_faces_api import at_door, consent, enrol
from tests.web.test_console import page


def alarms(world: World) -> list[Alarm]:
    world.session.expire_all()
    return list(world.session.scalars(select(Alarm).order_by(Alarm.id)))


def blocked(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "blocked",
        "node_id": world.nodes["street"],
        "subject": "在逃人员（协查通报 2026-118）",
        "legal_basis": "公安机关协查通报",
        "case_ref": "2026-118",
        "expires_at": (utcnow() + timedelta(days=30)).isoformat(),
        **extra,
    }


def test_blocked_list_is_the_polices_and_raises_a_p1_with_the_snapshot(
    client: TestClient, world: World
) -> None:
    add_user(world, "police", Role.police_liaison, "street")
    camera = add_device(world, "gh-face-1", node="gh_site", kind="face_terminal", name="东门人脸机")
    # Not even the street's admin may put someone on the blocked list.
    r = client.post("/api/v1/watchlist", json=blocked(world), headers=world.auth("street_admin"))
    assert r.status_code == 403
    r = client.post(
        "/api/v1/watchlist", json=blocked(world, case_ref=None), headers=world.auth("police")
    )
    assert r.status_code == 422 and r.json()["field"] == "case_ref"
    r = client.post(
        "/api/v1/watchlist",
        json=blocked(world, expires_at=(utcnow() + timedelta(days=900)).isoformat()),
        headers=world.auth("police"),
    )
    assert r.status_code == 422 and r.json()["field"] == "expires_at"
    entry = client.post(
        "/api/v1/watchlist", json=blocked(world), headers=world.auth("police")
    ).json()
    r = client.post(
        f"/api/v1/watchlist/{entry['id']}/photos",
        files=[("photos", ("kim.jpg", photo("kim_ji_won/2.jpg"), "image/jpeg"))],
        headers=world.auth("police"),
    )
    assert r.status_code == 200 and r.json()["results"][0]["accepted"], r.text
    # The list does not exist for others.
    assert client.get("/api/v1/watchlist", headers=world.auth("street_admin")).json() == []
    assert (
        client.get("/api/v1/watchlist", headers=world.auth("police")).json()[0]["case_ref"]
        == "2026-118"
    )

    at_door(client, camera, "kim_ji_won/1.jpg")
    [alarm] = alarms(world)
    assert (alarm.priority, alarm.category, alarm.title, alarm.subject) == (
        1,
        "watchlist",
        "布控人员出现",
        "东门人脸机",
    )
    event = world.session.get(Event, alarm.first_event_id)
    assert event is not None and event.payload is not None
    snapshot = event.payload["snapshot"]
    # The desk that sees the alarm sees its snapshot; the alarm page shows it.
    r = client.get(snapshot, headers=world.auth("gh_operator"))
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    client.cookies.set("pingan_session", world.tokens["gh_operator"])
    assert f'src="{snapshot}"' in client.get(f"/alarms/{alarm.id}").text
    client.cookies.clear()

    r = client.post(f"/api/v1/watchlist/{entry['id']}/end", headers=world.auth("police"))
    assert r.status_code == 200 and r.json()["ended_at"]
    assert world.session.scalars(select(WatchTemplate)).all() == []
    at_door(client, camera, "kim_ji_won/1.jpg")
    assert len(alarms(world)) == 1


def test_dementia_at_an_exit_gate(client: TestClient, world: World, backend: Backend) -> None:
    add_user(world, "grid", Role.grid_officer, "gh_grid")
    gate = add_device(world, "gh-gate", node="gh_site", kind="face_terminal", name="南门出口")
    inner = add_device(world, "gh-lobby", node="gh_site", kind="face_terminal", name="1栋大堂")
    device = world.session.get(Device, world.devices["gh-gate"])
    assert device is not None
    device.is_exit = True
    world.session.flush()
    person = world.people["gh"]
    consent(client, world, person)
    enrol(client, world, person, "chen_yanxi/1.jpg")
    r = client.post(
        "/api/v1/watchlist",
        json={
            "kind": "dementia",
            "node_id": world.nodes["gh_site"],
            "person_id": person,
            "contact": "女儿 100****0000",
            "contact_phone": "10012340000",
        },
        headers=world.auth("grid"),
    )
    assert r.status_code == 201, r.text
    at_door(client, inner, "chen_yanxi/2.jpg")
    assert alarms(world) == []
    at_door(client, gate, "chen_yanxi/2.jpg")
    [alarm] = alarms(world)
    assert (alarm.priority, alarm.category) == (2, "welfare")
    event = world.session.get(Event, alarm.first_event_id)
    assert event is not None and event.payload and event.payload["contact"] == "女儿 100****0000"
    # The family is told at once, by SMS to the number on the entry.
    [told] = world.session.scalars(
        select(Notification).where(Notification.alarm_id == alarm.id)
    ).all()
    assert (told.kind, told.recipient, told.status) == ("sms", "10012340000", "pending")
    [claimed] = outbox.claim(world.session, rules=backend.app.state.runtime.rules, public_url="")
    assert claimed.channel is not None and claimed.channel.to == ["10012340000"]


def test_care_list_person_not_seen_for_days(
    client: TestClient, world: World, backend: Backend
) -> None:
    add_device(world, "gh-face-1", node="gh_site", kind="face_terminal")
    person = world.people["gh"]
    r = client.post(
        "/api/v1/watchlist",
        json={
            "kind": "care",
            "node_id": world.nodes["gh_site"],
            "person_id": person,
            "not_seen_days": 3,
        },
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 201
    entry = world.session.get(WatchEntry, r.json()["id"])
    assert entry is not None
    assert watch.not_seen(world.session) == []  # just entered: not yet
    entry.created_at = utcnow() - timedelta(days=4)
    world.session.flush()
    [alert] = watch.not_seen(world.session)
    assert alert.code == "not_seen" and alert.payload["days"] == 3
    assert watch.not_seen(world.session) == []  # told once per absence
    # A card at the door is a sign of life.
    watch.seen_by_credential(world.session, person_id=person)
    assert entry.last_seen_at is not None


def test_a_recurring_stranger_at_night(
    client: TestClient, world: World, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend.app.state.faces.settings, "face_stranger_hours", "0-24")
    door = add_device(world, "gh-face-1", node="gh_site", kind="face_terminal", name="东门人脸机")
    for name in ("kim_ji_won/1.jpg", "kim_ji_won/3.jpg"):
        at_door(client, door, name)
    assert alarms(world) == []
    at_door(client, door, "kim_ji_won/5.jpg")
    [alarm] = alarms(world)
    assert (alarm.category, alarm.priority) == ("stranger", 3)
    at_door(client, door, "kim_ji_won/2.jpg")
    [alarm] = alarms(world)
    assert alarm.count == 2  # the same face again counts on the same alarm
    # The faces page lists the recurring strangers, each with its alarm (and its snapshot).
    shown = page(client, world, "gh_operator", "/faces")
    assert shown.status_code == 200, shown.headers
    shown = shown.text
    strangers = shown.split('id="strangers"', 1)[1].split("</section>", 1)[0]
    assert f'href="/alarms/{alarm.id}"' in strangers and "东门人脸机" in strangers
    assert "<td>1</td>" in strangers  # seen once more since the alarm


def test_not_this_person_is_honoured(client: TestClient, world: World) -> None:
    door = add_device(world, "gh-face-1", node="gh_site", kind="face_terminal")
    person = world.people["gh"]
    consent(client, world, person)
    enrol(client, world, person, "chen_yanxi/1.jpg")
    first = at_door(client, door, "chen_yanxi/2.jpg")
    assert first["person_id"] == person
    r = client.post(
        f"/api/v1/faces/recognitions/{first['recognition_id']}/not-this-person",
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 204
    again = at_door(client, door, "chen_yanxi/2.jpg")
    assert again["person_id"] is None and again["reason"] == "unknown"
