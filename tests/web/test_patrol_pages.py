"""The patrol pages without a browser, on both databases: who may open the phone page and the
console's patrol page, what the installable web app declares, and the printable code sheet."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from pingan.auth.roles import Role
from tests.conftest import World, add_user
from tests.patrol.test_dispatch import crew
from tests.patrol.test_patrol import patrol
from tests.web.test_console import page

__all__ = ["crew", "patrol"]  # fixtures


def test_the_phone_page_is_for_patrol_members(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    r = client.get("/m/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/m/"
    assert client.get("/m", follow_redirects=False).headers["location"] == "/m/"
    r = page(client, world, "volunteer", "/m/")
    assert r.status_code == 200
    assert 'rel="manifest"' in r.text and "jsQR.js" in r.text and "平安巡逻" in r.text
    add_user(world, "gh_resident", Role.resident, "gh_hh")
    assert page(client, world, "gh_resident", "/m/").status_code == 404
    # A volunteer logging in lands on the phone page; an operator on the desk.
    client.cookies.clear()
    for user, home in (("volunteer", "/m/"), ("gh_operator", "/desk")):
        r = client.post(
            "/login",
            data={"username": user, "password": "correct horse battery"},
            follow_redirects=False,
        )
        assert r.status_code == 303 and r.headers["location"] == home, (user, r.text[:300])
    client.cookies.clear()


def test_the_installable_app_and_its_service_worker_are_served(client: TestClient) -> None:
    """What makes the phone page installable and available offline is served; that it does
    work with the network off is shown in Chromium (tests/web/test_phone.py)."""
    manifest = client.get("/m/manifest.webmanifest")
    assert manifest.headers["content-type"].startswith("application/manifest+json")
    data = manifest.json()
    assert data["start_url"] == "/m/" and data["scope"] == "/m/"
    assert data["display"] == "standalone" and data["icons"] and data["name"] == "平安巡逻"
    assert client.get(data["icons"][0]["src"]).status_code == 200
    assert client.get("/favicon.ico").headers["content-type"] == "image/svg+xml"
    worker = client.get("/m/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    assert "/m/" in worker.text and "ignoreSearch" in worker.text
    assert client.get("/static/vendor/jsqr/jsQR.js").status_code == 200
    client.cookies.set("pingan_lang", "en")
    english = client.get("/m/manifest.webmanifest").json()
    client.cookies.clear()
    assert english["name"] == "Pingan Patrol"


def test_the_console_patrol_page_and_the_printed_codes(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    r = page(client, world, "gh_admin", "/patrol")
    assert r.status_code == 200
    for word in ("光华红袖套志愿巡逻队", "光华苑夜巡", "打印二维码", "巡逻覆盖率"):
        assert word in r.text, word
    assert page(client, world, "gh_operator", "/patrol").status_code == 404
    route = patrol["route"]["id"]
    sheet = page(client, world, "gh_admin", f"/patrol/routes/{route}/print")
    assert sheet.status_code == 200
    assert sheet.text.count('class="code"') == 2 and sheet.text.count('class="segno"') == 2
    assert "东门" in sheet.text and "北侧围墙" in sheet.text and "print.css" in sheet.text
    assert page(client, world, "hg_admin", f"/patrol/routes/{route}/print").status_code == 404
    # Codes that point at this computer are useless on a phone: the sheet says so, on paper too.
    settings = client.app.state.settings  # type: ignore[attr-defined]
    saved = settings.public_url
    try:
        settings.public_url = "http://127.0.0.1:8000"
        local = page(client, world, "gh_admin", f"/patrol/routes/{route}/print").text
        assert 'id="local-address"' in local and "PINGAN_PUBLIC_URL" in local
        assert local.count('class="warn-print"') == 2
        settings.public_url = "https://pingan.example.gov.cn"
        public = page(client, world, "gh_admin", f"/patrol/routes/{route}/print").text
        assert 'id="local-address"' not in public and "warn-print" not in public
    finally:
        settings.public_url = saved


def test_the_map_shows_responders_on_duty_to_those_who_dispatch(
    client: TestClient, world: World, crew: dict[str, Any]
) -> None:
    r = client.get("/api/v1/map/responders", headers=world.auth("gh_operator"))
    assert r.status_code == 200
    found = {f["properties"]["name"]: f for f in r.json()["features"]}
    assert set(found) == {"队员near", "队员far"}
    assert found["队员near"]["geometry"]["coordinates"] == [103.805, 30.6859]
    assert not found["队员near"]["properties"]["busy"]
    client.post(
        f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch",
        json={},
        headers=world.auth("gh_operator"),
    )
    r = client.get("/api/v1/map/responders", headers=world.auth("gh_operator"))
    assert {f["properties"]["name"]: f["properties"]["busy"] for f in r.json()["features"]} == {
        "队员near": True,
        "队员far": False,
    }
    assert (
        client.get("/api/v1/map/responders", headers=world.auth("hg_admin")).json()["features"]
        == []
    )
    assert "在岗队员" in page(client, world, "gh_operator", "/map").text
