"""Consent, enrolment, recognition at a door, cards and PINs, withdrawal — through the API, on
both databases, with the real engine in its worker processes."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.auth.models import AuditEntry
from pingan.auth.principal import SYSTEM
from pingan.db.base import utcnow
from pingan.events.models import DeadLetter, Event
from pingan.faces.models import FaceTemplate, Recognition
from pingan.faces.vault import Vault
from pingan.territory import service as territory_service
from pingan.territory.schemas import PersonCreate
from tests.conftest import TEST_DATA_KEY, World, add_device
from tests.faces.test_engine import photo

CONSENT = {"purpose": "小区门禁人脸通行", "central_storage": True, "method": "paper"}


@pytest.fixture()
def door(world: World) -> str:
    return add_device(world, "gh-face-1", node="gh_site", kind="face_terminal", name="东门人脸机")


def consent(client: TestClient, world: World, person: int, **extra: Any) -> dict[str, Any]:
    r = client.post(
        f"/api/v1/people/{person}/face-consents",
        json={"node_id": world.nodes["gh_site"], **CONSENT, **extra},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def enrol(
    client: TestClient, world: World, person: int, *names: str, user: str = "gh_admin"
) -> Any:
    files = [("photos", (name, photo(name), "image/jpeg")) for name in names]
    return client.post(
        f"/api/v1/people/{person}/face-templates", files=files, headers=world.auth(user)
    )


def at_door(client: TestClient, token: str, name: str, liveness: str | None = "passed") -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "image/jpeg"}
    if liveness:
        headers["X-Liveness"] = liveness
    r = client.post("/api/v1/faces/recognitions", content=photo(name), headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_enrol_needs_consent_and_says_why_a_photo_is_refused(
    client: TestClient, world: World
) -> None:
    person = world.people["gh"]
    r = enrol(client, world, person, "chen_yanxi/1.jpg")
    assert r.status_code == 409 and r.json()["field"] == "consent"
    device_only = consent(client, world, person, central_storage=False)
    r = enrol(client, world, person, "chen_yanxi/1.jpg")
    assert r.status_code == 409 and "设备上" in r.json()["detail"]
    r = client.post(
        f"/api/v1/face-consents/{device_only['id']}/withdraw",
        json={"reason": "改为平台保存"},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 200 and r.json()["withdrawn_at"]
    consent(client, world, person)
    r = enrol(
        client,
        world,
        person,
        "chen_yanxi/1.jpg",
        "chen_yanxi/3.jpg",
        "chen_yanxi/4.jpg",
        "_no_face/1.jpg",
    )
    assert r.status_code == 200, r.text
    results = {x["photo"]: x for x in r.json()["results"]}
    assert results["chen_yanxi/1.jpg"]["accepted"] and results["chen_yanxi/3.jpg"]["accepted"]
    assert results["chen_yanxi/4.jpg"]["reason_key"] == "too_small"
    assert "60 像素" in results["chen_yanxi/4.jpg"]["reason"]
    assert results["_no_face/1.jpg"]["reason_key"] == "no_face"
    assert r.json()["templates"] == 2

    listed = client.get(f"/api/v1/people/{person}/face-templates", headers=world.auth("gh_admin"))
    assert len(listed.json()) == 2 and "vector" not in listed.json()[0]
    # Encrypted at rest; opens with the configured key only.
    stored = world.session.scalars(select(FaceTemplate)).all()
    vault = Vault.from_setting(TEST_DATA_KEY)
    for template in stored:
        assert len(vault.open(template.vector)) == 512 * 4
        assert vault.open(template.photo)[:2] == b"\xff\xd8"  # a JPEG
    with pytest.raises(ValueError, match="does not open"):
        Vault.from_setting("b3RoZXIta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMtMDA=").open(stored[0].vector)
    # The audit log knows templates were made, never what they hold.
    entries = world.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "face_templates")
    ).all()
    assert len(entries) == 2 and all("vector" not in (e.after or {}) for e in entries)
    assert all("photo" not in (e.after or {}) for e in entries)
    # Another community's admin cannot enrol or even see this person.
    assert enrol(client, world, person, "chen_yanxi/1.jpg", user="hg_admin").status_code == 404


def test_the_door_opens_for_the_enrolled_resident_only_when_live(
    client: TestClient, world: World, door: str
) -> None:
    person = world.people["gh"]
    consent(client, world, person)
    assert enrol(client, world, person, "chen_yanxi/1.jpg", "chen_yanxi/3.jpg").status_code == 200
    answer = at_door(client, door, "chen_yanxi/2.jpg")
    assert answer["decision"] == "grant" and answer["person_id"] == person
    assert answer["name"] == "光***" and answer["score"] > answer["threshold"]
    assert at_door(client, door, "chen_yanxi/2.jpg", liveness=None)["reason"] == "liveness_unknown"
    assert at_door(client, door, "chen_yanxi/2.jpg", liveness="failed")["decision"] == "deny"
    stranger = at_door(client, door, "kim_ji_won/1.jpg")
    assert stranger == {**stranger, "decision": "deny", "reason": "unknown", "person_id": None}
    # Every decision is an access event on the pipeline, and a recognition with its reason.
    codes = [
        e.code
        for e in world.session.scalars(select(Event).where(Event.kind == "door").order_by(Event.id))
    ]
    assert codes == ["access_granted", "access_denied", "access_denied", "access_denied"]
    reasons = [
        r.reason for r in world.session.scalars(select(Recognition).order_by(Recognition.id))
    ]
    assert reasons == ["face", "liveness_unknown", "liveness_failed", "unknown"]

    # A resident of 红光 enrolled there is a stranger at 光华's door.
    red = world.people["hg"]
    r = client.post(
        f"/api/v1/people/{red}/face-consents",
        json={"node_id": world.nodes["hg_site"], **CONSENT},
        headers=world.auth("hg_admin"),
    )
    assert r.status_code == 201
    assert enrol(client, world, red, "kim_ji_won/2.jpg", user="hg_admin").status_code == 200
    assert at_door(client, door, "kim_ji_won/1.jpg")["reason"] == "unknown"

    # Withdrawing consent deletes the templates at once: the door no longer knows the face.
    [given] = client.get(
        f"/api/v1/people/{person}/face-consents", headers=world.auth("gh_admin")
    ).json()
    r = client.post(
        f"/api/v1/face-consents/{given['id']}/withdraw", json={}, headers=world.auth("gh_admin")
    )
    assert r.status_code == 200
    assert (
        world.session.scalars(select(FaceTemplate).where(FaceTemplate.person_id == person)).all()
        == []
    )
    assert at_door(client, door, "chen_yanxi/2.jpg")["reason"] == "unknown"
    deleted = world.session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "face_templates", AuditEntry.action == "delete"
        )
    ).all()
    assert len(deleted) == 2 and all("vector" not in (e.before or {}) for e in deleted)


def test_moving_out_deletes_face_data(client: TestClient, world: World, door: str) -> None:
    person = world.people["gh"]
    consent(client, world, person)
    assert enrol(client, world, person, "chen_yanxi/1.jpg").status_code == 200
    r = client.patch(
        f"/api/v1/people/{person}",
        json={"node_id": world.nodes["hg_hh"]},
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 200, r.text
    assert world.session.scalars(select(FaceTemplate)).all() == []
    [given] = client.get(
        f"/api/v1/people/{person}/face-consents", headers=world.auth("street_admin")
    ).json()
    assert given["withdrawn_by"] == "system" and given["withdrawn_at"]
    assert at_door(client, door, "chen_yanxi/2.jpg")["reason"] == "unknown"


def test_a_child_needs_a_guardian(client: TestClient, world: World) -> None:
    child = territory_service.create_person(
        world.session,
        actor=SYSTEM,
        data=PersonCreate(
            node_id=world.nodes["gh_hh"],
            name="光华小朋友",
            birth_date=date.today() - timedelta(days=365 * 8),
        ),
    )
    r = client.post(
        f"/api/v1/people/{child.id}/face-consents",
        json={"node_id": world.nodes["gh_site"], **CONSENT},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422 and r.json()["field"] == "guardian_name"
    given = consent(client, world, child.id, guardian_name="光华居民", guardian_relation="母亲")
    assert given["guardian_relation"] == "母亲"


def test_cards_and_pins_open_the_same_doors(client: TestClient, world: World, door: str) -> None:
    person = world.people["gh"]
    h = world.auth("gh_admin")
    card = client.post(
        f"/api/v1/people/{person}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "card", "secret": "0012345678"},
        headers=h,
    )
    assert card.status_code == 201 and card.json()["hint"] == "****5678"
    pin = client.post(
        f"/api/v1/people/{person}/credentials",
        json={
            "node_id": world.nodes["gh_site"],
            "kind": "pin",
            "secret": "246810",
            "expires_at": (utcnow() - timedelta(days=1)).isoformat(),
        },
        headers=h,
    )
    assert pin.status_code == 201

    def check(kind: str, secret: str) -> dict[str, Any]:
        r = client.post(
            "/api/v1/doors/credentials",
            json={"kind": kind, "secret": secret},
            headers={"Authorization": f"Bearer {door}"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert check("card", "0012345678")["decision"] == "grant"
    assert check("pin", "246810") == {
        **check("pin", "246810"),
        "decision": "deny",
        "reason": "expired_or_revoked",
    }
    assert check("card", "9999999999")["reason"] == "unknown_credential"
    r = client.post(f"/api/v1/credentials/{card.json()['id']}/revoke", headers=h)
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert check("card", "0012345678")["decision"] == "deny"
    again = client.post(
        f"/api/v1/people/{world.people['gh']}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "card", "secret": "0012345678"},
        headers=h,
    )
    assert again.status_code == 201  # a revoked card number may be issued again
    # The stored hash reveals nothing without the data key.
    assert "0012345678" not in str(world.session.execute(select(AuditEntry.after)).all())


def test_bad_snapshots_are_refused_and_kept(client: TestClient, world: World, door: str) -> None:
    r = client.post(
        "/api/v1/faces/recognitions",
        content=b"not an image at all",
        headers={"Authorization": f"Bearer {door}", "Content-Type": "image/jpeg"},
    )
    assert r.status_code == 422 and "无法读取照片" in r.json()["detail"]
    letters = world.session.scalars(select(DeadLetter)).all()
    assert [letter.reason_key for letter in letters] == ["bad_image"]
    r = client.post("/api/v1/faces/recognitions", content=photo("chen_yanxi/1.jpg"))
    assert r.status_code == 401


def test_pins_are_six_digits_and_a_door_stops_taking_them_after_five_wrong_ones(
    client: TestClient, world: World, door: str
) -> None:
    person = world.people["gh"]
    h = world.auth("gh_admin")
    short = client.post(
        f"/api/v1/people/{person}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "pin", "secret": "1234"},
        headers=h,
    )
    assert short.status_code == 422 and "6 to 12 digits" in short.text
    ok = client.post(
        f"/api/v1/people/{person}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "pin", "secret": "135792"},
        headers=h,
    )
    assert ok.status_code == 201

    def pin(secret: str) -> dict[str, Any]:
        r = client.post(
            "/api/v1/doors/credentials",
            json={"kind": "pin", "secret": secret},
            headers={"Authorization": f"Bearer {door}"},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    assert pin("135792")["decision"] == "grant"
    for guess in range(5):
        assert pin(f"00000{guess}")["reason"] == "unknown_credential"
    locked = pin("135792")  # even the right one, until the five minutes have passed
    assert locked["decision"] == "deny" and locked["reason"] == "pin_locked"
    alarms = client.get("/api/v1/alarms", headers=h).json()["items"]
    assert any(a["category"] == "trouble" for a in alarms)
    # Cards still open the door: only PINs are held back.
    card = client.post(
        f"/api/v1/people/{person}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "card", "secret": "0099887766"},
        headers=h,
    )
    assert card.status_code == 201
    r = client.post(
        "/api/v1/doors/credentials",
        json={"kind": "card", "secret": "0099887766"},
        headers={"Authorization": f"Bearer {door}"},
    )
    assert r.json()["decision"] == "grant"
