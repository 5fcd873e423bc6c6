"""HTTP ingestion: per-device tokens, single and batch, idempotent retries, dead letters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, add_device


@pytest.fixture()
def smoke(world: World) -> str:
    return add_device(world, "gh-smoke-1", node="gh_site", name="1栋烟感", location="1栋1单元")


def _post(client: TestClient, token: str | None, body: Any, **headers: str) -> Any:
    h = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/ingest/events", json=body, headers={**h, **headers})


def _letters(client: TestClient, world: World) -> list[dict[str, Any]]:
    r = client.get("/api/v1/dead-letters", headers=world.auth("street_admin"))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_single_and_batch_events_are_stored_once(
    client: TestClient, world: World, smoke: str
) -> None:
    r = _post(client, smoke, {"event_id": "e1", "kind": "heartbeat"})
    assert r.status_code == 200, r.text
    assert r.json()["results"] == [{"event_id": "gh-smoke-1:e1", "status": "stored"}]
    r = _post(
        client,
        smoke,
        {
            "events": [
                {"event_id": "e1", "kind": "heartbeat"},
                {"event_id": "e2", "kind": "heartbeat"},
                {"event_id": "e2", "kind": "heartbeat"},
            ]
        },
    )
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "stored", "duplicate"]
    events = client.get(
        "/api/v1/events",
        params={"device_id": world.devices["gh-smoke-1"]},
        headers=world.auth("gh_admin"),
    ).json()
    assert events["total"] == 2
    device = client.get(
        f"/api/v1/devices/{world.devices['gh-smoke-1']}", headers=world.auth("gh_admin")
    ).json()
    assert device["status"] == "online" and device["last_seen_at"] is not None


def test_idempotency_key_makes_a_retry_harmless(
    client: TestClient, world: World, smoke: str
) -> None:
    body = {"kind": "fire", "code": "smoke"}
    first = _post(client, smoke, body, **{"Idempotency-Key": "req-42"})
    again = _post(client, smoke, body, **{"Idempotency-Key": "req-42"})
    assert first.json()["results"][0]["status"] == "stored"
    assert again.json()["results"][0]["status"] == "duplicate"
    alarms = client.get("/api/v1/alarms", headers=world.auth("gh_admin")).json()
    assert alarms["total"] == 1 and alarms["items"][0]["count"] == 1


@pytest.mark.parametrize(
    ("body", "status", "reason_key"),
    [
        (b"{not json", 422, "bad_json"),
        (b'{"kind": "Fire!"}', 422, "schema"),
        (b'{"kind": "fire", "colour": "red"}', 422, "schema"),
        (b'{"kind": "fire", "time": "2026-11-25T10:00:00"}', 422, "schema"),
        (b"[]", 422, "schema"),
    ],
)
def test_bad_messages_are_refused_and_kept(
    client: TestClient, world: World, smoke: str, body: bytes, status: int, reason_key: str
) -> None:
    r = client.post(
        "/api/v1/ingest/events", content=body, headers={"Authorization": f"Bearer {smoke}"}
    )
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    letters = _letters(client, world)
    assert letters[0]["raw_text"] == body.decode() and letters[0]["reason_key"] == reason_key
    assert (
        letters[0]["device_id"] == world.devices["gh-smoke-1"] and letters[0]["channel"] == "http"
    )


def test_bad_token_is_401_and_kept(client: TestClient, world: World, smoke: str) -> None:
    r = _post(client, "pd_forged", {"kind": "fire"})
    assert r.status_code == 401 and r.json()["detail"] == "设备认证失败：unknown token"
    r = _post(client, None, {"kind": "fire"})
    assert r.status_code == 401
    letters = _letters(client, world)
    assert [x["reason_key"] for x in letters] == ["bad_token", "bad_token"]
    # A community admin does not see letters no device can be tied to.
    assert client.get("/api/v1/dead-letters", headers=world.auth("gh_admin")).json()["total"] == 0
    # A user's token is not a device token.
    r = _post(client, world.tokens["gh_admin"], {"kind": "fire"})
    assert r.status_code == 401


def test_disabled_device_is_refused(client: TestClient, world: World, smoke: str) -> None:
    r = client.patch(
        f"/api/v1/devices/{world.devices['gh-smoke-1']}",
        json={"enabled": False},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 200
    assert _post(client, smoke, {"kind": "heartbeat"}).status_code == 401


def test_dead_letter_replay_after_the_cause_is_mended(
    client: TestClient, world: World, smoke: str
) -> None:
    client.patch(
        f"/api/v1/devices/{world.devices['gh-smoke-1']}",
        json={"enabled": False},
        headers=world.auth("gh_admin"),
    )
    _post(client, smoke, {"event_id": "late-1", "kind": "fire", "code": "smoke"})
    letter = _letters(client, world)[0]
    h = world.auth("gh_admin")
    r = client.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=h)
    assert r.status_code == 200 and r.json()["replay_result"].startswith("failed")
    client.patch(
        f"/api/v1/devices/{world.devices['gh-smoke-1']}", json={"enabled": True}, headers=h
    )
    r = client.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=h)
    assert r.json()["replay_result"] == "stored 1, duplicate 0"
    assert client.post(f"/api/v1/dead-letters/{letter['id']}/replay", headers=h).status_code == 409
    assert client.get("/api/v1/alarms", headers=h).json()["total"] == 1


def test_schema_is_published(client: TestClient) -> None:
    schema = client.get("/api/v1/ingest/schema.json").json()
    assert schema["title"] == "pingan device event" and "kind" in schema["required"]


def test_a_device_with_history_is_disabled_not_deleted(
    client: TestClient, world: World, smoke: str
) -> None:
    _post(client, smoke, {"kind": "heartbeat"})
    r = client.delete(
        f"/api/v1/devices/{world.devices['gh-smoke-1']}", headers=world.auth("gh_admin")
    )
    assert r.status_code == 409 and r.json()["field"] == "enabled"
    assert (
        client.get(
            "/api/v1/events",
            params={"device_id": world.devices["gh-smoke-1"]},
            headers=world.auth("gh_admin"),
        ).json()["total"]
        == 1
    )
