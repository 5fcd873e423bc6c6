"""Least privilege: a patrol member or volunteer gets the phone page and what a dispatched task
needs, nothing of the desk."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pingan.auth.roles import Role
from tests.alarms.test_alarms import send
from tests.conftest import World, add_device, add_user


def test_a_volunteer_cannot_handle_alarms_watch_cameras_or_read_residents(
    client: TestClient, world: World
) -> None:
    add_user(world, "volunteer", Role.patrol_member, "gh")
    intrusion = add_device(world, "gh-ir", node="gh_site", kind="intrusion_panel", name="红外")
    camera = add_device(world, "gh-cam", node="gh_site", kind="camera", protocol="mqtt")
    world.session.commit()
    send(client, intrusion, kind="burglary", code="BA", zone="1")
    [alarm] = client.get("/api/v1/alarms", headers=world.auth("gh_admin")).json()["items"]
    h = world.auth("volunteer")
    for action in ("acknowledge", "false_alarm", "close", "resolve"):
        r = client.post(f"/api/v1/alarms/{alarm['id']}/actions", json={"action": action}, headers=h)
        assert r.status_code in (403, 404), (action, r.status_code)
    assert (
        client.get(f"/api/v1/alarms/{alarm['id']}", headers=world.auth("gh_admin")).json()["state"]
        == "raised"
    )
    for listing in ("/api/v1/alarms", "/api/v1/notifications", "/api/v1/faces/recognitions"):
        r = client.get(listing, headers=h)
        assert r.status_code == 403 or r.json()["total"] == 0, listing  # nothing of the desk
    assert client.get(
        f"/api/v1/devices/{world.devices['gh-cam']}/live.mjpg", headers=h
    ).status_code in (403, 404)
    r = client.get("/api/v1/people", headers=h)
    assert r.status_code == 403 or r.json()["total"] == 0
    assert client.get(f"/api/v1/people/{world.people['gh']}", headers=h).status_code in (403, 404)
    del camera


def test_a_reference_in_a_body_is_scope_checked_like_a_path_id(
    client: TestClient, world: World
) -> None:
    """光华's admin cannot create an account linked to a resident of 红光 (and then read her face
    record as her): the person is not found for them; one that does not exist is 404 too."""
    h = world.auth("gh_admin")
    body = {
        "username": "impostor",
        "display_name": "x",
        "password": "a long enough password",
        "roles": [{"role": "resident", "node_id": world.nodes["gh_hh"]}],
    }
    r = client.post("/api/v1/users", json={**body, "person_id": world.people["hg"]}, headers=h)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    r = client.post("/api/v1/users", json={**body, "person_id": 999_999}, headers=h)
    assert r.status_code == 404
    r = client.post("/api/v1/users", json={**body, "person_id": world.people["gh"]}, headers=h)
    assert r.status_code == 201, r.text


def test_the_permission_matrix_in_the_docs_is_the_code_s() -> None:
    from pathlib import Path

    from pingan.auth.roles import matrix_markdown

    text = (Path(__file__).parents[2] / "docs" / "privacy.md").read_text()
    start = text.index("<!-- permission-matrix -->") + len("<!-- permission-matrix -->")
    end = text.index("<!-- /permission-matrix -->")
    assert text[start:end].strip() == matrix_markdown()
