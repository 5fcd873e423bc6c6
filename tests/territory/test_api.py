from __future__ import annotations

from fastapi.testclient import TestClient

from pingan.territory import geo
from tests.conftest import World, square


def test_build_a_branch_of_the_tree(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    grid = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "grid",
            "parent_id": world.nodes["gh"],
            "name": "光华第2网格",
            "boundary": square(103.81, 30.68),
        },
        headers=h,
    )
    assert grid.status_code == 201, grid.text
    g = grid.json()
    assert g["path"] == f"/{world.nodes['street']}/{world.nodes['gh']}/{g['id']}/"
    assert g["kind_label"] == "网格"
    site = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "site",
            "parent_id": g["id"],
            "name": "光华三无院",
            "site_type": "three_no",
            "management": "none",
            "lon": 103.815,
            "lat": 30.685,
        },
        headers=h,
    ).json()
    assert site["site_type_label"] == "三无院落"
    bld = client.post(
        "/api/v1/territory/nodes",
        json={"kind": "building", "parent_id": site["id"], "name": "1幢", "floors": 5},
        headers=h,
    )
    assert bld.status_code == 201
    listed = client.get("/api/v1/territory/nodes", params={"within": g["id"]}, headers=h).json()
    assert [n["name"] for n in listed["items"]] == ["光华第2网格", "光华三无院", "1幢"]
    ancestors = client.get(
        f"/api/v1/territory/nodes/{bld.json()['id']}/ancestors", headers=h
    ).json()
    assert [a["kind"] for a in ancestors] == [
        "community",
        "grid",
        "site",
        "building",
    ]  # the street is out of scope


def test_kind_rules(client: TestClient, world: World) -> None:
    h = world.auth("street_admin")
    r = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "site",
            "parent_id": world.nodes["gh"],
            "name": "x",
            "site_type": "work_unit",
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "parent_id"
    assert "网格" in r.json()["detail"]
    r = client.post(
        "/api/v1/territory/nodes",
        json={"kind": "site", "parent_id": world.nodes["gh_grid"], "name": "x"},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "site_type"
    r = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "building",
            "parent_id": world.nodes["gh_site"],
            "name": "2栋",
            "site_type": "work_unit",
        },
        headers=h,
    )
    assert r.status_code == 422 and r.json()["field"] == "site_type"
    r = client.post(
        "/api/v1/territory/nodes", json={"kind": "street", "name": "另一街道"}, headers=h
    )
    assert r.status_code == 403
    r = client.post(
        "/api/v1/territory/nodes",
        json={"kind": "grid", "parent_id": world.nodes["gh"], "name": "光华第1网格"},
        headers=h,
    )
    assert r.status_code == 409


def test_invalid_polygon_is_refused_with_the_reason(client: TestClient, world: World) -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[103.8, 30.6], [103.9, 30.7], [103.9, 30.6], [103.8, 30.7], [103.8, 30.6]]
        ],
    }
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_grid']}",
        json={"boundary": bowtie},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["field"] == "boundary" and "Self-intersection" in body["detail"]
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_grid']}",
        json={"boundary": {"type": "Polygon"}},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422 and "coordinates" in r.json()["detail"]


