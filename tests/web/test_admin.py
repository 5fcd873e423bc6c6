"""Accounts run from the console: a generated first password shown once and changed at first
log-in, roles bound inside the admin's scope, disable and reset; the audit log with its filters
and the reads of personal data apart."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World
from tests.web.test_console import page


def _new_user(client: TestClient, world: World, admin: str, node: str, **extra: Any) -> Any:
    return client.post(
        "/api/v1/users",
        json={
            "username": extra.pop("username", "gh_grid2"),
            "display_name": "第二网格员",
            "roles": [{"role": "grid_officer", "node_id": world.nodes[node]}],
            **extra,
        },
        headers=world.auth(admin),
    )


def _login(client: TestClient, username: str, password: str) -> Any:
    client.cookies.clear()
    return client.post(
        "/login",
        data={"username": username, "password": password},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )


def test_a_first_password_is_shown_once_and_changed_at_first_log_in(
    client: TestClient, world: World
) -> None:
    r = _new_user(client, world, "gh_admin", "gh_grid")
    assert r.status_code == 201, r.text
    created = r.json()
    first = created["first_password"]
    assert len(first) >= 12 and created["must_change_password"] is True
    # Not shown again: the account's answer has no password in it.
    again = client.get(f"/api/v1/users/{created['id']}", headers=world.auth("gh_admin")).json()
    assert "first_password" not in again and again["must_change_password"] is True

    # The page log-in goes to the password page first, and nothing else opens before it.
    r = _login(client, "gh_grid2", first)
    assert r.status_code == 303 and r.headers["location"].startswith("/account/password?next=")
    session = client.cookies.get("pingan_session")
    assert session
    desk = client.get("/desk", follow_redirects=False)
    assert desk.status_code == 303 and desk.headers["location"] == "/account/password?next=/desk"
    assert client.get("/api/v1/alarms").status_code == 403
    assert "初始密码" in client.get("/api/v1/alarms").json()["detail"]
    assert client.get("/api/v1/auth/me").status_code == 200
    form = client.get("/account/password")
    assert form.status_code == 200 and "管理员生成的初始密码" in form.text
    wrong = client.post(
        "/api/v1/auth/password",
        json={"current_password": "not it at all", "new_password": "my own password 1"},
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "current_password"
    same = client.post(
        "/api/v1/auth/password", json={"current_password": first, "new_password": first}
    )
    assert same.status_code == 422
    done = client.post(
        "/api/v1/auth/password",
        json={"current_password": first, "new_password": "my own password 1"},
    )
    assert done.status_code == 204, done.text
    assert client.get("/api/v1/alarms").status_code == 200
    assert client.get("/desk", follow_redirects=False).status_code == 200
    client.cookies.clear()
    assert _login(client, "gh_grid2", "my own password 1").headers["location"] == "/desk"


def test_reset_ends_the_sessions_and_disable_shuts_the_door(
    client: TestClient, world: World
) -> None:
    created = _new_user(client, world, "gh_admin", "gh_grid", password="chosen by admin 1").json()
    assert created["first_password"] is None and created["must_change_password"] is False
    assert _login(client, "gh_grid2", "chosen by admin 1").status_code == 303
    assert client.get("/api/v1/auth/me").status_code == 200
    r = client.post(f"/api/v1/users/{created['id']}/password-reset", headers=world.auth("gh_admin"))
    assert r.status_code == 200, r.text
    fresh = r.json()["password"]
    assert client.get("/api/v1/auth/me").status_code == 401  # the old session ended
    assert _login(client, "gh_grid2", "chosen by admin 1").status_code == 401
    assert _login(client, "gh_grid2", fresh).headers["location"].startswith("/account/password")
    r = client.patch(
        f"/api/v1/users/{created['id']}",
        json={"is_active": False},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert _login(client, "gh_grid2", fresh).status_code == 401
    # The other community's admin cannot reset them: the account is not theirs to see.
    other = client.post(
        f"/api/v1/users/{created['id']}/password-reset", headers=world.auth("hg_admin")
    )
    assert other.status_code == 404


def test_a_community_admin_manages_only_its_community_s_accounts(
    client: TestClient, world: World
) -> None:
    assert _new_user(client, world, "gh_admin", "gh_grid").status_code == 201
    assert _new_user(client, world, "hg_admin", "hg_grid", username="hg_grid2").status_code == 201
    across = _new_user(client, world, "gh_admin", "hg_grid", username="sneaky")
    assert across.status_code == 404
    listing = page(client, world, "gh_admin", "/admin/users")
    assert listing.status_code == 200
    assert "gh_grid2" in listing.text and "hg_grid2" not in listing.text
    # The scope picker offers only the admin's own ground; roles below their own rank.
    picker = listing.text[listing.text.index('id="new-user"') :]
    assert "光华社区" in picker and "红光社区" not in picker
    assert 'value="community_admin"' not in picker and 'value="grid_officer"' in picker
    street = page(client, world, "street_admin", "/admin/users").text
    assert "gh_grid2" in street and "hg_grid2" in street
    users = client.get("/api/v1/users", headers=world.auth("gh_admin")).json()["items"]
    hg = client.get("/api/v1/users", headers=world.auth("hg_admin")).json()["items"]
    theirs = next(u for u in hg if u["username"] == "hg_grid2")
    assert page(client, world, "gh_admin", f"/admin/users/{theirs['id']}").status_code == 404
    mine = next(u for u in users if u["username"] == "gh_grid2")
    detail = page(client, world, "gh_admin", f"/admin/users/{mine['id']}")
    assert detail.status_code == 200 and "重置密码" in detail.text and "从未登录" in detail.text
    # An operator reads no accounts: the page is not theirs.
    assert page(client, world, "gh_operator", "/admin/users").status_code == 404


def test_the_audit_log_filters_and_lists_the_reads_of_personal_data_apart(
    client: TestClient, world: World
) -> None:
    h = world.auth("gh_admin")
    assert client.get(f"/api/v1/people/{world.people['gh']}/phone", headers=h).status_code == 200
    _new_user(client, world, "gh_admin", "gh_grid")
    everything = page(client, world, "gh_admin", "/admin/audit").text
    assert "reveal" in everything and "users" in everything
    reads = page(client, world, "gh_admin", "/admin/audit", reads="true").text
    table = reads[reads.index('id="audit"') :]
    assert "reveal" in table and ">create<" not in table
    who = page(client, world, "gh_admin", "/admin/audit", who="street_admin").text
    assert "gh_admin" not in who[who.index('id="audit"') :]
    one = page(
        client,
        world,
        "gh_admin",
        "/admin/audit",
        entity="people",
        entity_id=str(world.people["gh"]),
    ).text
    assert "reveal" in one[one.index('id="audit"') :]
    api = client.get("/api/v1/audit", params={"reads": True}, headers=h).json()["items"]
    assert api and {e["action"] for e in api} <= {"read", "search", "reveal", "face_search", "view"}
    # Another community's admin does not see these entries.
    theirs = client.get("/api/v1/audit", params={"reads": True}, headers=world.auth("hg_admin"))
    assert all(e["entity_id"] != str(world.people["gh"]) for e in theirs.json()["items"])


def test_a_device_s_page_shows_its_health_events_and_alarms_within_scope(
    client: TestClient, world: World
) -> None:
    from tests.alarms.test_alarms import send
    from tests.conftest import add_device

    token = add_device(world, "gh-smoke-page", node="gh_site", name="5栋烟感")
    device_id = world.devices["gh-smoke-page"]
    send(client, token, kind="fire", code="smoke", zone="3")
    shown = page(client, world, "gh_operator", f"/devices/{device_id}")
    assert shown.status_code == 200
    assert "5栋烟感" in shown.text and "smoke" in shown.text and "光华苑" in shown.text
    assert "/alarms/" in shown.text  # the alarm it raised, linked
    assert "生成 HTTP 令牌" not in shown.text  # the operator reads; managing is the admin's
    managed = page(client, world, "gh_admin", f"/devices/{device_id}")
    assert "生成 HTTP 令牌" in managed.text and "停用设备" in managed.text
    assert page(client, world, "hg_admin", f"/devices/{device_id}").status_code == 404
    listing = page(client, world, "gh_admin", "/devices/registry", q="5栋")
    assert "5栋烟感" in listing.text and "共 1 台设备" in listing.text
    assert page(client, world, "gh_operator", "/devices/new").status_code == 404
    assert page(client, world, "gh_admin", "/devices/new").status_code == 200
