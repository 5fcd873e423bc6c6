"""Search by photo (reason, scope, audit), viewing a face record, retention, holdings."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.auth.models import AuditEntry
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.faces import retention
from pingan.faces.models import Recognition
from tests.conftest import World, add_device, add_user
from tests.faces.test_engine import photo
from tests.faces.test_faces_api import at_door, consent, enrol


def search(client: TestClient, world: World, user: str, name: str, reason: str, **form: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/faces/search",
        files={"photo": (name, photo(name), "image/jpeg")},
        data={"reason": reason, **form},
        headers=world.auth(user),
    )


def test_search_by_photo_needs_the_right_a_reason_and_is_audited(
    client: TestClient, world: World
) -> None:
    door = add_device(world, "gh-face-1", node="gh_site", kind="face_terminal")
    add_user(world, "police", Role.police_liaison, "street")
    person = world.people["gh"]
    consent(client, world, person)
    assert enrol(client, world, person, "chen_yanxi/1.jpg").status_code == 200
    at_door(client, door, "chen_yanxi/2.jpg")  # seen at the door, known
    at_door(client, door, "kim_ji_won/1.jpg")  # seen, unknown
    at_door(client, door, "kim_ji_won/3.jpg")  # the same stranger again

    # An operator may not search faces at all; the police liaison must say why.
    assert (
        search(client, world, "gh_operator", "kim_ji_won/2.jpg", "寻找走失人员").status_code == 403
    )
    r = search(client, world, "police", "kim_ji_won/2.jpg", "查")
    assert r.status_code == 422 and r.json()["field"] == "reason"

    r = search(client, world, "police", "kim_ji_won/2.jpg", "协查 2026-118 号案件")
    assert r.status_code == 200, r.text
    found = r.json()
    assert found["enrolled"] == [] and len(found["sightings"]) == 2
    assert all(s["person_id"] is None for s in found["sightings"])
    r = search(client, world, "police", "chen_yanxi/3.jpg", "寻找走失老人")
    assert [e["person_id"] for e in r.json()["enrolled"]] == [person]
    assert [s["person_id"] for s in r.json()["sightings"]] == [person]

    entries = world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "face_search").order_by(AuditEntry.id)
    ).all()
    assert [e.note for e in entries] == ["协查 2026-118 号案件", "寻找走失老人"]
    assert entries[-1].after is not None and entries[-1].after["enrolled"] == [person]

    # The face crop of a recognition: shown to face roles only, and every view is audited.
    rid = found["sightings"][0]["recognition_id"]
    assert (
        client.get(
            f"/api/v1/faces/recognitions/{rid}/snapshot", headers=world.auth("gh_operator")
        ).status_code
        == 403
    )
    r = client.get(f"/api/v1/faces/recognitions/{rid}/snapshot", headers=world.auth("police"))
    assert r.status_code == 200 and r.content[:2] == b"\xff\xd8"
    viewed = world.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "face_recognitions", AuditEntry.action == "view"
        )
    ).all()
    assert [v.entity_id for v in viewed] == [str(rid)]
    listed = client.get("/api/v1/faces/recognitions", headers=world.auth("gh_operator")).json()
    assert listed["total"] == 3 and "thumbnail" not in listed["items"][0]
    assert (
        client.get("/api/v1/faces/recognitions", headers=world.auth("hg_admin")).json()["total"]
        == 0
    )


def test_retention_and_holdings(client: TestClient, world: World) -> None:
    door = add_device(world, "gh-face-1", node="gh_site", kind="face_terminal")
    person = world.people["gh"]
    consent(client, world, person)
    enrol(client, world, person, "chen_yanxi/1.jpg")
    at_door(client, door, "chen_yanxi/2.jpg")
    at_door(client, door, "kim_ji_won/1.jpg")
    at_door(client, door, "kim_ji_won/3.jpg")
    rows = world.session.scalars(select(Recognition).order_by(Recognition.id)).all()
    rows[0].at = utcnow() - timedelta(days=31)  # known, old: the snapshot goes, the record stays
    rows[1].at = utcnow() - timedelta(days=8)  # unknown, old: everything goes
    world.session.flush()
    done = retention.purge(world.session, snapshot_days=30, unknown_days=7)
    assert (done.snapshots, done.unknown) == (1, 1)
    world.session.expire_all()
    left = world.session.scalars(select(Recognition).order_by(Recognition.id)).all()
    assert [r.id for r in left] == [rows[0].id, rows[2].id]
    assert left[0].thumbnail is None and left[0].vector is None and left[0].person_id == person
    assert left[1].thumbnail is not None

    [street] = client.get("/api/v1/faces/holdings", headers=world.auth("street_admin")).json()
    assert street == {
        "street_id": world.nodes["street"],
        "street": "柳城街道",
        "people": 1,
        "threshold": 100_000,
        "warning": False,
    }
