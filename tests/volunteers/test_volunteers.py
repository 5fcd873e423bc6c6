"""Volunteer service against the real database: a resident signs up from the phone, the
community confirms them (linked to the person of the territory with that phone), an activity is
set with its code, the volunteer signs up, checks in on the spot and out, and the hours count —
beside the hours their patrol runs give — up the recognition levels; a check-in out of time or
place is kept, flagged and counted only once accepted; hours exported as XLSX; scope and bad
input refused with the reason and nothing written."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import func, select

from pingan.auth.models import AuditEntry
from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.patrol.models import Run
from pingan.territory.models import Person
from pingan.volunteers import service
from pingan.volunteers.models import Attendance, Volunteer
from tests.auth.test_audit import _entries
from tests.conftest import World, add_user
from tests.patrol.test_patrol import patrol, walk_first_checkpoint_only
from tests.web.test_console import page

__all__ = ["patrol"]  # fixture

PLACE = {"lon": 103.805, "lat": 30.685}  # 光华苑's east gate
FAR = {"lon": 103.82, "lat": 30.70}  # two kilometres off


class Clock:
    """The service's clock, moved by the test (a check-out an hour after the check-in)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = utcnow()
        monkeypatch.setattr(service, "utcnow", lambda: self.now)

    def pass_(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def programme_id(client: TestClient, code: str = "red_armband") -> int:
    found = {p["code"]: p["id"] for p in client.get("/api/v1/volunteer-programmes").json()}
    return found[code]


def sign_up(client: TestClient, world: World, **extra: Any) -> Any:
    body = {
        "name": "张红",
        "phone": "13912345678",
        "community_id": world.nodes["gh"],
        "programme_id": programme_id(client),
        **extra,
    }
    return client.post("/api/v1/public/volunteers", json=body)


def decide(client: TestClient, world: World, vid: int, user: str = "gh_admin", **body: Any) -> Any:
    return client.post(
        f"/api/v1/volunteers/{vid}/decision",
        json={"decision": "confirm", **body},
        headers=world.auth(user),
    )


def activity(client: TestClient, world: World, user: str = "gh_admin", **extra: Any) -> Any:
    now = utcnow()
    body = {
        "kind": "civility",
        "title": "光华苑文明劝导",
        "node_id": world.nodes["gh"],
        "place": "光华苑东门",
        **PLACE,
        "radius_m": 200,
        "starts_at": (now - timedelta(minutes=10)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        **extra,
    }
    return client.post("/api/v1/volunteer-activities", json=body, headers=world.auth(user))


def own(client: TestClient, key: str) -> Any:
    r = client.get("/api/v1/public/volunteers/me", headers={"X-Volunteer-Key": key})
    assert r.status_code == 200, r.text
    return r.json()


def check(client: TestClient, key: str, code: str, action: str = "in", **where: Any) -> Any:
    return client.post(
        "/api/v1/public/volunteers/me/checks",
        json={"code": code, "action": action, **where},
        headers={"X-Volunteer-Key": key},
    )


def test_from_sign_up_to_hours_and_a_level(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 光华's resident with that phone is the person the volunteer becomes.
    resident = world.session.get(Person, world.people["gh"])
    assert resident is not None
    resident.phone = "13912345678"
    world.session.flush()

    r = sign_up(client, world)
    assert r.status_code == 201, r.text
    signed = r.json()
    key, vid = signed["key"], signed["id"]
    assert signed["state"] == "pending" and len(key) >= 20
    stored = world.session.get(Volunteer, vid)
    assert stored is not None and key not in (stored.key_hash, stored.phone)
    page = own(client, key)
    assert page["volunteer"]["state"] == "pending" and page["activities"] == []
    assert page["volunteer"]["phone"] == "139****5678"

    # The community confirms, into a team of the programme.
    team = client.post(
        "/api/v1/volunteer-teams",
        json={
            "programme_id": programme_id(client),
            "node_id": world.nodes["gh"],
            "name": "光华红袖套一队",
        },
        headers=world.auth("gh_admin"),
    )
    assert team.status_code == 201, team.text
    r = decide(client, world, vid, team_id=team.json()["id"], note="已电话核实")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "confirmed" and r.json()["person_id"] == world.people["gh"]

    r = activity(client, world, capacity=2)
    assert r.status_code == 201, r.text
    act = r.json()
    assert len(act["code"]) == 6 and act["code"].isdigit()
    page = own(client, key)
    assert [a["id"] for a in page["activities"]] == [act["id"]]
    assert page["activities"][0]["code"] is None  # the code is shown on the spot, not here
    joined = client.post(
        f"/api/v1/public/volunteers/me/activities/{act['id']}", headers={"X-Volunteer-Key": key}
    )
    assert joined.status_code == 200 and joined.json()["signed_up_at"]

    # On the spot: in, an hour's service, out.
    clock = Clock(monkeypatch)
    r = check(client, key, act["code"], **PLACE)
    assert r.status_code == 200, r.text
    assert r.json()["flags"] == [] and r.json()["accepted"] is True
    assert check(client, key, act["code"], **PLACE).json()["in_at"] == r.json()["in_at"]
    clock.pass_(hours=1)
    r = check(client, key, act["code"], action="out")
    assert r.status_code == 200 and r.json()["minutes"] == 60
    page = own(client, key)
    assert page["hours_activities"] == 1.0 and page["volunteer"]["hours"] == 1.0

    # The street sets its levels low enough for an hour to reach the first.
    r = client.put(
        "/api/v1/volunteer-levels",
        json={"levels": [{"name": "新星", "hours": 1}, {"name": "骨干", "hours": 50}]},
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 200, r.text
    page = own(client, key)
    assert page["volunteer"]["level"] == "新星" and page["next_level"] == {
        "name": "骨干",
        "hours": 50,
    }
    assert (
        client.put(
            "/api/v1/volunteer-levels",
            json={"levels": [{"name": "x", "hours": 1}]},
            headers=world.auth("gh_admin"),
        ).status_code
        == 403
    )  # the street's
    listed = client.get("/api/v1/volunteers", headers=world.auth("gh_admin")).json()["items"]
    assert [(v["name"], v["hours"], v["level"]) for v in listed] == [("张红", 1.0, "新星")]
    assert _entries(client, world, entity="volunteers")
    assert _entries(client, world, entity="volunteer_activities")
    assert _entries(client, world, entity="volunteer_levels")


def test_patrol_hours_count_beside_activities(
    client: TestClient, world: World, patrol: dict[str, Any]
) -> None:
    resident = world.session.get(Person, world.people["gh"])
    assert resident is not None
    resident.phone = "13912345678"
    world.session.flush()
    run, _done = walk_first_checkpoint_only(client, world, patrol)
    row = world.session.get(Run, run["id"])
    assert row is not None and row.finished_at is not None
    row.started_at = row.finished_at - timedelta(minutes=45)
    world.session.flush()
    key = sign_up(client, world).json()["key"]
    vid = own(client, key)["volunteer"]["id"]
    assert decide(client, world, vid).status_code == 200
    page = own(client, key)
    assert page["hours_patrol"] == 0.75 and page["volunteer"]["hours"] == 0.75


def test_check_ins_out_of_time_or_place_are_flagged_then_decided(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = []
    for n in range(4):
        signed = sign_up(client, world, name=f"志愿者{n}", phone=f"1390000000{n}").json()
        assert decide(client, world, signed["id"]).status_code == 200
        keys.append(signed["key"])
    now = utcnow()
    later = activity(
        client,
        world,
        starts_at=(now + timedelta(hours=3)).isoformat(),
        ends_at=(now + timedelta(hours=5)).isoformat(),
    ).json()
    ended = activity(
        client,
        world,
        title="昨晚的巡逻",
        kind="patrol",
        starts_at=(now - timedelta(hours=5)).isoformat(),
        ends_at=(now - timedelta(hours=3)).isoformat(),
    ).json()
    current = activity(client, world).json()
    got = {
        "early": check(client, keys[0], later["code"], **PLACE).json(),
        "after_end": check(client, keys[1], ended["code"], **PLACE).json(),
        "far": check(client, keys[2], current["code"], **FAR).json(),
        "no_position": check(client, keys[3], current["code"]).json(),
    }
    for flag, row in got.items():
        assert row["flags"] == [flag] and row["accepted"] is None, (flag, row)
    flagged = page(client, world, "gh_admin", "/volunteers")
    assert flagged.status_code == 200 and 'id="flagged"' in flagged.text
    # Kept, and counted only once accepted.
    clock = Clock(monkeypatch)
    clock.pass_(minutes=30)
    assert check(client, keys[2], current["code"], action="out").json()["minutes"] == 30
    assert own(client, keys[2])["volunteer"]["hours"] == 0  # served, not yet counted
    far_id = got["far"]["id"]
    r = client.post(
        f"/api/v1/volunteer-attendances/{far_id}/decision",
        json={"accept": True},
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 200 and r.json()["accepted"] is True and r.json()["minutes"] == 30
    assert own(client, keys[2])["volunteer"]["hours"] == 0.5
    r = client.post(
        f"/api/v1/volunteer-attendances/{got['after_end']['id']}/decision",
        json={"accept": False},
        headers=world.auth("gh_admin"),
    )
    assert r.json()["accepted"] is False and r.json()["minutes"] == 0
    # Never checked out, accepted: to the activity's end.
    r = client.post(
        f"/api/v1/volunteer-attendances/{got['no_position']['id']}/decision",
        json={"accept": True},
        headers=world.auth("gh_admin"),
    )
    assert r.json()["out_at"] is not None and 115 <= r.json()["minutes"] <= 120
    r = client.post(
        f"/api/v1/volunteer-attendances/{far_id}/decision",
        json={"accept": True},
        headers=world.auth("hg_admin"),
    )
    assert r.status_code == 404


def test_hours_as_xlsx(client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    signed = sign_up(client, world).json()
    assert decide(client, world, signed["id"]).status_code == 200
    act = activity(client, world).json()
    clock = Clock(monkeypatch)
    check(client, signed["key"], act["code"], **PLACE)
    clock.pass_(minutes=90)
    check(client, signed["key"], act["code"], action="out")
    r = client.get("/api/v1/volunteers/hours.xlsx", headers=world.auth("gh_admin"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(r.content))
    sheet = book.active
    assert sheet is not None and sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("姓名", "手机号", "社区")
    [row] = rows[1:]
    assert row[0] == "张红" and row[1] == "13912345678" and row[2] == "光华社区"
    assert isinstance(row[5], datetime) and row[6] == 1.5 and row[8] == 1.5
    exported = world.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "export", AuditEntry.entity == "volunteers")
    ).all()
    assert exported and exported[-1].after == {"rows": 1, "phones": "whole"}
    assert (
        client.get("/api/v1/volunteers/hours.xlsx", headers=world.auth("hg_admin")).status_code
        == 200
    )
    r = client.get(
        "/api/v1/volunteers/hours.xlsx?start=2026-05-01&end=2025-01-01",
        headers=world.auth("gh_admin"),
    )
    assert r.status_code == 422


def test_scope_and_bad_input(client: TestClient, world: World) -> None:
    add_user(world, "gh_patrol", Role.patrol_member, "gh")
    signed = sign_up(client, world).json()
    vid = signed["id"]
    refused = {
        "a phone that is no mobile": ({"phone": "12345"}, 422, "phone"),
        "the same phone twice": ({}, 409, "已经报名"),
        "a grid, not a community": ({"community_id": world.nodes["gh_grid"]}, 422, "社区"),
        "no programme": ({"programme_id": 999}, 422, "项目"),
        "no name": ({"name": "  "}, 422, "name"),
    }
    for why, (extra, status, words) in refused.items():
        r = sign_up(client, world, **extra)
        assert r.status_code == status, (why, r.text)
        assert words in r.text, (why, r.json())
    assert world.session.scalar(select(func.count(Volunteer.id))) == 1
    # Before the community confirms: no activity, no check-in.
    act = activity(client, world).json()
    r = check(client, signed["key"], act["code"], **PLACE)
    assert r.status_code == 409 and "确认" in r.json()["detail"]
    # Another community's admin neither sees nor decides; a patrol member has no desk.
    assert decide(client, world, vid, "hg_admin").status_code == 404
    assert client.get("/api/v1/volunteers", headers=world.auth("gh_patrol")).status_code == 403
    hg_list = client.get("/api/v1/volunteers", headers=world.auth("hg_admin")).json()
    assert hg_list["total"] == 0
    assert decide(client, world, vid).status_code == 200
    assert decide(client, world, vid).status_code == 409  # confirmed already
    assert decide(client, world, vid, decision="refuse").status_code == 409
    key = signed["key"]
    assert check(client, key, "000000").status_code in (422, 200)
    wrong = "999999" if act["code"] != "999999" else "999998"
    r = check(client, key, wrong)
    assert r.status_code == 422 and "签到码" in r.json()["detail"]
    assert check(client, key, act["code"], action="out").status_code == 409  # not in yet
    r = client.get("/api/v1/public/volunteers/me", headers={"X-Volunteer-Key": "not-a-key"})
    assert r.status_code == 404
    now = utcnow()
    bad_activities = {
        "an end before the start": (
            {"ends_at": (now - timedelta(hours=1)).isoformat()},
            "结束时间",
        ),
        "a grid event to a civility activity": ({"incident_id": 1}, "incident_id"),
        "another community's place": ({"node_id": world.nodes["hg"]}, ""),
        "a position without its latitude": ({"lat": None}, "lat"),
    }
    for why, (extra, words) in bad_activities.items():
        r = activity(client, world, **extra)
        assert r.status_code in (404, 422), (why, r.text)
        assert words in r.text, (why, r.json())
    # A full activity takes no more sign-ups.
    small = activity(client, world, capacity=1).json()
    other = sign_up(client, world, phone="13800000001", name="李蓝").json()
    assert decide(client, world, other["id"]).status_code == 200
    first = client.post(
        f"/api/v1/public/volunteers/me/activities/{small['id']}", headers={"X-Volunteer-Key": key}
    )
    assert first.status_code == 200
    second = client.post(
        f"/api/v1/public/volunteers/me/activities/{small['id']}",
        headers={"X-Volunteer-Key": other["key"]},
    )
    assert second.status_code == 409 and "已满" in second.json()["detail"]
    r = client.put(
        "/api/v1/volunteer-levels",
        json={"levels": [{"name": "a", "hours": 5}, {"name": "b", "hours": 5}]},
        headers=world.auth("street_admin"),
    )
    assert r.status_code == 422
    assert world.session.scalar(select(func.count(Attendance.id))) == 1


def test_sign_ups_are_rate_limited_per_address(client: TestClient, world: World) -> None:
    statuses = [sign_up(client, world, phone=f"1370000{n:04d}").status_code for n in range(12)]
    assert statuses[:10] == [201] * 10 and statuses[10] == 429


def test_the_street_adds_a_programme(client: TestClient, world: World) -> None:
    body = {"code": "silver_pioneer", "name": "银发先锋", "description": "低龄老人结对帮扶高龄老人"}
    r = client.post("/api/v1/volunteer-programmes", json=body, headers=world.auth("gh_admin"))
    assert r.status_code == 403
    r = client.post("/api/v1/volunteer-programmes", json=body, headers=world.auth("street_admin"))
    assert r.status_code == 201 and not r.json()["builtin"]
    added = r.json()["id"]
    r = client.post("/api/v1/volunteer-programmes", json=body, headers=world.auth("street_admin"))
    assert r.status_code == 409 and "silver_pioneer" in r.json()["detail"]
    listed = [p["name"] for p in client.get("/api/v1/volunteer-programmes").json()]
    assert listed == ["红袖套", "蓝马甲", "橙丝带", "银发先锋"]
    assert sign_up(client, world, programme_id=added).status_code == 201
    assert _entries(client, world, entity="volunteer_programmes")


def test_the_volunteers_figure_and_the_target_measure(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed = sign_up(client, world).json()
    sign_up(client, world, name="李蓝", phone="13800000002")
    assert decide(client, world, signed["id"]).status_code == 200
    act = activity(client, world).json()
    clock = Clock(monkeypatch)
    check(client, signed["key"], act["code"], **PLACE)
    clock.pass_(minutes=45)
    check(client, signed["key"], act["code"], action="out")
    r = client.get("/api/v1/figures/volunteers", headers=world.auth("gh_admin"))
    assert r.status_code == 200, r.text
    # community, programme, confirmed, pending, activities, hours (activities, patrol)
    assert r.json()["rows"] == [
        ["光华社区", "不限", 0, 0, 1, 0.0, 0.0],  # the activity was of no programme
        ["光华社区", "红袖套", 1, 1, 0, 0.75, 0.0],
    ]
    csv = client.get("/api/v1/figures/volunteers.csv", headers=world.auth("gh_admin"))
    assert csv.status_code == 200 and "community,programme,confirmed" in csv.text
    assert (
        client.get("/api/v1/figures/volunteers", headers=world.auth("hg_admin")).json()["rows"]
        == []
    )
    target = client.post(
        "/api/v1/targets",
        json={
            "name": "注册志愿者",
            "definition": "在册志愿者",
            "unit": "名",
            "target_value": 100,
            "starts_on": (utcnow() - timedelta(days=30)).date().isoformat(),
            "deadline": (utcnow() + timedelta(days=300)).date().isoformat(),
            "node_id": world.nodes["street"],
            "measure": "volunteers_registered",
        },
        headers=world.auth("street_admin"),
    )
    assert target.status_code == 201 and target.json()["standing"]["value"] == 1


def test_another_community_s_activity_is_not_found(client: TestClient, world: World) -> None:
    signed = sign_up(client, world).json()
    assert decide(client, world, signed["id"]).status_code == 200
    theirs = activity(client, world, "hg_admin", node_id=world.nodes["hg"]).json()
    r = client.post(
        f"/api/v1/public/volunteers/me/activities/{theirs['id']}",
        headers={"X-Volunteer-Key": signed["key"]},
    )
    assert r.status_code == 404
    ended = activity(
        client,
        world,
        starts_at=(utcnow() - timedelta(hours=3)).isoformat(),
        ends_at=(utcnow() - timedelta(hours=1)).isoformat(),
    ).json()
    r = client.post(
        f"/api/v1/public/volunteers/me/activities/{ended['id']}",
        headers={"X-Volunteer-Key": signed["key"]},
    )
    assert r.status_code == 409 and "已结束" in r.json()["detail"]
