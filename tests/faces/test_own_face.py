"""A resident gives or withdraws consent and enrols their own face on a page of their own; staff
see a person's consents, photos and cards on the person's page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.auth.models import AuditEntry
from pingan.auth.roles import Role
from pingan.faces.models import FaceTemplate
from tests.conftest import World, add_user
from tests.faces.test_engine import photo


def test_a_resident_decides_about_their_own_face(client: TestClient, world: World) -> None:
    me = world.people["gh"]
    add_user(world, "resident", Role.resident, "gh_hh", person_id=me)
    h = world.auth("resident")
    own = client.get("/api/v1/me/face", headers=h).json()
    assert own["person_id"] == me and own["consents"] == [] and own["site"] == "光华苑"
    r = client.post("/api/v1/me/face-consents", json={"central_storage": True}, headers=h)
    assert r.status_code == 201 and r.json()["method"] == "online"
    assert r.json()["node_id"] == world.nodes["gh_site"]
    files = [("photos", ("me.jpg", photo("chen_yanxi/1.jpg"), "image/jpeg"))]
    r = client.post("/api/v1/me/face-templates", files=files, headers=h)
    assert r.status_code == 200 and r.json()["templates"] == 1
    # Not someone else's: a neighbour's consents do not exist for this resident.
    assert (
        client.get(f"/api/v1/people/{world.people['hg']}/face-consents", headers=h).status_code
        == 404
    )
    # Cards are issued by staff, not by oneself.
    r = client.post(
        f"/api/v1/people/{me}/credentials",
        json={"node_id": world.nodes["gh_site"], "kind": "card", "secret": "12345678"},
        headers=h,
    )
    assert r.status_code == 403
    consent_id = client.get("/api/v1/me/face", headers=h).json()["consents"][0]["id"]
    r = client.post(f"/api/v1/face-consents/{consent_id}/withdraw", json={}, headers=h)
    assert r.status_code == 200
    assert world.session.scalars(select(FaceTemplate)).all() == []

    client.cookies.set("pingan_session", world.tokens["resident"])
    page = client.get("/me")
    client.cookies.clear()
    assert page.status_code == 200 and "门禁卡和密码始终有效" in page.text and "已撤回" in page.text


def test_person_page_for_staff_is_audited(client: TestClient, world: World) -> None:
    client.cookies.set("pingan_session", world.tokens["gh_admin"])
    r = client.get(f"/people/{world.people['gh']}")
    assert r.status_code == 200 and "人脸识别授权" in r.text and "门禁卡与密码" in r.text
    assert "100****5678" in r.text
    assert client.get(f"/people/{world.people['hg']}").status_code == 404
    client.cookies.set("pingan_session", world.tokens["gh_operator"])
    r = client.get(f"/people/{world.people['gh']}")
    assert r.status_code == 200 and "人脸识别授权" not in r.text  # operators do not enrol
    client.cookies.clear()
    reads = world.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "people", AuditEntry.action == "read")
    ).all()
    assert [e.entity_id for e in reads] == [str(world.people["gh"])] * 2
