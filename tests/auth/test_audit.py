"""Every write lands in the audit log with who, when, what, before and after."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import World


def _entries(client: TestClient, world: World, **params: Any) -> list[dict[str, Any]]:
    r = client.get(
        "/api/v1/audit", params={"limit": 500, **params}, headers=world.auth("street_admin")
    )
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_node_create_update_delete_are_audited(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/territory/nodes",
        json={
            "kind": "site",
            "parent_id": world.nodes["gh_grid"],
            "name": "光华老院",
            "site_type": "old_courtyard",
            "management": "self_management",
            "management_name": "光华老院自管会",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    node_id = str(r.json()["id"])
    assert (
        client.patch(
            f"/api/v1/territory/nodes/{node_id}", json={"name": "光华老院落"}, headers=h
        ).status_code
        == 200
    )
    assert client.delete(f"/api/v1/territory/nodes/{node_id}", headers=h).status_code == 204

    entries = _entries(client, world, entity="territory_nodes", entity_id=node_id)
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    delete, update, create = entries
    actor = f"user:{world.users['gh_admin']}:gh_admin"
    assert {e["actor"] for e in entries} == {actor}
    assert {e["actor_user_id"] for e in entries} == {world.users["gh_admin"]}
    assert create["before"] is None and create["after"]["name"] == "光华老院"
    assert create["after"]["site_type"] == "old_courtyard"
    assert create["after"]["path"].endswith(f"/{node_id}/")
    assert update["before"] == {"name": "光华老院"}
    assert update["after"] == {"name": "光华老院落"}
    assert delete["before"]["name"] == "光华老院落" and delete["after"] is None
    assert create["scope_path"].startswith(f"/{world.nodes['street']}/{world.nodes['gh']}/")
    assert create["ip"] == "testclient"


def test_person_writes_and_reads_are_audited_with_identifiers_masked(
    client: TestClient, world: World
) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/people",
        json={
            "node_id": world.nodes["gh_hh"],
            "name": "李四",
            "id_number": "11010519491231002X",
            "phone": "13800001111",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    person = r.json()
    assert person["id_number"] == "110***********002X"
    assert person["birth_date"] == "1949-12-31" and person["gender"] == "F"
    pid = str(person["id"])
    detail = client.get(f"/api/v1/people/{pid}", headers=h).json()
    assert detail["id_number"] == "110***********002X" and detail["phone"] == "138****1111"
    assert (
        client.patch(f"/api/v1/people/{pid}", json={"phone": "13900002222"}, headers=h).status_code
        == 200
    )
    assert client.delete(f"/api/v1/people/{pid}", headers=h).status_code == 204

    entries = _entries(client, world, entity="people", entity_id=pid)
    assert [e["action"] for e in entries] == ["delete", "update", "read", "create"]
    text = str(entries)
    assert "11010519491231002X" not in text and "13800001111" not in text
    assert entries[3]["after"]["id_number"] == "110***********002X"
    assert (
        entries[1]["before"]["phone"] == "138****1111"
        and entries[1]["after"]["phone"] == "139****2222"
    )
    assert entries[2]["actor_user_id"] == world.users["gh_admin"]


def test_account_writes_are_audited_without_secrets(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/users",
        json={
            "username": "gh_grid",
            "display_name": "网格员",
            "password": "a-long-password",
            "roles": [{"role": "grid_officer", "node_id": world.nodes["gh_grid"]}],
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    binding_id = r.json()["bindings"][0]["id"]
    assert (
        client.patch(
            f"/api/v1/users/{uid}", json={"password": "another-long-one"}, headers=h
        ).status_code
        == 200
    )
    r = client.post(
        f"/api/v1/users/{uid}/roles",
        json={"role": "patrol_member", "node_id": world.nodes["gh"]},
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert client.delete(f"/api/v1/users/{uid}/roles/{binding_id}", headers=h).status_code == 204

    users = _entries(client, world, entity="users", entity_id=str(uid))
    assert [e["action"] for e in users] == ["password", "create"]
    bindings = _entries(client, world, entity="role_bindings")
    assert [
        e["action"] for e in bindings if e["after"] is None or e["after"].get("user_id") == uid
    ][:3] == ["delete", "create", "create"]
    everything = str(_entries(client, world))
    assert "argon2" not in everything and "a-long-password" not in everything


def test_token_and_login_are_audited(client: TestClient, world: World) -> None:
    r = client.post("/api/v1/auth/tokens", json={"name": "脚本"}, headers=world.auth("gh_admin"))
    assert r.status_code == 201
    raw = r.json()["token"]
    entries = _entries(client, world, entity="api_tokens", entity_id=str(r.json()["id"]))
    assert entries[0]["action"] == "create" and "token_hash" not in entries[0]["after"]
    assert raw not in str(entries)
    r = client.post(
        "/api/v1/auth/login", json={"username": "gh_admin", "password": "correct horse battery"}
    )
    assert r.status_code == 200
    logins = _entries(client, world, action="login", entity_id=str(world.users["gh_admin"]))
    assert len(logins) == 1


def test_people_searches_are_audited(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.get("/api/v1/people", params={"q": "光华"}, headers=h)
    assert r.status_code == 200 and r.json()["total"] == 1
    entries = _entries(client, world, entity="people", action="search")
    assert len(entries) == 1
    assert entries[0]["after"]["filters"]["q"] == "光华"
    assert entries[0]["after"]["returned"] == [world.people["gh"]]
    assert entries[0]["actor_user_id"] == world.users["gh_admin"]


def test_resident_group_writes_are_audited(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    group = client.post(
        "/api/v1/resident-groups",
        json={"community_id": world.nodes["gh"], "name": "第3居民小组"},
        headers=h,
    )
    gid = group.json()["id"]
    client.patch(
        f"/api/v1/resident-groups/{gid}", json={"leader_person_id": world.people["gh"]}, headers=h
    )
    client.delete(f"/api/v1/resident-groups/{gid}", headers=h)
    entries = _entries(client, world, entity="resident_groups", entity_id=str(gid))
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    assert entries[1]["after"] == {"leader_person_id": world.people["gh"]}


def test_every_audited_model_is_covered() -> None:
    """Adding an audited table means adding it here and to a test above that writes it."""
    from pingan.db.models import Base

    audited = {m.class_.__tablename__ for m in Base.registry.mappers if m.class_.__audited__}
    assert audited == {
        "territory_nodes",
        "people",
        "resident_groups",
        "users",
        "role_bindings",
        "api_tokens",
        "devices",
        "face_consents",
        "face_templates",
        "access_credentials",
        "watch_entries",
        "watch_templates",
        "patrol_teams",
        "patrol_members",
        "patrol_shifts",
        "patrol_meetings",
        "patrol_routes",
        "patrol_checkpoints",
        "notification_channels",  # tests/alarms/test_channels.py
        "incident_catalogues",  # tests/incidents/test_incidents.py
        "street_lines",  # tests/incidents/test_incidents.py
        "open311_clients",  # tests/incidents/test_open311.py
        "facility_sites",  # tests/facilities/test_facilities.py
        "facility_items",  # tests/facilities/test_facilities.py
        "facility_checklists",  # tests/facilities/test_facilities.py
        "renovation_projects",  # tests/facilities/test_renovation.py
        "renovation_consultations",  # tests/facilities/test_renovation.py
        "targets",  # tests/targets/test_targets.py
        "target_readings",  # tests/targets/test_targets.py
        "volunteer_programmes",  # tests/volunteers/test_volunteers.py
        "volunteer_teams",  # tests/volunteers/test_volunteers.py
        "volunteers",  # tests/volunteers/test_volunteers.py
        "volunteer_activities",  # tests/volunteers/test_volunteers.py
        "volunteer_levels",  # tests/volunteers/test_volunteers.py
    }


def test_device_writes_are_audited_without_secrets(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/devices",
        json={
            "code": "gh-panel-1",
            "name": "光华苑报警主机",
            "kind": "intrusion_panel",
            "protocol": "dc09",
            "node_id": world.nodes["gh_site"],
            "sia_account": "1234",
            "sia_key": "00112233445566778899AABBCCDDEEFF",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    assert (
        r.json()["has_sia_key"] is True
        and "sia_key" not in r.json()
        and r.json()["supervision_s"] == 330
    )
    did = r.json()["id"]
    token = client.post(f"/api/v1/devices/{did}/token", headers=h).json()["token"]
    client.patch(f"/api/v1/devices/{did}", json={"location": "门岗"}, headers=h)
    client.delete(f"/api/v1/devices/{did}", headers=h)
    entries = _entries(client, world, entity="devices", entity_id=str(did))
    assert [e["action"] for e in entries] == ["delete", "update", "create"]
    text = str(entries)
    assert "00112233445566778899AABBCCDDEEFF" not in text and token not in text
    assert entries[0]["scope_path"].startswith(f"/{world.nodes['street']}/{world.nodes['gh']}/")
