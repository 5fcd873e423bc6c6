from __future__ import annotations

from fastapi.testclient import TestClient

from pingan.config import get_settings
from tests.conftest import World

PASSWORD = "correct horse battery"


def test_login_me_logout(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "gh_admin", "password": PASSWORD})
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    assert r.cookies.get("pingan_session") == token
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert me["username"] == "gh_admin" and me["bindings"][0]["role"] == "community_admin"
    assert (
        client.post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code
        == 204
    )
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_wrong_password_and_unknown_user_look_the_same(client: TestClient, world: World) -> None:
    a = client.post("/api/v1/auth/login", json={"username": "gh_admin", "password": "nope"})
    b = client.post("/api/v1/auth/login", json={"username": "nobody", "password": "nope"})
    assert a.status_code == b.status_code == 401
    assert a.json()["detail"] == b.json()["detail"] == "用户名或密码错误"


def test_login_is_rate_limited(client: TestClient, world: World) -> None:
    limit = get_settings().login_max_failures
    for _ in range(limit):
        assert (
            client.post(
                "/api/v1/auth/login", json={"username": "gh_admin", "password": "x"}
            ).status_code
            == 401
        )
    r = client.post("/api/v1/auth/login", json={"username": "gh_admin", "password": PASSWORD})
    assert r.status_code == 429
    assert int(r.headers["retry-after"]) > 0
    assert "秒后再试" in r.json()["detail"]
    # Another user is not locked out by these failures.
    assert (
        client.post(
            "/api/v1/auth/login", json={"username": "hg_admin", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_cookie_session_and_cross_site_writes(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/auth/login", json={"username": "gh_admin", "password": PASSWORD})
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me").json()["username"] == "gh_admin"
    body = {"notes": "巡查"}
    url = f"/api/v1/territory/nodes/{world.nodes['gh_site']}"
    r = client.patch(url, json=body, headers={"Origin": "http://evil.example"})
    assert r.status_code == 400 and r.json()["field"] == "Origin"
    assert client.patch(url, json=body, headers={"Origin": "http://testserver"}).status_code == 200


def test_disabled_user_and_revoked_token(client: TestClient, world: World) -> None:
    h = world.auth("street_admin")
    r = client.patch(
        f"/api/v1/users/{world.users['gh_operator']}", json={"is_active": False}, headers=h
    )
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=world.auth("gh_operator")).status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "gh_operator", "password": PASSWORD})
    assert r.status_code == 401 and r.json()["detail"] == "账号已停用"
    issued = client.post(
        "/api/v1/auth/tokens", json={"name": "ci", "days": 1}, headers=world.auth("gh_admin")
    ).json()
    hb = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/auth/me", headers=hb).status_code == 200
    assert (
        client.delete(
            f"/api/v1/auth/tokens/{issued['id']}", headers=world.auth("gh_admin")
        ).status_code
        == 204
    )
    assert client.get("/api/v1/auth/me", headers=hb).status_code == 401


def test_grant_rules(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")

    def make(username: str, role: str, node: str) -> int:
        return client.post(
            "/api/v1/users",
            json={
                "username": username,
                "display_name": username,
                "password": "0123456789ab",
                "roles": [{"role": role, "node_id": world.nodes[node]}],
            },
            headers=h,
        ).status_code

    assert make("op2", "centre_operator", "gh") == 201
    assert make("adm2", "community_admin", "gh") == 403
    assert (
        make("st2", "street_admin", "street") == 404
    )  # the street lies outside a community's scope
    assert make("op2", "site_manager", "gh_site") == 409
    r = client.post(
        "/api/v1/users",
        json={
            "username": "adm3",
            "display_name": "x",
            "password": "0123456789ab",
            "roles": [{"role": "community_admin", "node_id": world.nodes["gh"]}],
        },
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 201
    # A community admin cannot disable a peer admin.
    r = client.patch(f"/api/v1/users/{r.json()['id']}", json={"is_active": False}, headers=h)
    assert r.status_code == 403
    assert client.get("/api/v1/users", headers=world.auth("gh_operator")).status_code == 403


def test_no_token_is_401_problem(client: TestClient, world: World) -> None:
    r = client.get("/api/v1/territory/nodes")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["detail"] == "请先登录"
    r = client.get(
        "/api/v1/territory/nodes",
        headers={"Authorization": "Bearer pa_forged", "Accept-Language": "en"},
    )
    assert r.status_code == 401 and r.json()["detail"] == "Authentication required"
