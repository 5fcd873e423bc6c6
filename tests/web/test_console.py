"""The console's pages and the figures and map layers behind them, on both databases: each user
sees the menu and data of their role and territory only."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.alarms.models import Alarm
from pingan.auth.models import AuditEntry
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.devices.models import Device, DeviceStatus
from pingan.events.models import DeadLetter
from tests.alarms.test_alarms import send
from tests.conftest import World, add_device, add_user


def page(client: TestClient, world: World, user: str, path: str, **params: Any) -> Any:
    client.cookies.clear()
    client.cookies.set("pingan_session", world.tokens[user])
    r = client.get(path, params=params, follow_redirects=False)
    client.cookies.clear()
    return r


@pytest.fixture()
def raised(client: TestClient, world: World) -> dict[str, int]:
    """A fire at 光华苑 and an intrusion at 红光苑, through the real ingest."""
    gh = add_device(world, "gh-smoke", node="gh_site", name="1栋烟感", location="1栋大堂")
    hg = add_device(world, "hg-panel", node="hg_site", kind="intrusion_panel", name="红光主机")
    add_device(world, "gh-cam", node="gh_site", kind="camera", protocol="mqtt", name="东门摄像机")
    send(client, gh, kind="fire", code="smoke", zone="1")
    send(client, hg, kind="burglary", code="BA", zone="3")
    ids = {
        (a.subject or "").split(" · ")[0]: a.id
        for a in world.session.scalars(select(Alarm).order_by(Alarm.id))
    }
    return {"gh": ids["1栋烟感"], "hg": ids["红光主机"]}


def test_pages_need_a_login_and_come_back_after_it(client: TestClient) -> None:
    for path in ("/desk", "/map", "/devices", "/stats", "/territory", "/alarms/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}", path


def test_menu_follows_the_role(client: TestClient, world: World) -> None:
    add_user(world, "gh_resident", Role.resident, "gh_hh")
    r = page(client, world, "gh_operator", "/desk")
    assert r.status_code == 200
    for word in ("报警值班台", "地图", "设备监测", "统计分析", "辖区"):
        assert word in r.text, word
    # A resident account with no person behind it has no page at all in the console.
    r = page(client, world, "gh_resident", "/territory")
    assert r.status_code == 404
    assert "<nav" not in r.text  # nothing to offer
    assert page(client, world, "gh_resident", "/desk").status_code == 404
    assert page(client, world, "gh_resident", "/devices").status_code == 404


def test_alarm_page_shows_timeline_device_place_and_actions(
    client: TestClient, world: World, raised: dict[str, int]
) -> None:
    r = page(client, world, "gh_operator", f"/alarms/{raised['gh']}")
    assert r.status_code == 200
    assert "火警 · 1栋烟感" in r.text and "1栋大堂" in r.text and "光华苑" in r.text
    assert 'id="minimap"' in r.text and "东门摄像机" in r.text  # the nearest camera
    assert 'id="act"' in r.text  # an operator may act
    assert f'href="/territory?node={world.nodes["gh"]}"' in r.text  # the way up, within scope
    assert f'href="/territory?node={world.nodes["street"]}"' not in r.text
    assert "此报警没有抓拍图片" in r.text
    assert page(client, world, "gh_operator", f"/alarms/{raised['hg']}").status_code == 404
    assert page(client, world, "hg_admin", f"/alarms/{raised['gh']}").status_code == 404


def test_alarm_page_shows_only_snapshots_the_platform_serves(
    client: TestClient, world: World
) -> None:
    token = add_device(world, "gh-face", node="gh_site", kind="face_terminal", name="东门人脸")
    inline = "data:image/png;base64,iVBORw0KGgo="
    for zone, snapshot in (("1", inline), ("2", "//elsewhere.example/x.jpg")):
        send(client, token, kind="panic", code="PA", zone=zone, data={"snapshot": snapshot})
    shown = [
        page(client, world, "gh_operator", f"/alarms/{a.id}").text
        for a in world.session.scalars(select(Alarm).order_by(Alarm.zone))
    ]
    assert f'src="{inline}"' in shown[0]
    assert "elsewhere.example" not in shown[1] and "此报警没有抓拍图片" in shown[1]


def test_desk_offers_filters_of_the_users_territory_only(
    client: TestClient, world: World, raised: dict[str, int]
) -> None:
    r = page(client, world, "gh_operator", "/desk")
    assert "光华苑" in r.text and "红光苑" not in r.text
    initial = json.loads(
        r.text.split('id="initial" type="application/json">', 1)[1].split("<", 1)[0]
    )
    assert [a["id"] for a in initial] == [raised["gh"]]


def test_english_by_the_switch(client: TestClient, world: World) -> None:
    client.cookies.set("pingan_session", world.tokens["gh_operator"])
    r = client.get("/stats", params={"lang": "en"})
    assert r.status_code == 200 and "Statistics" in r.text and "统计分析" not in r.text
    assert r.cookies.get("pingan_lang") == "en"
    r = client.get("/api/v1/figures/by_day")  # the page's figures follow the chosen language
    assert r.json()["title"] == "Alarms per day"
    client.cookies.clear()
    assert "统计分析" in page(client, world, "gh_operator", "/stats").text


def test_map_layers_inside_scope(client: TestClient, world: World, raised: dict[str, int]) -> None:
    h = world.auth("gh_operator")
    sites = client.get("/api/v1/map/sites", headers=h).json()["features"]
    assert [(f["properties"]["name"], f["properties"]["open_alarms"]) for f in sites] == [
        ("光华苑", 1)
    ]
    assert sites[0]["properties"]["top_priority"] == 1
    assert sites[0]["geometry"] == {"type": "Point", "coordinates": [103.805, 30.685]}
    bounds = client.get("/api/v1/map/boundaries", headers=h).json()["features"]
    assert {f["properties"]["name"] for f in bounds} == {"光华社区", "光华第1网格"}
    devices = client.get("/api/v1/map/devices", headers=h).json()["features"]
    assert {f["properties"]["name"] for f in devices} == {"1栋烟感", "东门摄像机"}
    assert {f["properties"]["site_id"] for f in devices} == {world.nodes["gh_site"]}
    for f in devices:  # without a position of their own, around their site's point
        lon, lat = f["geometry"]["coordinates"]
        assert abs(lon - 103.805) < 0.001 and abs(lat - 30.685) < 0.001
    assert client.get("/api/v1/map/people", headers=h).status_code == 404  # no such layer
    assert page(client, world, "gh_operator", "/map").status_code == 200


def test_figures_count_what_happened_in_scope(
    client: TestClient, world: World, raised: dict[str, int]
) -> None:
    h = world.auth("gh_admin")
    alarm = world.session.get(Alarm, raised["gh"])
    assert alarm is not None
    r = client.post(f"/api/v1/alarms/{alarm.id}/actions", json={"action": "acknowledge"}, headers=h)
    assert r.status_code == 200
    r = client.post(f"/api/v1/alarms/{alarm.id}/actions", json={"action": "false_alarm"}, headers=h)
    assert r.status_code == 200
    # Known response times: acknowledged after 3 minutes, resolved after 20.
    world.session.refresh(alarm)
    alarm.acknowledged_at = alarm.raised_at + timedelta(minutes=3)
    alarm.resolved_at = alarm.raised_at + timedelta(minutes=20)
    world.session.flush()

    def rows(name: str, user: str = "gh_admin") -> list[list[Any]]:
        r = client.get(f"/api/v1/figures/{name}", headers=world.auth(user))
        assert r.status_code == 200, r.text
        return list(r.json()["rows"])

    assert rows("by_category") == [["fire", "火警", 1]]
    assert rows("by_community") == [["光华社区", 1]]
    assert sorted(rows("by_community", "street_admin")) == [["光华社区", 1], ["红光社区", 1]]
    by_day = rows("by_day")
    assert len(by_day) == 30 and sum(n for _d, n in by_day) == 1 and by_day[-1][1] == 1
    assert dict(map(tuple, rows("tta")))["1–5 min"] == 1
    assert dict(map(tuple, rows("ttr")))["15–60 min"] == 1
    assert rows("false_alarm_rate") == [["光华苑", 1, 1, 1.0]]
    assert rows("device_online") == [["光华社区", 2, 1, 0.5]]  # the camera never reported
    defences = {name: value for _d, name, value, _unit in rows("defences")}
    assert defences["设备数"] == 2 and defences["小区/单位数"] == 1
    assert defences["检查超期的小区/单位"] == 1  # never inspected
    assert defences["本期报警数"] == 1

    r = client.get("/api/v1/figures/false_alarm_rate.csv", headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    assert r.content.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table == [["site", "handled", "false_alarms", "rate"], ["光华苑", "1", "1", "1.0"]]

    r = client.get(
        "/api/v1/figures/by_day", params={"start": "2026-02-01", "end": "2026-01-01"}, headers=h
    )
    assert r.status_code == 422 and r.json()["field"] == "start"
    r = client.get("/api/v1/figures/nothing", headers=h)
    assert r.status_code == 404
    r = client.get(
        "/api/v1/figures/by_day", params={"start": "2024-01-01", "end": "2026-01-01"}, headers=h
    )
    assert r.status_code == 422


def test_device_wall_lists_silent_devices_and_dead_letters(
    client: TestClient, world: World, raised: dict[str, int]
) -> None:
    device = world.session.get(Device, world.devices["gh-smoke"])
    assert device is not None
    device.status = DeviceStatus.offline
    device.last_seen_at = utcnow() - timedelta(hours=5, minutes=7)
    world.session.add(
        DeadLetter(
            channel="mqtt",
            source="pingan/v1/gh-smoke/event",
            device_id=device.id,
            raw=b"{not json",
            reason_key="bad_json",
            reason="Expecting property name",
        )
    )
    world.session.flush()
    r = page(client, world, "gh_operator", "/devices")
    assert r.status_code == 200
    offline = r.text.split('id="offline"', 1)[1].split("</table>", 1)[0]
    assert "1栋烟感" in offline and "5 小时 7 分钟" in offline
    assert "东门摄像机" in offline and "从未上线" in offline
    assert "bad_json" not in r.text  # raw device messages are for device managers
    r = page(client, world, "gh_admin", "/devices")
    letters = r.text.split('id="letters"', 1)[1].split("</table>", 1)[0]
    assert "bad_json" in letters and "Expecting property name" in letters
    assert page(client, world, "hg_admin", "/devices").text.count("1栋烟感") == 0
    community = page(client, world, "gh_operator", "/devices", community=world.nodes["gh"])
    assert community.status_code == 200 and "光华苑" in community.text
    assert (
        page(client, world, "gh_operator", "/devices", community=world.nodes["hg"]).status_code
        == 404
    )
    client.headers["HX-Request"] = "true"  # what the page's refresh asks for
    panel = page(client, world, "gh_operator", "/devices")
    del client.headers["HX-Request"]
    assert panel.status_code == 200 and "<html" not in panel.text and "1栋烟感" in panel.text


def test_territory_browse_search_and_audited_people(
    client: TestClient, world: World, raised: dict[str, int]
) -> None:
    r = page(client, world, "gh_admin", "/territory")
    assert "光华社区" in r.text and "红光社区" not in r.text
    r = page(client, world, "gh_admin", "/territory", node=world.nodes["gh_site"])
    assert r.status_code == 200 and "1栋" in r.text and "1栋烟感" in r.text
    r = page(client, world, "gh_admin", "/territory", node=world.nodes["gh_hh"])
    assert "光华居民" in r.text and "100****5678" in r.text and "10012345678" not in r.text
    audit = world.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "people", AuditEntry.action == "search")
    ).all()
    assert audit and audit[-1].after is not None and audit[-1].after["page"] == "territory"
    r = page(client, world, "gh_admin", "/territory", q="苑")
    assert "光华苑" in r.text and "红光苑" not in r.text
    assert (
        page(client, world, "gh_admin", "/territory", node=world.nodes["hg_site"]).status_code
        == 404
    )
