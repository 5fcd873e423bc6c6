"""Phone and identity-card numbers are masked in every answer, for everyone; the roles that need
a whole number read it through its own route, in their scope, and each read is audited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from pingan.auth.roles import Role
from pingan.events.schemas import EventOut
from pingan.masking import mask
from tests.conftest import World, add_user

ID_NUMBER = "11010519491231002X"
PHONE = "13800001111"


def _person(client: TestClient, world: World) -> int:
    r = client.post(
        "/api/v1/people",
        json={
            "node_id": world.nodes["gh_hh"],
            "name": "李四",
            "id_number": ID_NUMBER,
            "phone": PHONE,
        },
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _reveals(client: TestClient, world: World, entity: str, entity_id: int) -> list[str]:
    r = client.get(
        "/api/v1/audit",
        params={"entity": entity, "entity_id": str(entity_id), "action": "reveal"},
        headers=world.auth("street_admin"),
    )
    return [f"{e['actor_user_id']}:{e['after']['field']}" for e in r.json()["items"]]


def test_every_answer_masks_the_numbers_even_for_admins(client: TestClient, world: World) -> None:
    pid = _person(client, world)
    h = world.auth("gh_admin")
    listed = client.get("/api/v1/people", params={"q": "李四"}, headers=h).json()["items"]
    detail = client.get(f"/api/v1/people/{pid}", headers=h).json()
    changed = client.patch(f"/api/v1/people/{pid}", json={"notes": "x"}, headers=h).json()
    for shown in (*listed, detail, changed):
        assert (shown["phone"], shown["id_number"]) == ("138****1111", "110***********002X")
    # Found by the whole number (the searcher has it already), shown masked all the same.
    [found] = client.get("/api/v1/people", params={"q": PHONE}, headers=h).json()["items"]
    assert found["id"] == pid and found["phone"] == "138****1111"
    assert _reveals(client, world, "people", pid) == []


def test_the_whole_number_is_for_the_roles_that_need_it_and_audited(
    client: TestClient, world: World
) -> None:
    pid = _person(client, world)
    add_user(world, "grid", Role.grid_officer, "gh_grid")
    add_user(world, "hg_grid", Role.grid_officer, "hg_grid")
    add_user(world, "resident", Role.resident, "gh_hh", person_id=world.people["gh"])
    world.session.commit()
    # The desk may call the person: the phone, not the identity number.
    r = client.get(f"/api/v1/people/{pid}/phone", headers=world.auth("gh_operator"))
    assert r.status_code == 200 and r.json() == {"field": "phone", "value": PHONE}
    r = client.get(f"/api/v1/people/{pid}/id-number", headers=world.auth("gh_operator"))
    assert r.status_code == 403 and r.json()["type"] == "/problems/forbidden"
    # A grid officer keeps the household register: both, in their grid only.
    r = client.get(f"/api/v1/people/{pid}/id-number", headers=world.auth("grid"))
    assert r.status_code == 200 and r.json()["value"] == ID_NUMBER
    assert (
        client.get(f"/api/v1/people/{pid}/phone", headers=world.auth("hg_grid")).status_code == 404
    )
    # A resident reads neither, not even of the household.
    assert (
        client.get(f"/api/v1/people/{pid}/phone", headers=world.auth("resident")).status_code == 403
    )
    assert client.get("/api/v1/people/987654/phone", headers=world.auth("grid")).status_code == 404
    assert sorted(_reveals(client, world, "people", pid)) == sorted(
        [f"{world.users['gh_operator']}:phone", f"{world.users['grid']}:id_number"]
    )


def test_accounts_and_watch_entries_mask_their_phones_too(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/users",
        json={
            "username": "wang",
            "display_name": "王",
            "password": "a long enough password",
            "phone": PHONE,
            "roles": [{"role": "centre_operator", "node_id": world.nodes["gh"]}],
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["phone"] == "138****1111"
    uid = r.json()["id"]
    assert {u["phone"] for u in client.get("/api/v1/users", headers=h).json()["items"]} <= {
        None,
        "138****1111",
    }
    r = client.get(f"/api/v1/users/{uid}/phone", headers=h)
    assert r.json() == {"field": "phone", "value": PHONE}
    # Not an account an operator manages (nor one of 红光's admin).
    assert (
        client.get(f"/api/v1/users/{uid}/phone", headers=world.auth("gh_operator")).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/users/{uid}/phone", headers=world.auth("hg_admin")).status_code == 404
    )
    assert _reveals(client, world, "users", uid) == [f"{world.users['gh_admin']}:phone"]

    r = client.post(
        "/api/v1/watchlist",
        json={
            "kind": "dementia",
            "node_id": world.nodes["gh_site"],
            "person_id": world.people["gh"],
            "contact": "女儿",
            "contact_phone": PHONE,
        },
        headers=h,
    )
    assert r.status_code == 201 and r.json()["contact_phone"] == "138****1111"
    entry = r.json()["id"]
    [listed] = client.get("/api/v1/watchlist", headers=h).json()
    assert listed["contact_phone"] == "138****1111"
    r = client.get(f"/api/v1/watchlist/{entry}/contact-phone", headers=h)
    assert r.json()["value"] == PHONE
    assert _reveals(client, world, "watch_entries", entry) == [
        f"{world.users['gh_admin']}:contact_phone"
    ]


def test_an_event_s_numbers_to_text_are_masked() -> None:
    """A dementia entry's alert carries the family's number for the SMS; the event list masks it."""
    out = EventOut.model_validate(
        {
            "id": 1,
            "event_id": "e1",
            "device_id": 1,
            "channel": "face",
            "kind": "dementia_exit",
            "code": None,
            "zone": None,
            "occurred_at": "2026-12-01T08:00:00+00:00",
            "received_at": "2026-12-01T08:00:00+00:00",
            "payload": {"contact": "女儿", "notify_sms": [PHONE]},
        }
    ).model_dump(mode="json")
    assert out["payload"] == {"contact": "女儿", "notify_sms": [mask(PHONE)]}