def test_node_with_children_needs_cascade(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.delete(f"/api/v1/territory/nodes/{world.nodes['gh_site']}", headers=h)
    assert r.status_code == 409
    assert r.json()["field"] == "cascade" and "cascade=true" in r.json()["detail"]
    assert (
        client.get(f"/api/v1/territory/nodes/{world.nodes['gh_bld']}", headers=h).status_code == 200
    )
    r = client.delete(
        f"/api/v1/territory/nodes/{world.nodes['gh_site']}", params={"cascade": "true"}, headers=h
    )
    assert r.status_code == 204
    for key in ("gh_site", "gh_bld", "gh_hh"):
        assert (
            client.get(f"/api/v1/territory/nodes/{world.nodes[key]}", headers=h).status_code == 404
        )
    assert client.get(f"/api/v1/people/{world.people['gh']}", headers=h).status_code == 404


def test_node_with_accounts_bound_is_not_deleted(client: TestClient, world: World) -> None:
    r = client.delete(
        f"/api/v1/territory/nodes/{world.nodes['hg']}",
        params={"cascade": "true"},
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 409 and "授权" in r.json()["detail"]
    assert (
        client.get(
            f"/api/v1/territory/nodes/{world.nodes['hg_hh']}", headers=world.auth("hg_admin")
        ).status_code
        == 200
    )


def test_move_a_site_to_another_grid(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    grid2 = client.post(
        "/api/v1/territory/nodes",
        json={"kind": "grid", "parent_id": world.nodes["gh"], "name": "光华第3网格"},
        headers=h,
    ).json()
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_site']}",
        json={"parent_id": grid2["id"]},
        headers=h,
    )
    assert r.status_code == 200, r.text
    hh = client.get(f"/api/v1/territory/nodes/{world.nodes['gh_hh']}", headers=h).json()
    assert hh["path"].startswith(grid2["path"])
    # Moving into 红光 is moving out of scope: refused as not found.
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_site']}",
        json={"parent_id": world.nodes["hg_grid"]},
        headers=h,
    )
    assert r.status_code == 404


def test_locate_with_gcj02_and_bd09(client: TestClient, world: World) -> None:
    h = world.auth("street_admin")
    lon, lat = 103.805, 30.685
    r = client.get("/api/v1/territory/locate", params={"lon": lon, "lat": lat}, headers=h).json()
    assert r["grid"]["name"] == "光华第1网格" and r["community"]["name"] == "光华社区"
    glon, glat = geo.wgs84_to_gcj02(lon, lat)
    r = client.get(
        "/api/v1/territory/locate", params={"lon": glon, "lat": glat, "crs": "gcj02"}, headers=h
    ).json()
    assert r["grid"]["name"] == "光华第1网格"
    assert abs(r["lon"] - lon) < 1e-6 and abs(r["lat"] - lat) < 1e-6
    r = client.get("/api/v1/territory/locate", params={"lon": 100.0, "lat": 20.0}, headers=h).json()
    assert r["community"] is None
    r = client.get("/api/v1/territory/locate", params={"lon": 200, "lat": 20}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "lon"


def test_positions_in_gcj02_are_stored_as_wgs84(client: TestClient, world: World) -> None:
    glon, glat = geo.wgs84_to_gcj02(103.806, 30.686)
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh_site']}",
        json={"lon": glon, "lat": glat, "crs": "gcj02"},
        headers=world.auth("gh_admin"),
    )
    assert abs(r.json()["lon"] - 103.806) < 1e-6 and abs(r.json()["lat"] - 30.686) < 1e-6


def test_people_and_resident_groups(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    group = client.post(
        "/api/v1/resident-groups",
        json={
            "community_id": world.nodes["gh"],
            "name": "第1居民小组",
            "leader_person_id": world.people["gh"],
        },
        headers=h,
    )
    assert group.status_code == 201, group.text
    r = client.post(
        "/api/v1/people",
        json={
            "node_id": world.nodes["gh_hh"],
            "name": "王五",
            "gender": "M",
            "resident_group_id": group.json()["id"],
        },
        headers=h,
    )
    assert r.status_code == 201
    listed = client.get(
        "/api/v1/people", params={"resident_group_id": group.json()["id"]}, headers=h
    ).json()
    assert [p["name"] for p in listed["items"]] == ["王五"]
    r = client.post(
        "/api/v1/resident-groups",
        json={
            "community_id": world.nodes["gh"],
            "name": "第2居民小组",
            "leader_person_id": world.people["hg"],
        },
        headers=h,
    )
    assert r.status_code == 404  # 红光's resident is not visible to 光华
    r = client.post(
        "/api/v1/people",
        json={"node_id": world.nodes["gh_hh"], "name": "错号", "id_number": "110105194912310021"},
        headers=h,
    )
    assert (
        r.status_code == 422
        and r.json()["field"] == "id_number"
        and "校验位" in r.json()["errors"][0]["message"]
    )
    r = client.post(
        "/api/v1/people", json={"node_id": world.nodes["gh_bld"], "name": "楼里的人"}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "node_id"
