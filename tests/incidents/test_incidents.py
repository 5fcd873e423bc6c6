"""Grid incidents against the real database: reported through the channels into one place, routed
by position, moved through the workflow with its timeline, timed, rated; bad input refused in
problem+json with nothing written."""

from __future__ import annotations

import io
import json
import struct
import zlib
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.incidents import service
from pingan.incidents.models import Incident, IncidentPhoto, Level
from tests.auth.test_audit import _entries
from tests.conftest import World, add_user

# 光华第1网格 spans 103.80–103.81 E, 30.68–30.69 N; 红光 begins at 103.82.
IN_GH = {"lon": 103.805, "lat": 30.685}


@pytest.fixture()
def staff(world: World) -> World:
    add_user(world, "gh_grid", Role.grid_officer, "gh_grid")
    add_user(world, "gh_property", Role.site_manager, "gh_site")
    add_user(world, "gh_patrol", Role.patrol_member, "gh")
    add_user(world, "hg_grid", Role.grid_officer, "hg_grid")
    world.session.flush()
    return world


def jpeg(with_gps: bool = False, size: tuple[int, int] = (640, 480)) -> bytes:
    image = Image.new("RGB", size, (180, 60, 40))
    out = io.BytesIO()
    exif = Image.Exif()
    if with_gps:
        exif[0x010F] = "PhoneMaker"  # Make
        gps = exif.get_ifd(0x8825)
        gps.update({1: "N", 2: (30.0, 41.0, 5.0), 3: "E", 4: (103.0, 48.0, 18.0)})
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge picture: a decompression bomb's calling card."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    ihdr = 8 + 8  # signature, length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def report(
    client: TestClient,
    world: World | None,
    user: str | None = "gh_grid",
    photos: list[bytes] | None = None,
    **fields: Any,
) -> Any:
    body = {
        "kind": "fire.ebike_indoor",
        "description": "3栋楼道飞线充电",
        "attributes": {"place": "corridor"},
        **IN_GH,
        **fields,
    }
    files = [("photos", (f"p{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [])]
    if user is None:
        return client.post(
            "/api/v1/public/incidents", data={"report": json.dumps(body)}, files=files or None
        )
    assert world is not None
    return client.post(
        "/api/v1/incidents",
        data={"report": json.dumps(body)},
        files=files or None,
        headers=world.auth(user),
    )


def move(
    client: TestClient,
    world: World,
    user: str,
    incident_id: int,
    photos: list[bytes] | None = None,
    **body: Any,
) -> Any:
    files = [("photos", (f"a{i}.jpg", p, "image/jpeg")) for i, p in enumerate(photos or [])]
    return client.post(
        f"/api/v1/incidents/{incident_id}/actions",
        data={"move": json.dumps(body)},
        files=files or None,
        headers=world.auth(user),
    )


def count(world: World) -> int:
    return int(world.session.scalar(select(func.count(Incident.id))) or 0)


def test_a_patrol_find_is_routed_to_its_grid_with_its_photo_stripped(
    client: TestClient, staff: World
) -> None:
    r = report(client, staff, photos=[jpeg(with_gps=True)])
    assert r.status_code == 201, r.text
    case = r.json()
    assert (case["grid_id"], case["community_id"]) == (staff.nodes["gh_grid"], staff.nodes["gh"])
    assert case["channel"] == "grid" and case["state"] == "reported" and case["priority"] == 1
    assert case["handler"] == "site_manager" and case["photos"] == 1 and case["token"]
    assert [e["action"] for e in case["timeline"]] == ["reported"]
    [photo_id] = case["timeline"][0]["photos"]
    stored = staff.session.get(IncidentPhoto, photo_id)
    assert stored is not None and stored.data[:3] == b"\xff\xd8\xff"
    assert b"PhoneMaker" not in stored.data and not Image.open(io.BytesIO(stored.data)).getexif()
    r = client.get(
        f"/api/v1/incidents/{case['id']}/photos/{photo_id}", headers=staff.auth("gh_admin")
    )
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    # 红光's admin does not see it, nor its photo: 404.
    for url in (
        f"/api/v1/incidents/{case['id']}",
        f"/api/v1/incidents/{case['id']}/photos/{photo_id}",
    ):
        assert client.get(url, headers=staff.auth("hg_admin")).status_code == 404


def test_bad_reports_are_refused_in_problem_json_with_nothing_written(
    client: TestClient, staff: World
) -> None:
    before = count(staff)
    r = report(client, staff, lon=104.5, lat=30.2)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "不在本街道辖区内" in r.json()["detail"] and r.json()["field"] == "lat"
    r = report(client, staff, kind="fire.dragons")
    assert r.status_code == 422 and "fire.dragons" in r.json()["detail"]
    r = report(client, staff, photos=[b"%PDF-1.4 not a photo"])
    assert r.status_code == 422 and "p0.jpg" in r.json()["detail"]
    r = report(client, staff, photos=[png_claiming(30_000, 30_000)])
    assert r.status_code == 422 and "megapixels" in r.json()["detail"]
    r = report(client, staff, photos=[jpeg()] * 5)
    assert r.status_code == 422 and r.json()["field"] == "photos"
    r = client.post(
        "/api/v1/incidents", data={"report": "{not json"}, headers=staff.auth("gh_grid")
    )
    assert r.status_code == 422 and r.json()["field"] == "report"
    r = report(client, staff, description="")
    assert r.status_code == 422 and r.json()["field"] == "report.description"
    r = report(client, staff, attributes={"count": 2})
    assert r.status_code == 422 and "place: required" in r.json()["detail"]
    r = report(client, staff, attributes={"place": "roof"})
    assert r.status_code == 422 and "corridor" in r.json()["detail"]
    big = b"\xff\xd8\xff" + b"0" * (9 * 1024 * 1024)
    r = report(client, staff, photos=[big])
    assert r.status_code == 422 and "MiB" in r.json()["detail"]
    assert count(staff) == before


def test_an_address_in_words_places_the_case_or_is_refused(
    client: TestClient, staff: World
) -> None:
    r = report(client, staff, lon=None, lat=None, address="光华苑2栋门口")
    assert r.status_code == 201, r.text
    assert r.json()["grid_id"] == staff.nodes["gh_grid"]
    r = report(client, staff, lon=None, lat=None, address="不知道哪里")
    assert r.status_code == 422 and r.json()["field"] == "lat"


def test_from_report_to_verified_closure_every_step_on_the_timeline(
    client: TestClient, staff: World
) -> None:
    case = report(client, staff, photos=[jpeg()]).json()
    cid = case["id"]
    # The officer who reported it cannot accept it: that is the community's.
    assert move(client, staff, "gh_grid", cid, action="accept").status_code == 403
    # A move the state does not allow: 409, nothing changes.
    r = move(client, staff, "gh_admin", cid, action="close")
    assert r.status_code == 409 and "不能执行" in r.json()["detail"]
    r = move(client, staff, "gh_admin", cid, action="accept", note="属实")
    assert r.status_code == 200, r.text
    accepted = r.json()
    assert accepted["state"] == "accepted" and accepted["due_at"]
    r = move(
        client,
        staff,
        "gh_admin",
        cid,
        action="assign",
        assignee_user_id=staff.users["gh_property"],
    )
    assert r.status_code == 200 and r.json()["assignee"] == "gh_property"
    # The property manager sees it (assigned to them) and takes it.
    assert move(client, staff, "gh_property", cid, action="take").json()["state"] == "in_hand"
    r = move(client, staff, "gh_property", cid, action="done", note="已清理")
    assert r.status_code == 422 and r.json()["field"] == "photos"  # after-photo required
    r = move(client, staff, "gh_property", cid, photos=[jpeg()], action="done", note="已清理")
    assert r.status_code == 200 and r.json()["state"] == "done" and r.json()["on_time"] is True
    # The property manager cannot verify their own work; the grid officer does.
    assert move(client, staff, "gh_property", cid, action="verify").status_code == 403
    assert move(client, staff, "gh_grid", cid, action="verify").json()["state"] == "verified"
    r = move(client, staff, "gh_admin", cid, action="close", version=0)
    assert r.status_code == 409  # a stale view
    detail = move(client, staff, "gh_admin", cid, action="close").json()
    assert detail["state"] == "closed" and detail["is_open"] is False
    steps = [(e["action"], e["to_state"]) for e in detail["timeline"]]
    assert steps == [
        ("reported", "reported"),
        ("accept", "accepted"),
        ("assign", "assigned"),
        ("take", "in_hand"),
        ("done", "done"),
        ("verify", "verified"),
        ("close", "closed"),
    ]
    after = next(e for e in detail["timeline"] if e["action"] == "done")
    assert len(after["photos"]) == 1 and detail["photos"] == 2


def test_reject_and_send_back_need_their_reasons(client: TestClient, staff: World) -> None:
    cid = report(client, staff).json()["id"]
    r = move(client, staff, "gh_admin", cid, action="reject")
    assert r.status_code == 422 and "重复上报" in r.json()["detail"]
    r = move(client, staff, "gh_admin", cid, action="reject", reason="not_a_problem")
    assert r.json()["state"] == "rejected" and r.json()["reject_reason"] == "not_a_problem"
    cid = report(client, staff).json()["id"]
    move(client, staff, "gh_admin", cid, action="accept")
    move(client, staff, "gh_admin", cid, action="assign", assignee="供电所")
    r = move(client, staff, "gh_admin", cid, action="send_back", reason="not_ours")
    assert r.json()["state"] == "accepted" and r.json()["assignee"] is None
    r = move(
        client, staff, "gh_admin", cid, action="assign", assignee_user_id=staff.users["hg_grid"]
    )
    assert r.status_code == 404  # 红光's officer cannot handle a case of 光华


def test_duplicates_are_shown_and_merged_and_the_merged_reporter_follows_the_outcome(
    client: TestClient, staff: World
) -> None:
    first = report(client, staff, photos=[jpeg()]).json()
    near = {"lon": IN_GH["lon"] + 0.0002, "lat": IN_GH["lat"]}  # about 19 m east
    r = client.get("/api/v1/incidents/nearby", params={"kind": "fire.ebike_indoor", **near})
    assert [d["id"] for d in r.json()] == [first["id"]] and "description" not in r.json()[0]
    second = report(client, None, user=None, **near, reporter_phone="13800001111").json()
    assert second["duplicates"] == [] and second["channel"] == "resident"
    detail = client.get(f"/api/v1/incidents/{second['id']}", headers=staff.auth("gh_admin")).json()
    assert detail["duplicates"] == [first["id"]]
    assert detail["reporter_phone"] == "138****1111"  # masked in every answer
    far = report(client, staff, lon=IN_GH["lon"] + 0.002).json()  # about 190 m away
    assert far["duplicates"] == []
    r = move(client, staff, "gh_admin", second["id"], action="merge", target_id=far["id"] + 999)
    assert r.status_code == 404
    r = move(client, staff, "gh_admin", second["id"], action="merge", target_id=first["id"])
    assert r.json()["state"] == "merged" and r.json()["merged_into_id"] == first["id"]
    target = client.get(f"/api/v1/incidents/{first['id']}", headers=staff.auth("gh_admin")).json()
    assert target["timeline"][-1]["action"] == "merged_in"
    # The resident's own page follows the case theirs was merged into.
    mine = client.get(f"/api/v1/public/incidents/{second['token']}").json()
    assert mine["state"] == "reported" and mine["merged_into_id"] == first["id"]
    # Not the other reporter's photo, even through the key of one's own.
    [theirs] = first["timeline"][0]["photos"]
    assert theirs not in mine["photos"]
    r = client.get(f"/api/v1/public/incidents/{second['token']}/photos/{theirs}")
    assert r.status_code == 404
    move(client, staff, "gh_admin", first["id"], action="reject", reason="not_a_problem")
    mine = client.get(f"/api/v1/public/incidents/{second['token']}").json()
    assert mine["state"] == "rejected"
    assert client.get("/api/v1/public/incidents/no-such-token").status_code == 404


def test_reminder_overdue_and_escalation_follow_the_working_clock(
    client: TestClient, staff: World
) -> None:
    cid = report(client, staff).json()["id"]
    move(client, staff, "gh_admin", cid, action="accept")
    move(
        client, staff, "gh_admin", cid, action="assign", assignee_user_id=staff.users["gh_property"]
    )
    incident = staff.session.get(Incident, cid)
    assert incident is not None and incident.due_at and incident.remind_at and incident.accepted_at
    limit = incident.due_at - incident.accepted_at
    assert service.tick(staff.session, now=incident.remind_at - timedelta(seconds=1)) == {
        "reminded": 0,
        "overdue": 0,
        "escalated": 0,
    }
    assert service.tick(staff.session, now=incident.remind_at)["reminded"] == 1
    assert service.tick(staff.session, now=incident.due_at)["overdue"] == 1
    assert incident.level == Level.community
    overdue = client.get(
        "/api/v1/incidents", params={"view": "overdue"}, headers=staff.auth("gh_admin")
    ).json()
    assert [i["id"] for i in overdue["items"]] == [cid]
    assert service.tick(staff.session, now=incident.due_at + limit)["escalated"] == 1
    assert incident.level == Level.street
    # More time asked for and granted: no longer overdue.
    r = move(client, staff, "gh_property", cid, action="extend_ask", note="需要更换电缆", days=3)
    assert r.status_code == 200 and r.json()["extension_days"] == 3
    assert move(client, staff, "gh_property", cid, action="extend_grant").status_code == 403
    r = move(client, staff, "gh_admin", cid, action="extend_grant")
    assert r.json()["extension_asked"] is None
    staff.session.refresh(incident)
    assert incident.due_at is not None and incident.due_at - incident.accepted_at > limit
    actions = [e["action"] for e in r.json()["timeline"]]
    assert actions[-5:] == ["reminded", "overdue", "escalated", "extend_ask", "extend_grant"]
    # The street supervises; a community admin may not.
    assert move(client, staff, "gh_admin", cid, action="supervise").status_code == 403
    r = move(client, staff, "street_admin", cid, action="supervise", note="请于周五前办结")
    assert r.json()["supervised"] is True and r.json()["level"] == Level.street


def close_case(client: TestClient, world: World, cid: int) -> None:
    for user, body, photos in (
        ("gh_admin", {"action": "accept"}, None),
        ("gh_admin", {"action": "assign", "assignee": "物业"}, None),
        ("gh_admin", {"action": "done"}, [jpeg()]),
        ("gh_grid", {"action": "verify"}, None),
        ("gh_admin", {"action": "close"}, None),
    ):
        r = move(client, world, user, cid, photos=photos, **body)
        assert r.status_code == 200, (body, r.text)


def test_not_fixed_reopens_once_then_goes_to_the_community(
    client: TestClient, staff: World
) -> None:
    case = report(client, None, user=None, reporter_phone="13800001111", notify_sms=True).json()
    token = case["token"]
    r = client.post(f"/api/v1/public/incidents/{token}/rating", json={"rating": "satisfied"})
    assert r.status_code == 409  # not closed yet
    close_case(client, staff, case["id"])
    mine = client.get(f"/api/v1/public/incidents/{token}").json()
    assert mine["may_rate"] is True and len(mine["photos"]) == 1  # the after-photo
    r = client.post(
        f"/api/v1/public/incidents/{token}/rating",
        json={"rating": "unsatisfied", "fixed": False, "note": "还在充"},
    )
    assert r.json()["state"] == "assigned"
    incident = staff.session.get(Incident, case["id"])
    assert incident is not None
    staff.session.refresh(incident)
    assert incident.reopened == 1 and incident.is_open
    for user, body, photos in (
        ("gh_admin", {"action": "done"}, [jpeg()]),
        ("gh_grid", {"action": "verify"}, None),
        ("gh_admin", {"action": "close"}, None),
    ):
        assert move(client, staff, user, case["id"], photos=photos, **body).status_code == 200
    r = client.post(
        f"/api/v1/public/incidents/{token}/rating", json={"rating": "unsatisfied", "fixed": False}
    )
    assert r.json()["state"] == "accepted"
    staff.session.refresh(incident)
    assert incident.assignee is None and incident.level >= Level.community
    steps = [e["action"] for e in r.json()["steps"]]
    assert steps.count("rated") == 2 and "reopen" in steps and "to_community" in steps


def test_the_reporter_may_check_the_work_on_site(client: TestClient, staff: World) -> None:
    case = report(client, None, user=None).json()
    for body, photos in (
        ({"action": "accept"}, None),
        ({"action": "assign", "assignee": "物业"}, None),
        ({"action": "done"}, [jpeg()]),
    ):
        move(client, staff, "gh_admin", case["id"], photos=photos, **body)
    r = client.post(
        f"/api/v1/public/incidents/{case['token']}/check", json={"rating": "fair", "fixed": False}
    )
    assert r.json()["state"] == "in_hand"
    move(client, staff, "gh_admin", case["id"], photos=[jpeg()], action="done")
    r = client.post(f"/api/v1/public/incidents/{case['token']}/check", json={"rating": "fair"})
    assert r.json()["state"] == "verified"


def test_who_sees_what(client: TestClient, staff: World) -> None:
    mine = report(client, staff, user="gh_patrol").json()
    assert mine["channel"] == "patrol"
    other = report(client, staff, user="gh_grid").json()
    seen = client.get("/api/v1/incidents", headers=staff.auth("gh_patrol")).json()
    assert [i["id"] for i in seen["items"]] == [mine["id"]]  # their own report only
    assert (
        client.get(f"/api/v1/incidents/{other['id']}", headers=staff.auth("gh_patrol")).status_code
        == 404
    )
    assert move(client, staff, "gh_patrol", mine["id"], action="accept").status_code == 403
    hg = client.get("/api/v1/incidents", headers=staff.auth("hg_admin")).json()
    assert hg["total"] == 0
    street = client.get("/api/v1/incidents", headers=staff.auth("street_admin")).json()
    assert street["total"] == 2


def test_public_reports_are_rate_limited_per_address(client: TestClient, staff: World) -> None:
    from pingan.limits import Window

    client.app.state.public_reports = Window(3, 3600)  # type: ignore[attr-defined]
    assert report(client, None, user=None).status_code == 201
    # A bad attempt counts too: its photos cost the platform as much as a good one's.
    assert report(client, None, user=None, kind="fire.dragons").status_code == 422
    assert report(client, None, user=None).status_code == 201
    r = report(client, None, user=None)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert count(staff) == 2  # nothing more is written


def test_the_catalogue_is_the_street_s_to_edit(client: TestClient, staff: World) -> None:
    shipped = client.get("/api/v1/incident-catalogue").json()
    assert shipped["version"] == 0
    edited = json.loads(json.dumps({"categories": shipped["categories"]}))
    edited["categories"][0]["kinds"][0]["limit"] = {"hours": 1}
    r = client.put("/api/v1/incident-catalogue", json=edited, headers=staff.auth("gh_admin"))
    assert r.status_code == 403
    r = client.put("/api/v1/incident-catalogue", json=edited, headers=staff.auth("street_admin"))
    assert r.status_code == 200 and r.json()["version"] > 0
    assert client.get("/api/v1/incident-catalogue").json()["categories"][0]["kinds"][0][
        "limit"
    ] == {
        "hours": 1.0,
        "days": None,
    }
    # A kind open cases have cannot go.
    report(client, staff)
    fire = next(c for c in edited["categories"] if c["code"] == "fire")
    fire["kinds"] = [k for k in fire["kinds"] if k["code"] != "ebike_indoor"]
    r = client.put("/api/v1/incident-catalogue", json=edited, headers=staff.auth("street_admin"))
    assert r.status_code == 409 and "fire.ebike_indoor" in r.json()["detail"]
    bad = json.loads(json.dumps(edited))
    bad["categories"][0]["kinds"][0]["handler"] = "mayor"
    r = client.put("/api/v1/incident-catalogue", json=bad, headers=staff.auth("street_admin"))
    assert r.status_code == 422


def test_a_case_near_a_street_goes_to_its_chief(client: TestClient, staff: World) -> None:
    add_user(staff, "chief", Role.street_chief, "street")
    add_user(staff, "officer", Role.city_officer, "street")
    staff.session.flush()
    line = {
        "type": "LineString",
        "coordinates": [[103.800, 30.6852], [103.830, 30.6852]],
    }
    body = {
        "name": "光华大道",
        "geometry": line,
        "node_id": staff.nodes["street"],
        "chief_user_id": staff.users["chief"],
        "officer_user_id": staff.users["officer"],
    }
    r = client.post("/api/v1/street-lines", json=body, headers=staff.auth("gh_admin"))
    assert r.status_code == 403
    r = client.post("/api/v1/street-lines", json=body, headers=staff.auth("street_admin"))
    assert r.status_code == 201, r.text
    street = r.json()
    assert sorted(street["communities"]) == sorted([staff.nodes["gh"], staff.nodes["hg"]])
    assert street["chief"] == "chief"
    [audited] = _entries(client, staff, entity="street_lines", entity_id=str(street["id"]))
    assert audited["after"]["chief_user_id"] == staff.users["chief"]
    on_it = report(client, staff, lat=30.6853).json()  # about 11 m from the line
    off_it = report(client, staff, lat=30.6845).json()  # about 78 m
    assert on_it["street_line_id"] == street["id"] and off_it["street_line_id"] is None
    seen = client.get("/api/v1/incidents", headers=staff.auth("chief")).json()
    assert [i["id"] for i in seen["items"]] == [on_it["id"]]
    assert (
        client.get(f"/api/v1/incidents/{off_it['id']}", headers=staff.auth("chief")).status_code
        == 404
    )
    # The officer may be given it, and handle it.
    move(client, staff, "street_admin", on_it["id"], action="accept")
    r = move(
        client,
        staff,
        "street_admin",
        on_it["id"],
        action="assign",
        assignee_user_id=staff.users["officer"],
    )
    assert r.status_code == 200, r.text
    assert move(client, staff, "officer", on_it["id"], action="take").json()["state"] == "in_hand"
    bad = {**body, "geometry": {"type": "Point", "coordinates": [103.8, 30.68]}}
    r = client.post("/api/v1/street-lines", json=bad, headers=staff.auth("street_admin"))
    assert r.status_code == 422 and "LineString" in r.json()["detail"]


def test_the_figures_count_what_happened(client: TestClient, staff: World) -> None:
    on_time = report(client, staff).json()
    close_case(client, staff, on_time["id"])
    late = report(client, staff, kind="environment.exposed_rubbish", attributes={}).json()
    move(client, staff, "gh_admin", late["id"], action="accept")
    row = staff.session.get(Incident, late["id"])
    assert row is not None
    row.due_at = row.remind_at = utcnow() - timedelta(hours=1)  # its limit has passed
    staff.session.flush()
    assert service.tick(staff.session)["overdue"] == 1
    move(client, staff, "gh_admin", late["id"], action="assign", assignee="环卫所")
    close_case_rest = [
        ("gh_admin", {"action": "done"}, [jpeg()]),
        ("gh_grid", {"action": "verify"}, None),
        ("gh_admin", {"action": "close"}, None),
    ]
    for user, body, photos in close_case_rest:
        assert move(client, staff, user, late["id"], photos=photos, **body).status_code == 200
    assert report(client, None, user=None, reporter_phone="13800001111").status_code == 201
    r = client.post(
        f"/api/v1/public/incidents/{on_time['token']}/rating", json={"rating": "satisfied"}
    )
    assert r.status_code == 200

    def figure(name: str, user: str = "gh_admin") -> dict[str, Any]:
        r = client.get(f"/api/v1/figures/{name}", headers=staff.auth(user))
        assert r.status_code == 200, r.text
        return dict(r.json())

    outcomes = {row[0]: row[1] for row in figure("incident_outcomes")["rows"]}
    assert outcomes["上报"] == 3 and outcomes["已结案"] == 2
    assert outcomes["按时办结率"] == 0.5  # one in time, one done after its limit
    assert outcomes["满意率（含基本满意）"] == 1.0 and outcomes["评价数"] == 1
    assert outcomes["当前超期"] == 0
    channels = {row[0]: row[1] for row in figure("incidents_by_channel")["rows"]}
    assert channels == {"网格员巡查": 2, "居民上报": 1}
    [fire] = [r for r in figure("incidents_by_category")["rows"] if r[0] == "消防隐患"]
    assert fire[1:] == [2, 1, 1, 1.0]
    times = {row[0]: row for row in figure("incident_times")["rows"]}
    assert times["立案用时"][1] == 2 and times["结案用时"][1] == 2
    assert figure("incidents_by_grid")["rows"][0][:2] == ["光华第1网格", 3]
    # 红光 sees none of it; the CSV has the same numbers, in English when asked.
    assert {row[0]: row[1] for row in figure("incident_outcomes", "hg_admin")["rows"]}["上报"] == 0
    r = client.get(
        "/api/v1/figures/incident_outcomes.csv",
        headers={**staff.auth("gh_admin"), "Accept-Language": "en"},
    )
    assert "On-time rate,0.5,ratio" in r.text


def test_reporters_who_asked_and_handlers_are_told(client: TestClient, staff: World) -> None:
    from pingan.alarms.models import Notification
    from pingan.alarms.rules import RuleBook

    def told() -> list[tuple[str, str | None, str]]:
        rows = staff.session.scalars(select(Notification).order_by(Notification.id)).all()
        return [(n.event, n.recipient, n.message["link"]) for n in rows if n.message]

    asked = report(client, None, user=None, reporter_phone="13800001111", notify_sms=True).json()
    quiet = report(client, None, user=None, reporter_phone="13800002222").json()
    near = {"lon": IN_GH["lon"] + 0.0001, "lat": IN_GH["lat"]}
    joined = report(client, None, user=None, reporter_phone="13800003333", notify_sms=True, **near)
    joined_case = joined.json()
    move(client, staff, "gh_admin", joined_case["id"], action="merge", target_id=asked["id"])
    close_case(client, staff, asked["id"])
    mine = f"/m/case/{asked['token']}"
    theirs = f"/m/case/{joined_case['token']}"
    assert [t for t in told() if t[1] == "13800001111"] == [
        ("incident.changed", "13800001111", mine)
    ] * 3  # accepted, done (please check), closed
    # The merged reporter heard of the merge and of the case's closing; the quiet one, nothing.
    assert [t[0] for t in told() if t[1] == "13800003333"] == ["incident.changed"] * 4
    assert {t[2] for t in told() if t[1] == "13800003333"} == {theirs}
    assert not [t for t in told() if t[1] == "13800002222"]
    del quiet
    # Overdue: the handler's number and the centre's channels told of every alarm.
    from pingan.auth.models import User

    property_manager = staff.session.get(User, staff.users["gh_property"])
    assert property_manager is not None
    property_manager.phone = "13900009999"
    late = report(client, staff).json()
    move(client, staff, "gh_admin", late["id"], action="accept")
    move(
        client,
        staff,
        "gh_admin",
        late["id"],
        action="assign",
        assignee_user_id=staff.users["gh_property"],
    )
    row = staff.session.get(Incident, late["id"])
    assert row is not None and row.due_at is not None
    rules = RuleBook.load(None)
    service.tick(staff.session, now=row.due_at, rules=rules)
    events = [(t[0], t[1]) for t in told() if t[2] == f"/incidents/{late['id']}"]
    assert ("incident.reminded", "13900009999") in events
    assert ("incident.overdue", "13900009999") in events


def test_a_missed_checkpoint_and_a_call_to_the_centre(client: TestClient, staff: World) -> None:
    from pingan.auth.principal import SYSTEM
    from pingan.patrol import service as patrol_service
    from pingan.patrol.schemas import CheckpointIn, RouteIn, TeamIn

    team = patrol_service.create_team(
        staff.session,
        actor=SYSTEM,
        data=TeamIn(kind="volunteers", name="光华巡逻队", node_id=staff.nodes["gh"]),
    )
    route = patrol_service.create_route(
        staff.session,
        actor=SYSTEM,
        data=RouteIn(
            team_id=team.id,
            name="夜巡",
            duration_min=30,
            checkpoints=[CheckpointIn(name="北门", lon=103.806, lat=30.686, due_min=10)],
        ),
    )
    [checkpoint] = patrol_service.checkpoints(staff.session, route=route)
    staff.session.flush()
    r = report(
        client,
        staff,
        user="gh_patrol",
        kind="facilities.access_control",
        attributes={},
        lon=None,
        lat=None,
        checkpoint_id=checkpoint.id,
        description="北门锁坏了，进不去签到",
    )
    assert r.status_code == 201, r.text
    case = r.json()
    assert case["channel"] == "patrol_exception" and case["checkpoint_id"] == checkpoint.id
    assert (case["lon"], case["lat"]) == (103.806, 30.686)  # the checkpoint's place
    r = report(client, staff, user="hg_grid", checkpoint_id=checkpoint.id)
    assert r.status_code == 404  # a checkpoint of another community's route
    # The centre takes a call: the caller's number, masked in every answer.
    r = report(client, staff, user="gh_operator", reporter_phone="13912345678", reporter_name="刘")
    assert r.status_code == 201 and r.json()["channel"] == "hotline"
    assert r.json()["reporter_phone"] == "139****5678"
    listed = client.get("/api/v1/incidents", headers=staff.auth("gh_admin")).json()["items"]
    assert "13912345678" not in json.dumps(listed)


def test_a_closing_is_rated_once(client: TestClient, staff: World) -> None:
    case = report(client, None, user=None).json()
    close_case(client, staff, case["id"])
    url = f"/api/v1/public/incidents/{case['token']}/rating"
    assert client.post(url, json={"rating": "satisfied"}).status_code == 200
    r = client.post(url, json={"rating": "unsatisfied", "fixed": False})
    assert r.status_code == 409 and "尚未评价" in r.json()["detail"]


def test_open_cases_on_the_map_by_age(client: TestClient, staff: World) -> None:
    open_case = report(client, staff).json()
    done = report(client, staff, lon=IN_GH["lon"] + 0.001).json()
    close_case(client, staff, done["id"])
    r = client.get("/api/v1/map/incidents", headers=staff.auth("gh_admin"))
    assert r.status_code == 200
    [feature] = r.json()["features"]
    assert feature["properties"]["id"] == open_case["id"]
    assert feature["properties"]["age_days"] == 0 and feature["properties"]["overdue"] is False
    assert feature["geometry"]["coordinates"] == [IN_GH["lon"], IN_GH["lat"]]
    assert (
        client.get("/api/v1/map/incidents", headers=staff.auth("hg_admin")).json()["features"] == []
    )
