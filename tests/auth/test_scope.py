"""A community admin of 光华 can neither list, read nor change anything of 红光: 404 throughout."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World

RED_NODES = ("hg", "hg_grid", "hg_site", "hg_bld", "hg_hh")


def test_lists_hold_only_own_scope(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    nodes = client.get("/api/v1/territory/nodes", params={"limit": 500}, headers=h).json()
    ids = {n["id"] for n in nodes["items"]}
    assert nodes["total"] == 5
    assert ids == {world.nodes[k] for k in ("gh", "gh_grid", "gh_site", "gh_bld", "gh_hh")}
    people = client.get("/api/v1/people", headers=h).json()
    assert [p["id"] for p in people["items"]] == [world.people["gh"]]
    communities = client.get(
        "/api/v1/territory/nodes", params={"kind": "community"}, headers=h
    ).json()
    assert [c["name"] for c in communities["items"]] == ["光华社区"]
    users = client.get("/api/v1/users", headers=h).json()
    assert "hg_admin" not in {u["username"] for u in users["items"]}
    assert {"gh_admin", "gh_operator"} <= {u["username"] for u in users["items"]}


def test_reading_other_community_is_404(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    for key in RED_NODES:
        r = client.get(f"/api/v1/territory/nodes/{world.nodes[key]}", headers=h)
        assert r.status_code == 404, key
        assert r.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/people/{world.people['hg']}", headers=h).status_code == 404
    assert client.get(f"/api/v1/users/{world.users['hg_admin']}", headers=h).status_code == 404
    assert (
        client.get("/api/v1/people", params={"within": world.nodes["hg"]}, headers=h).status_code
        == 404
    )
    assert (
        client.get(
            "/api/v1/territory/nodes", params={"within": world.nodes["hg"]}, headers=h
        ).status_code
        == 404
    )
    # The same answer as for a node that does not exist at all.
    assert client.get("/api/v1/territory/nodes/999999", headers=h).status_code == 404


def test_changing_other_community_is_404(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    for key in RED_NODES:
        r = client.patch(
            f"/api/v1/territory/nodes/{world.nodes[key]}", json={"notes": "x"}, headers=h
        )
        assert r.status_code == 404, key
        r = client.delete(
            f"/api/v1/territory/nodes/{world.nodes[key]}", params={"cascade": "true"}, headers=h
        )
        assert r.status_code == 404, key
    r = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "site",
            "parent_id": world.nodes["hg_grid"],
            "name": "偷建小区",
            "site_type": "old_courtyard",
        },
        headers=h,
    )
    assert r.status_code == 404
    assert (
        client.patch(
            f"/api/v1/people/{world.people['hg']}", json={"name": "改名"}, headers=h
        ).status_code
        == 404
    )
    assert client.delete(f"/api/v1/people/{world.people['hg']}", headers=h).status_code == 404
    r = client.post(
        "/api/v1/people", json={"node_id": world.nodes["hg_hh"], "name": "外人"}, headers=h
    )
    assert r.status_code == 404
    r = client.patch(
        f"/api/v1/users/{world.users['hg_admin']}", json={"is_active": False}, headers=h
    )
    assert r.status_code == 404
    r = client.post(
        "/api/v1/users",
        json={
            "username": "spy",
            "display_name": "spy",
            "password": "0123456789ab",
            "roles": [{"role": "centre_operator", "node_id": world.nodes["hg"]}],
        },
        headers=h,
    )
    assert r.status_code == 404
    # Nothing of 红光 changed.
    red = client.get(
        f"/api/v1/territory/nodes/{world.nodes['hg']}", headers=world.auth("hg_admin")
    ).json()
    assert red["notes"] is None
    person = client.get(
        f"/api/v1/people/{world.people['hg']}", headers=world.auth("hg_admin")
    ).json()
    assert person["name"] == "红光居民"


def test_audit_entries_of_other_community_are_hidden(client: TestClient, world: World) -> None:
    entries = client.get(
        "/api/v1/audit", params={"limit": 500}, headers=world.auth("gh_admin")
    ).json()["items"]
    assert entries
    assert all(
        e["scope_path"]
        and e["scope_path"].startswith(f"/{world.nodes['street']}/{world.nodes['gh']}/")
        for e in entries
    )
    street = client.get(
        "/api/v1/audit", params={"limit": 500}, headers=world.auth("street_admin")
    ).json()
    assert street["total"] > len(entries)


def test_locate_does_not_reveal_other_community(client: TestClient, world: World) -> None:
    r = client.get(
        "/api/v1/territory/locate",
        params={"lon": 103.825, "lat": 30.685},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 200
    assert r.json()["community"] is None and r.json()["grid"] is None
    r = client.get(
        "/api/v1/territory/locate",
        params={"lon": 103.825, "lat": 30.685},
        headers=world.auth("hg_admin"),
    )
    assert r.json()["community"]["name"] == "红光社区"
    assert r.json()["grid"]["name"] == "红光第1网格"


def test_read_only_role_inside_scope_gets_403(client: TestClient, world: World) -> None:
    h = world.auth("gh_operator")
    assert (
        client.get(f"/api/v1/territory/nodes/{world.nodes['gh_site']}", headers=h).status_code
        == 200
    )
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_site']}", json={"notes": "x"}, headers=h
    )
    assert r.status_code == 403
    assert (
        client.get(f"/api/v1/territory/nodes/{world.nodes['hg_site']}", headers=h).status_code
        == 404
    )
