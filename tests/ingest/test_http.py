"""HTTP ingestion: per-device tokens, single and batch, idempotent retries, dead letters."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from pingan.ingest.http import REFUSED_UNAUTHENTICATED, STRANGER_FAILURES
from tests.conftest import INTERNALS, World, add_device


def _unauthenticated() -> float:
    return sum(
        sample.value
        for metric in REFUSED_UNAUTHENTICATED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )


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


def test_a_bad_token_is_401_counted_and_never_stored(
    client: TestClient, world: World, smoke: str
) -> None:
    before = _unauthenticated()
    r = _post(client, "pd_forged", {"kind": "fire"})
    assert r.status_code == 401 and r.json()["detail"] == "设备认证失败：unknown token"
    r = _post(client, None, {"kind": "fire"})
    assert r.status_code == 401
    # A user's token is not a device token.
    r = _post(client, world.tokens["gh_admin"], {"kind": "fire"})
    assert r.status_code == 401
    assert _letters(client, world) == []
    assert _unauthenticated() == before + 3
    metrics = client.get("/metrics", headers=INTERNALS).text
    assert 'pingan_device_requests_unauthenticated_total{reason="unknown_token"}' in metrics


def test_a_flood_of_bad_tokens_from_one_address_is_refused_without_looking(
    client: TestClient, world: World, smoke: str
) -> None:
    for _ in range(STRANGER_FAILURES):
        assert _post(client, "pd_forged", {"kind": "heartbeat"}).status_code == 401
    r = _post(client, "pd_forged", {"kind": "heartbeat"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert r.headers["content-type"] == "application/problem+json"
    # The address is refused even with a good token until the minute has passed.
    assert _post(client, smoke, {"kind": "heartbeat"}).status_code == 429
    assert _letters(client, world) == []


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


def test_a_body_over_the_limit_is_refused_before_it_is_read(
    client: TestClient, world: World, smoke: str
) -> None:
    # The length it declares is enough: nothing of it is read.
    r = client.post(
        "/api/v1/ingest/events",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"Authorization": f"Bearer {smoke}", "Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == "请求内容过大：事件最多 1 MiB"
    letter = _letters(client, world)[0]
    assert (
        letter["reason_key"] == "too_large" and letter["device_id"] == world.devices["gh-smoke-1"]
    )
    # A body sent without a length is cut off as soon as it passes the limit.
    chunks = (b"x" * 65536 for _ in range(40))
    r = client.post(
        "/api/v1/ingest/events", content=chunks, headers={"Authorization": f"Bearer {smoke}"}
    )
    assert r.status_code == 413
    # Any other route has the application's 1 MiB.
    r = client.post(
        "/api/v1/auth/login",
        content=b"x" * (1024 * 1024 + 1),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["title"] and "1 MiB" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "reason_key"),
    [
        (b"[" * 5000 + b"]" * 5000, "bad_json"),  # deep nesting: refused before it is parsed
        (b'{"kind": "fire", "data": {"level": NaN}}', "bad_json"),
        (b'{"kind": "fire", "data": {"note": "\\ud800"}}', "bad_text"),  # a lone surrogate
        (b'{"kind": "fire", "data": {"note": "a\\u0000b"}}', "bad_text"),
    ],
)
def test_input_no_database_or_page_could_hold_is_refused_and_kept(
    client: TestClient, world: World, smoke: str, body: bytes, reason_key: str
) -> None:
    r = client.post(
        "/api/v1/ingest/events", content=body, headers={"Authorization": f"Bearer {smoke}"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    letters = _letters(client, world)
    assert [x["reason_key"] for x in letters] == [reason_key]
    # … and every list still answers.
    assert client.get("/api/v1/events", headers=world.auth("gh_admin")).status_code == 200
    assert client.get("/api/v1/dead-letters", headers=world.auth("street_admin")).status_code == 200


def test_a_device_time_far_off_is_kept_flagged_and_the_receive_time_orders(
    client: TestClient, world: World, smoke: str
) -> None:
    for n, when in enumerate(("2099-01-01T00:00:00+08:00", "2001-01-01T00:00:00+08:00")):
        r = _post(client, smoke, {"event_id": f"t{n}", "kind": "heartbeat", "time": when})
        assert r.status_code == 200
    events = client.get(
        "/api/v1/events",
        params={"device_id": world.devices["gh-smoke-1"]},
        headers=world.auth("gh_admin"),
    ).json()["items"]
    assert len(events) == 2
    for event in events:
        assert event["payload"]["device_time_suspect"] is True
        assert event["occurred_at"] is None or event["occurred_at"] == event["received_at"]
    assert events[0]["payload"]["device_time"].startswith("2001")  # newest received first


def test_numbers_past_64_bits_answer_422(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    huge = 2**70
    for path in (
        f"/api/v1/devices/{huge}",
        f"/api/v1/alarms/{huge}",
        f"/api/v1/territory/nodes/{huge}",
    ):
        r = client.get(path, headers=h)
        assert (
            r.status_code in (404, 422) and r.headers["content-type"] == "application/problem+json"
        ), path
    r = client.get("/api/v1/events", params={"offset": huge}, headers=h)
    assert r.status_code == 422, r.text


def test_dead_letters_are_kept_thirty_days(client: TestClient, world: World, smoke: str) -> None:
    from datetime import timedelta

    from pingan.db.base import utcnow
    from pingan.events import service as event_service
    from pingan.events.models import DeadLetter

    client.post(
        "/api/v1/ingest/events", content=b"{bad", headers={"Authorization": f"Bearer {smoke}"}
    )
    client.post(
        "/api/v1/ingest/events", content=b"{old", headers={"Authorization": f"Bearer {smoke}"}
    )
    old = world.session.query(DeadLetter).filter(DeadLetter.raw == b"{old").one()
    old.received_at = utcnow() - timedelta(days=31)
    world.session.flush()
    assert event_service.purge_dead_letters(world.session, older_than_days=30) == 1
    assert [x["raw_text"] for x in _letters(client, world)] == ["{bad"]


def test_an_mqtt_payload_has_the_http_limit_and_is_not_kept_whole(world: World) -> None:
    from pingan.events.models import DeadLetter
    from pingan.events.pipeline import KEPT_BYTES, dead_letter
    from pingan.ingest import messages

    payload = b'{"kind": "fire", "data": {"pad": "' + b"x" * (5 * 1024 * 1024) + b'"}}'
    with pytest.raises(messages.BadMessage) as refused:
        messages.parse(payload)
    assert refused.value.key == "too_large"
    letter = dead_letter(
        world.session,
        channel="mqtt",
        raw=payload,
        reason_key=refused.value.key,
        reason=refused.value.reason,
        source="pingan/v1/x/event",
    )
    stored = world.session.get(DeadLetter, letter.id)
    assert stored is not None and len(stored.raw) == KEPT_BYTES
    assert f"first {KEPT_BYTES} of {len(payload)} bytes kept" in stored.reason
