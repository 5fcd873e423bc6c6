"""Open311 GeoReport v2, written from the specification: every method in XML (the required
format) and JSON, the content types with their charset, W3C datetimes with a zone, the error list
with 400/403/404, keys issued by the street and kept hashed, contact details never in a GET."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.incidents.models import Incident, Open311Client
from tests.auth.test_audit import _entries
from tests.conftest import World

V2 = "/open311/v2"
FORMATS = ("json", "xml")
IN_GH = {"lat": "30.685", "long": "103.805"}


def parsed(r: Any, fmt: str) -> Any:
    """The answer as Python: JSON as it is; XML as a list of dicts (or one dict) of its elements."""
    if fmt == "json":
        assert r.headers["content-type"] == "application/json; charset=utf-8"
        return r.json()
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(r.content)

    def value(element: ET.Element) -> Any:
        children = list(element)
        if not children:
            return element.text or ""
        if (len({c.tag for c in children}) == 1 and len(children) > 1) or element.tag in (
            "values",
            "attributes",
            "endpoints",
            "formats",
        ):
            return [value(c) for c in children]
        return {c.tag: value(c) for c in children}

    if root.tag in ("services", "service_requests", "errors"):
        return [value(c) for c in root]
    return value(root)


@pytest.fixture()
def api_key(client: TestClient, world: World) -> str:
    r = client.post(
        "/api/v1/open311-clients", json={"name": "市民通"}, headers=world.auth("street_admin")
    )
    assert r.status_code == 201, r.text
    return str(r.json()["api_key"])


def post(client: TestClient, fmt: str, **form: str) -> Any:
    return client.post(f"{V2}/requests.{fmt}", data=form)


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_and_services(client: TestClient, world: World, fmt: str) -> None:
    d = parsed(client.get(f"{V2}/discovery.{fmt}"), fmt)
    [endpoint] = d["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "text/xml" in endpoint["formats"]
    services = parsed(client.get(f"{V2}/services.{fmt}"), fmt)
    codes = {s["service_code"]: s for s in services}
    ebike = codes["fire.ebike_indoor"]
    assert ebike["service_name"] == "电动车楼道停放或入户充电" and ebike["group"] == "消防隐患"
    assert str(ebike["metadata"]).lower() == "true" and ebike["type"] == "realtime"
    en = parsed(client.get(f"{V2}/services.{fmt}", headers={"Accept-Language": "en"}), fmt)
    assert {s["service_code"]: s for s in en}["fire.ebike_indoor"]["group"] == "Fire hazards"
    definition = parsed(client.get(f"{V2}/services/fire.ebike_indoor.{fmt}"), fmt)
    assert definition["service_code"] == "fire.ebike_indoor"
    place = definition["attributes"][0]
    assert place["code"] == "place" and place["datatype"] == "singlevaluelist"
    assert str(place["required"]).lower() == "true"
    assert {v["key"] for v in place["values"]} == {"corridor", "home", "lift"}
    r = client.get(f"{V2}/services/fire.nothing.{fmt}")
    assert r.status_code == 404 and parsed(r, fmt)[0]["code"] in (404, "404")


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_get_and_privacy(client: TestClient, world: World, api_key: str, fmt: str) -> None:
    r = post(
        client,
        fmt,
        api_key=api_key,
        jurisdiction_id="",
        service_code="fire.ebike_indoor",
        description="二单元楼道有三辆电动车充电",
        **{"attribute[place]": "corridor", "attribute[count]": "3"},
        **IN_GH,
        email="zhang@example.com",
        first_name="三",
        last_name="张",
        phone="13800005555",
        media_url="https://example.com/p.jpg",
    )
    assert r.status_code == 200, r.text
    [created] = parsed(r, fmt)
    rid = created["service_request_id"]
    assert rid and "token" not in created  # an id or a token, never both
    incident = world.session.scalar(select(Incident).where(Incident.id == int(rid)))
    assert incident is not None and incident.channel == "open311"
    assert incident.contact == {
        "email": "zhang@example.com",
        "first_name": "三",
        "last_name": "张",
        "phone": "13800005555",
    }
    assert incident.attributes == {"place": "corridor", "count": 3.0}
    for url in (f"{V2}/requests/{rid}.{fmt}", f"{V2}/requests.{fmt}"):
        r = client.get(url)
        assert r.status_code == 200
        for secret in ("zhang@example.com", "13800005555", "张"):
            assert secret not in r.text  # contact details never in a GET
        [one] = [x for x in parsed(r, fmt) if x["service_request_id"] == rid]
        assert one["status"] == "open" and one["status_notes"] == "待立案"
        assert one["service_code"] == "fire.ebike_indoor" and float(one["lat"]) == 30.685
        stamp = datetime.fromisoformat(one["requested_datetime"])
        assert stamp.utcoffset() is not None  # W3C with a zone
        assert one["media_url"] == "https://example.com/p.jpg"
    r = client.get(f"{V2}/tokens/{incident.token}.{fmt}")
    assert parsed(r, fmt)[0]["service_request_id"] == rid
    assert client.get(f"{V2}/tokens/nothing.{fmt}").status_code == 404
    # Closed cases are "closed" whatever our richer state; the filters work.
    incident.state, incident.is_open = "rejected", False  # type: ignore[assignment]
    world.session.flush()
    closed = parsed(client.get(f"{V2}/requests.{fmt}", params={"status": "closed"}), fmt)
    assert [x["service_request_id"] for x in closed] == [rid]
    assert parsed(client.get(f"{V2}/requests.{fmt}", params={"status": "open"}), fmt) in ([], "")


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_are_the_specification_s_list(
    client: TestClient, world: World, api_key: str, fmt: str
) -> None:
    base = {"service_code": "fire.ebike_indoor", "description": "x", **IN_GH}
    base["attribute[place]"] = "home"
    for key, status in ((None, 403), ("p311_wrong", 403)):
        form = {**base, **({"api_key": key} if key else {})}
        r = post(client, fmt, **form)
        assert r.status_code == status
        [err] = parsed(r, fmt)
        assert int(err["code"]) == status and "api_key" in err["description"]
    cases: list[tuple[dict[str, str], str]] = [
        ({"service_code": "fire.dragons"}, "fire.dragons"),
        ({"lat": "", "long": ""}, "location"),
        ({"lat": "29.0", "long": "104.5"}, "不在本街道辖区内"),
        ({"description": "长" * 4001}, "4000"),
        ({"attribute[place]": "roof"}, "corridor"),
    ]
    before = world.session.scalar(select(Incident.id).order_by(Incident.id.desc()))
    for change, words in cases:
        r = post(client, fmt, api_key=api_key, **{**base, **change})
        assert r.status_code == 400, (change, r.text)
        [err] = parsed(r, fmt)
        assert int(err["code"]) == 400 and words in err["description"], (change, err)
    assert world.session.scalar(select(Incident.id).order_by(Incident.id.desc())) == before
    now = datetime.now().astimezone()
    r = client.get(
        f"{V2}/requests.{fmt}",
        params={"start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()},
    )
    assert r.status_code == 400 and "90 days" in parsed(r, fmt)[0]["description"]
    r = client.get(f"{V2}/requests.{fmt}", params={"start_date": "2026-12-01T08:00:00"})
    assert r.status_code == 400 and "zone" in parsed(r, fmt)[0]["description"]
    r = client.get(f"{V2}/requests.{fmt}", params={"status": "in_hand"})
    assert r.status_code == 400
    assert client.get(f"{V2}/requests/999999.{fmt}").status_code == 404
    assert client.get(f"{V2}/services.csv").status_code == 404


def test_keys_are_the_street_s_hashed_revocable_and_audited(
    client: TestClient, world: World, api_key: str
) -> None:
    assert (
        client.post(
            "/api/v1/open311-clients", json={"name": "x"}, headers=world.auth("gh_admin")
        ).status_code
        == 403
    )
    [row] = world.session.scalars(select(Open311Client)).all()
    assert row.key_hash != api_key and api_key not in str(vars(row))
    form = {"service_code": "environment.exposed_rubbish", "description": "垃圾", **IN_GH}
    r = post(client, "json", api_key=api_key, **form)
    assert r.status_code == 200, r.text
    listed = client.get("/api/v1/open311-clients", headers=world.auth("street_admin")).json()
    assert listed[0]["requests"] == 1 and "api_key" not in listed[0]
    r = client.post(f"/api/v1/open311-clients/{row.id}/revoke", headers=world.auth("street_admin"))
    assert r.status_code == 200 and r.json()["revoked_at"]
    assert post(client, "json", api_key=api_key, **form).status_code == 403
    actions = [e["action"] for e in _entries(client, world, entity="open311_clients")]
    assert actions == ["update", "create"]
    # Rate-limited per key.
    from pingan.limits import Window

    client.app.state.open311_clients = Window(1, 60)  # type: ignore[attr-defined]
    key = client.post(
        "/api/v1/open311-clients", json={"name": "y"}, headers=world.auth("street_admin")
    ).json()["api_key"]
    assert post(client, "xml", api_key=key, **form).status_code == 200
    r = post(client, "xml", api_key=key, **form)
    assert r.status_code == 429 and "<errors><error><code>429</code>" in r.text


def test_disputes_between_neighbours_are_not_listed_to_the_public(
    client: TestClient, world: World, api_key: str
) -> None:
    r = post(
        client,
        "json",
        api_key=api_key,
        service_code="dispute.neighbour",
        description="楼上漏水纠纷",
        **IN_GH,
    )
    [created] = r.json()
    assert client.get(f"{V2}/requests/{created['service_request_id']}.json").status_code == 404
    assert all(
        x["service_code"] != "dispute.neighbour" for x in client.get(f"{V2}/requests.json").json()
    )
