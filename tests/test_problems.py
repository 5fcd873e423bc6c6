"""Errors are RFC 9457 problem+json naming the field; unknown list parameters are refused."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import INTERNALS, World


def test_invalid_payload_names_the_field(client: TestClient, world: World) -> None:
    r = client.post(
        "/api/v1/territory/nodes",
        json={"kind": "castle", "name": ""},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == "/problems/validation" and body["status"] == 422
    assert body["instance"] == "/api/v1/territory/nodes"
    assert {e["field"] for e in body["errors"]} == {"kind", "name"}
    assert body["detail"].startswith("请求数据有误")


def test_extra_fields_are_refused(client: TestClient, world: World) -> None:
    r = client.patch(
        f"/api/v1/territory/nodes/{world.nodes['gh']}",
        json={"colour": "red"},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422 and r.json()["field"] == "colour"


def test_unknown_query_parameters_are_refused(client: TestClient, world: World) -> None:
    h = world.auth("gh_admin")
    for path in (
        "/api/v1/territory/nodes",
        "/api/v1/people",
        "/api/v1/users",
        "/api/v1/audit",
        "/api/v1/resident-groups",
    ):
        r = client.get(path, params={"limit": 5, "sort": "name"}, headers=h)
        assert r.status_code == 422, path
        assert r.json()["field"] == "sort" and "limit" in r.json()["detail"]
    r = client.get("/api/v1/people", params={"limit": 0}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "limit"


def test_english_on_request(client: TestClient, world: World) -> None:
    r = client.get(
        "/api/v1/territory/nodes/987654",
        headers={**world.auth("gh_admin"), "Accept-Language": "en-US,en;q=0.9"},
    )
    assert r.status_code == 404 and r.json()["detail"] == "node 987654 not found"
    # What an error is about is worded in the reader's language too, not only its sentence.
    english = {**world.auth("street_admin"), "Accept-Language": "en"}
    for path, detail in (
        ("/api/v1/alarms/987654", "alarm 987654 not found"),
        ("/api/v1/devices/987654", "device 987654 not found"),
        ("/api/v1/users/987654", "user 987654 not found"),
        ("/api/v1/patrol/routes/987654", "patrol route 987654 not found"),
    ):
        assert client.get(path, headers=english).json()["detail"] == detail, path
    chinese = client.get("/api/v1/alarms/987654", headers=world.auth("street_admin"))
    assert chinese.json()["detail"] == "未找到报警 987654"
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


def test_paging(client: TestClient, world: World) -> None:
    h = world.auth("street_admin")
    first = client.get("/api/v1/territory/nodes", params={"limit": 3}, headers=h).json()
    second = client.get(
        "/api/v1/territory/nodes", params={"limit": 3, "offset": 3}, headers=h
    ).json()
    assert first["total"] == second["total"] == 11
    assert len(first["items"]) == 3 and not {n["id"] for n in first["items"]} & {
        n["id"] for n in second["items"]
    }


def test_healthz_and_metrics(client: TestClient, world: World) -> None:
    r = client.get("/healthz", headers=INTERNALS)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"]["ok"] is True and body["demo"] is False
    client.get("/api/v1/territory/nodes", headers=world.auth("gh_admin"))
    metrics = client.get("/metrics", headers=INTERNALS).text
    assert (
        'pingan_http_requests_total{method="GET",route="/api/v1/territory/nodes",status="200"}'
        in metrics
    )


def test_openapi_and_pages(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/territory/nodes" in spec["paths"] and "/api/v1/imports/{kind}" in spec["paths"]
    home = client.get("/")
    assert home.status_code == 200 and "平安社区智能化监管平台" in home.text
