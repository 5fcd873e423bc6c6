"""Physical defence against the real database: the checklist as data, a site's sheet with its
devices as evidence, the register kept by staff, inspections from the phone — a failed item
opening a grid event that keeps it a defect until the event is closed as verified — their
schedule, and bad input refused with nothing written."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.datafile import DataFileError
from pingan.db.base import utcnow
from pingan.facilities import checklist, service
from pingan.facilities.models import FacilityItem, Inspection
from pingan.incidents.catalogue import shipped as shipped_catalogue
from pingan.incidents.models import Incident
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, SiteType
from pingan.territory.schemas import NodeCreate
from tests.auth.test_audit import _entries
from tests.conftest import World, add_device, add_user
from tests.incidents.test_incidents import jpeg, move


@pytest.fixture()
def staff(world: World) -> World:
    add_user(world, "gh_grid", Role.grid_officer, "gh_grid")
    add_user(world, "gh_property", Role.site_manager, "gh_site")
    add_user(world, "gh_inspector", Role.inspector, "gh")
    add_user(world, "hg_grid", Role.grid_officer, "hg_grid")
    world.nodes["gh_old"] = territory_service.create(
        world.session,
        actor=SYSTEM,
        data=NodeCreate(
            kind=NodeKind.site,
            parent_id=world.nodes["gh_grid"],
            name="光华15号院",
            site_type=SiteType.old_courtyard,
            lon=103.806,
            lat=30.686,
        ),
    ).id
    world.session.flush()
    return world


def codes(site_type: SiteType, kind: str = "routine") -> list[str]:
    book = checklist.shipped()
    found = book.inspection(kind)
    assert found is not None
    return [f"{g.code}.{i.code}" for g, i in book.for_site(site_type, found)]


def inspection(
    site_id: int,
    site_type: SiteType = SiteType.commercial_residential,
    failed: dict[str, str] | None = None,
    kind: str = "routine",
    at: datetime | None = None,
    key: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Every item present but those in `failed` (code → missing | broken)."""
    failed = failed or {}
    return {
        "client_key": key or uuid.uuid4().hex,
        "site_id": site_id,
        "kind": kind,
        "at": (at or utcnow() - timedelta(minutes=5)).isoformat(),
        "answers": [
            {"code": code, "status": failed.get(code, "present")}
            | ({"photos": [0], "note": "三楼两具过期"} if code in failed else {})
            for code in codes(site_type, kind)
        ],
        **extra,
    }


def send(client: TestClient, world: World, user: str, body: dict[str, Any], photos: int = 0) -> Any:
    files = [("photos", (f"p{i}.jpg", jpeg(), "image/jpeg")) for i in range(photos)]
    return client.post(
        "/api/v1/inspections",
        data={"inspection": json.dumps(body)},
        files=files or None,
        headers=world.auth(user),
    )


def sheet(client: TestClient, world: World, site: str, user: str = "gh_admin") -> Any:
    r = client.get(f"/api/v1/facilities/sites/{world.nodes[site]}", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def item_of(found: dict[str, Any], code: str) -> dict[str, Any]:
    return next(i for i in found["items"] if i["code"] == code)


def test_the_shipped_checklist_is_whole_and_each_item_cites_its_clause() -> None:
    book = checklist.shipped()
    book.check_incidents(shipped_catalogue())
    for site_type in SiteType:
        level = book.default_level[site_type]
        assert any(i.required(site_type, level) for _g, i in book.items()), site_type
    for _group, item in book.items():
        assert item.clause and item.requirement and item.source
    old = codes(SiteType.old_courtyard)
    assert "duty.guard_room" in old and "fire.extinguishers" in old and "video.lifts" not in old
    assert codes(SiteType.old_courtyard, "fire") == [c for c in old if c.startswith("fire.")]
    [bundle] = book.bundles
    assert set(bundle.codes()) == {
        "duty.guard_room",
        "fire.extinguishers",
        "fire.fire_lanes",
        "entrance.access_control",
    }
    text = (Path(checklist.__file__).parent / "checklist.yaml").read_text("utf-8")
    broken = text.replace("levels: [1, 2, 3]", "levels: [4]", 1)
    with pytest.raises(DataFileError, match=r"line \d+: groups.0.items.0.levels"):
        checklist.parse(broken)


def test_the_checklist_is_the_street_s_to_edit(client: TestClient, staff: World) -> None:
    r = client.get("/api/v1/facility-checklist", headers=staff.auth("gh_inspector"))
    assert r.status_code == 200 and r.json()["version"] == 0
    body = r.json()["checklist"]
    body["groups"][0]["items"][0]["requirement"] = "围墙高度不低于 2.0 m"
    r = client.put(
        "/api/v1/facility-checklist",
        json={"checklist": body, "note": "本街道从严"},
        headers=staff.auth("gh_admin"),
    )
    assert r.status_code == 403  # a community's admin: not the street's checklist
    bad = json.loads(json.dumps(body))
    bad["groups"][0]["items"][0]["incident"] = "facilities.moat"
    r = client.put(
        "/api/v1/facility-checklist", json={"checklist": bad}, headers=staff.auth("street_admin")
    )
    assert r.status_code == 422 and "facilities.moat" in r.json()["detail"]
    r = client.put(
        "/api/v1/facility-checklist",
        json={"checklist": body, "note": "本街道从严"},
        headers=staff.auth("street_admin"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] >= 1
    found = sheet(client, staff, "gh_site")
    assert item_of(found, "perimeter.wall")["requirement"] == "围墙高度不低于 2.0 m"
    [audited] = _entries(client, staff, entity="facility_checklists")
    assert audited["after"]["note"] == "本街道从严"


def test_a_site_s_sheet_shows_its_devices_as_evidence(client: TestClient, staff: World) -> None:
    add_device(staff, "cam-east", node="gh_site", kind="camera", location="东门岗")
    add_device(staff, "cam-lift", node="gh_bld", kind="camera", location="1栋电梯")
    add_device(staff, "door-east", node="gh_site", kind="access_controller", location="东门")
    found = sheet(client, staff, "gh_site", "gh_property")
    assert found["level"] == 2 and found["required"] > 10 and found["completeness"] == 0
    entrances = item_of(found, "video.entrances")
    assert [e["name"] for e in entrances["evidence"]] == ["cam-east"]
    assert [e["name"] for e in item_of(found, "video.lifts")["evidence"]] == ["cam-lift"]
    assert [e["name"] for e in item_of(found, "entrance.access_control")["evidence"]] == [
        "door-east"
    ]
    assert entrances["status"] == "unknown" and "GB/T 21741-2021" in entrances["clause"]
    assert [d["kind"] for d in found["due"]] == ["routine", "fire"]
    assert all(d["overdue"] for d in found["due"])  # never inspected
    # Another community's officer does not see it: 404, as if it did not exist.
    r = client.get(
        f"/api/v1/facilities/sites/{staff.nodes['gh_site']}", headers=staff.auth("hg_grid")
    )
    assert r.status_code == 404
    r = client.get(
        f"/api/v1/facilities/sites/{staff.nodes['gh_bld']}", headers=staff.auth("gh_admin")
    )
    assert r.status_code == 404  # a building has no sheet of its own


def put_item(
    client: TestClient, world: World, user: str, code: str, photos: int = 0, **body: Any
) -> Any:
    files = [("photos", (f"i{i}.jpg", jpeg(), "image/jpeg")) for i in range(photos)]
    return client.put(
        f"/api/v1/facilities/sites/{world.nodes['gh_site']}/items/{code}",
        data={"item": json.dumps(body)},
        files=files or None,
        headers=world.auth(user),
    )


def test_the_register_is_kept_by_staff_and_bad_entries_are_refused(
    client: TestClient, staff: World
) -> None:
    r = put_item(
        client,
        staff,
        "gh_property",
        "perimeter.wall",
        photos=1,
        status="present",
        details={"height_m": 2.2, "closed": "yes"},
    )
    assert r.status_code == 200, r.text
    wall = item_of(r.json(), "perimeter.wall")
    assert wall["status"] == "present" and wall["details"] == {"height_m": 2.2, "closed": "yes"}
    assert wall["checked_by"] == "gh_property" and len(wall["photos"]) == 1
    assert r.json()["present"] == 1
    photo = client.get(
        f"/api/v1/facilities/sites/{staff.nodes['gh_site']}/photos/{wall['photos'][0]}",
        headers=staff.auth("gh_grid"),
    )
    assert photo.status_code == 200 and photo.content[:3] == b"\xff\xd8\xff"
    refused = {
        "an item not in the checklist": ("perimeter.moat", {"status": "present"}, "perimeter.moat"),
        "an item of no such site type": ("fire.smoke_detectors", {"status": "present"}, "fire.s"),
        "a field the item has not": (
            "perimeter.wall",
            {"status": "present", "details": {"colour": "red"}},
            "colour",
        ),
        "a bad value": (
            "perimeter.wall",
            {"status": "present", "details": {"closed": "ajar"}},
            "closed",
        ),
        "no status": ("perimeter.wall", {"status": "unknown"}, "状态"),
    }
    for why, (code, body, words) in refused.items():
        r = put_item(client, staff, "gh_property", code, **body)
        assert r.status_code == 422, why
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], (why, r.json())
    r = put_item(client, staff, "hg_grid", "perimeter.wall", status="broken")
    assert r.status_code == 404
    r = put_item(client, staff, "gh_inspector", "perimeter.wall", status="broken")
    assert r.status_code == 403  # an inspector inspects; the register is the site's staff's
    rows = staff.session.scalars(select(FacilityItem)).all()
    assert [(r.code, r.status.value) for r in rows] == [("perimeter.wall", "present")]
    [audited] = _entries(client, staff, entity="facility_items")
    assert audited["after"]["status"] == "present" and audited["actor"].endswith("gh_property")
    assert _entries(client, staff, entity="facility_sites")


def test_an_inspection_failure_goes_to_a_grid_event_and_back_to_present(
    client: TestClient, staff: World
) -> None:
    site = staff.nodes["gh_site"]
    body = inspection(site, failed={"fire.extinguishers": "missing"})
    r = send(client, staff, "gh_inspector", body, photos=1)
    assert r.status_code == 201, r.text
    done = r.json()
    assert (done["failed"], done["kind"]) == (1, "routine") and len(done["opened"]) == 1
    assert done["passed"] == len(body["answers"]) - 1 and done["changes"]  # all new
    [case_id] = done["opened"]
    # Sent again (the phone never heard back): the same inspection, nothing doubled.
    again = send(client, staff, "gh_inspector", body, photos=1)
    assert again.status_code == 200 and again.json()["id"] == done["id"]
    assert staff.session.scalar(select(func.count(Inspection.id))) == 1
    case = client.get(f"/api/v1/incidents/{case_id}", headers=staff.auth("gh_admin")).json()
    assert case["kind"] == "fire.extinguisher" and case["channel"] == "inspection"
    assert case["grid_id"] == staff.nodes["gh_grid"] and case["photos"] == 1
    assert "光华苑" in case["description"] and "三楼两具过期" in case["description"]
    found = sheet(client, staff, "gh_site")
    ext = item_of(found, "fire.extinguishers")
    assert ext["status"] == "missing" and ext["defect"] and ext["incident_id"] == case_id
    assert found["defects"] == 1 and not found["bundles"]["three_basics"]
    before = found["present"]
    # The register cannot wish the defect away: only the event's verified closure can.
    r = put_item(client, staff, "gh_property", "fire.extinguishers", status="present")
    assert r.status_code == 409 and str(case_id) in r.json()["detail"]
    for user, step in (
        ("gh_admin", {"action": "accept"}),
        ("gh_admin", {"action": "assign", "assignee_user_id": staff.users["gh_property"]}),
    ):
        assert move(client, staff, user, case_id, **step).status_code == 200
    r = move(client, staff, "gh_property", case_id, photos=[jpeg()], action="done", note="已补齐")
    assert r.status_code == 200, r.text
    assert item_of(sheet(client, staff, "gh_site"), "fire.extinguishers")["defect"]  # not yet
    assert move(client, staff, "gh_grid", case_id, action="verify").status_code == 200
    assert move(client, staff, "gh_admin", case_id, action="close").status_code == 200
    found = sheet(client, staff, "gh_site")
    ext = item_of(found, "fire.extinguishers")
    assert (ext["status"], ext["defect"], ext["source"]) == ("present", False, "incident")
    assert found["present"] == before + 1 and found["defects"] == 0
    assert found["bundles"]["three_basics"]
    # The fix did not hold (the inspector's rating as the case's reporter): a defect again, as
    # the inspection found it, and an inspection saying "present" meanwhile does not end it.
    token = staff.session.get(Incident, case_id).token  # type: ignore[union-attr]
    r = client.post(
        f"/api/v1/public/incidents/{token}/rating",
        json={"rating": "unsatisfied", "fixed": False, "note": "灭火器又被拿走了"},
    )
    assert r.status_code == 200, r.text
    ext = item_of(sheet(client, staff, "gh_site"), "fire.extinguishers")
    assert (ext["status"], ext["defect"], ext["incident_id"]) == ("missing", True, case_id)
    assert send(client, staff, "gh_grid", inspection(site)).status_code == 201
    ext = item_of(sheet(client, staff, "gh_site"), "fire.extinguishers")
    assert (ext["status"], ext["defect"]) == ("missing", True)
    for user, step in (
        ("gh_property", {"action": "done"}),
        ("gh_grid", {"action": "verify"}),
        ("gh_admin", {"action": "close"}),
    ):
        photos = [jpeg()] if step["action"] == "done" else None
        r = move(client, staff, user, case_id, photos=photos, **step)
        assert r.status_code == 200, (step, r.text)
    assert not item_of(sheet(client, staff, "gh_site"), "fire.extinguishers")["defect"]
    # The next month's inspection shows what changed since this one.
    r = send(client, staff, "gh_grid", inspection(site, failed={"building.lighting": "broken"}), 1)
    assert r.status_code == 201, r.text
    assert r.json()["previous_id"] != done["id"] and len(r.json()["opened"]) == 1
    assert r.json()["changes"] == [
        {"code": "building.lighting", "before": "present", "after": "broken"}
    ]


def test_a_defect_follows_its_case_when_rejected_or_merged(
    client: TestClient, staff: World
) -> None:
    site = staff.nodes["gh_site"]
    r = send(client, staff, "gh_grid", inspection(site, failed={"building.lighting": "broken"}), 1)
    [first] = r.json()["opened"]
    # Found again while its case is open: linked to the same case, not a second one.
    r = send(client, staff, "gh_grid", inspection(site, failed={"building.lighting": "broken"}), 1)
    assert r.json()["opened"] == [first]
    assert staff.session.scalar(select(func.count(Incident.id))) == 1
    # Merged into another open case of the kind: the defect follows it.
    other = client.post(
        "/api/v1/incidents",
        data={
            "report": json.dumps(
                {
                    "kind": "facilities.lighting",
                    "description": "路灯不亮",
                    "lon": 103.805,
                    "lat": 30.685,
                }
            )
        },
        headers=staff.auth("gh_grid"),
    ).json()["id"]
    assert (
        move(client, staff, "gh_admin", first, action="merge", target_id=other).status_code == 200
    )
    assert item_of(sheet(client, staff, "gh_site"), "building.lighting")["incident_id"] == other
    # Not accepted (not a problem after all): no longer a defect; the register keeps what was found.
    r = move(client, staff, "gh_admin", other, action="reject", reason="not_a_problem")
    assert r.status_code == 200
    lighting = item_of(sheet(client, staff, "gh_site"), "building.lighting")
    assert (lighting["status"], lighting["defect"]) == ("broken", False)


def test_bad_inspections_are_refused_with_nothing_written(client: TestClient, staff: World) -> None:
    site = staff.nodes["gh_site"]
    base = inspection(site)
    extra = {"code": "perimeter.moat", "status": "present"}
    refused: dict[str, tuple[dict[str, Any], str]] = {
        "an item not in the checklist": (
            {**base, "answers": [*base["answers"], extra]},
            "perimeter.moat",
        ),
        "an item of no such site type": (
            {
                **base,
                "answers": [
                    *base["answers"],
                    {"code": "fire.smoke_detectors", "status": "present"},
                ],
            },
            "fire.smoke_detectors",
        ),
        "an item left out": ({**base, "answers": base["answers"][1:]}, base["answers"][0]["code"]),
        "an item twice": ({**base, "answers": [*base["answers"], base["answers"][0]]}, "两次"),
        "a time to come": ({**base, "at": (utcnow() + timedelta(hours=2)).isoformat()}, "30"),
        "a time long past": ({**base, "at": (utcnow() - timedelta(days=45)).isoformat()}, "30"),
        "a photo not sent": (
            inspection(site, failed={"fire.fire_lanes": "broken"}),
            "fire.fire_lanes",
        ),
        "a kind there is not": ({**base, "kind": "annual"}, "routine"),
    }
    for why, (body, words) in refused.items():
        r = send(client, staff, "gh_grid", body)
        assert r.status_code == 422, (why, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert words in r.json()["detail"], (why, r.json())
    r = send(client, staff, "hg_grid", base)
    assert r.status_code == 404  # another community's site
    r = send(client, staff, "gh_admin", {**base, "site_id": staff.nodes["gh_bld"]})
    assert r.status_code == 404  # no site
    assert staff.session.scalar(select(func.count(Inspection.id))) == 0
    assert staff.session.scalar(select(func.count(Incident.id))) == 0
    assert staff.session.scalar(select(func.count(FacilityItem.id))) == 0


def test_the_schedule_puts_late_inspections_on_the_community_s_desk(
    client: TestClient, staff: World
) -> None:
    long_ago = utcnow() - timedelta(days=25)
    for site, site_type in (
        ("gh_site", SiteType.commercial_residential),
        ("gh_old", SiteType.old_courtyard),
    ):
        for kind in ("routine", "fire"):
            body = inspection(staff.nodes[site], site_type, kind=kind, at=long_ago)
            r = send(client, staff, "gh_grid", body)
            assert r.status_code == 201, r.text
    # 25 days on: nothing late yet (the old courtyard's month has not passed) …
    today = utcnow().date()
    due = service.schedule(staff.session, actor=SYSTEM, today=today, overdue_only=True)
    mine = {(d.site.name, d.kind.code) for d in due}
    assert not {n for n in mine if n[0] in ("光华苑", "光华15号院")}
    assert ("红光苑", "routine") in mine and ("红光苑", "fire") in mine  # never inspected
    # … ten days later the old courtyard's monthly inspection is, the compound's quarterly not;
    # two months on, the compound's too, and the courtyard's quarterly fire inspection; its
    # half-yearly fire inspection is not due yet.
    late = lambda days: {  # noqa: E731
        (d.site.name, d.kind.code)
        for d in service.schedule(
            staff.session, actor=SYSTEM, today=today + timedelta(days=days), overdue_only=True
        )
    }
    assert ("光华15号院", "routine") in late(10) and ("光华苑", "routine") not in late(10)
    assert ("光华15号院", "fire") not in late(10)
    assert {("光华苑", "routine"), ("光华15号院", "fire")} <= late(70)
    assert ("光华苑", "fire") not in late(70)
    r = client.get(
        "/api/v1/inspections/schedule",
        params={"within": staff.nodes["gh"], "overdue": "true"},
        headers=staff.auth("gh_admin"),
    )
    assert r.status_code == 200
    assert {row["site"] for row in r.json()} <= {"光华苑", "光华15号院"}
    r = client.get(
        "/api/v1/inspections",
        params={"site_id": staff.nodes["gh_old"]},
        headers=staff.auth("gh_admin"),
    )
    assert r.json()["total"] == 2
    assert client.get("/api/v1/inspections", headers=staff.auth("hg_admin")).json()["total"] == 0


def test_the_map_colours_sites_by_completeness(client: TestClient, staff: World) -> None:
    body = inspection(staff.nodes["gh_old"], SiteType.old_courtyard)
    r = send(client, staff, "gh_grid", body)
    assert r.status_code == 201
    required = sheet(client, staff, "gh_old")["required"]
    r = client.get("/api/v1/map/facilities", headers=staff.auth("gh_admin"))
    assert r.status_code == 200
    props = {f["properties"]["name"]: f["properties"] for f in r.json()["features"]}
    assert set(props) == {"光华苑", "光华15号院"}
    assert props["光华15号院"]["completeness"] == 1.0 and props["光华苑"]["completeness"] == 0
    assert props["光华15号院"]["bundles"] == {"three_basics": True}
    r = client.put(
        f"/api/v1/facilities/sites/{staff.nodes['gh_old']}/level",
        json={"level": 1},
        headers=staff.auth("gh_grid"),
    )
    assert r.status_code == 200 and r.json()["level"] == 1
    assert r.json()["required"] > required  # level 1 asks for more (all of it checked here)


def test_the_figures_of_physical_defence(client: TestClient, staff: World) -> None:
    old = inspection(
        staff.nodes["gh_old"], SiteType.old_courtyard, failed={"duty.guard_room": "missing"}
    )
    assert send(client, staff, "gh_grid", old, photos=1).status_code == 201
    assert send(client, staff, "gh_grid", inspection(staff.nodes["gh_site"])).status_code == 201

    def rows(name: str, user: str = "gh_admin") -> list[list[Any]]:
        r = client.get(f"/api/v1/figures/{name}", headers=staff.auth(user))
        assert r.status_code == 200, r.text
        return list(r.json()["rows"])

    items = {(r[0], r[1]): r[2:] for r in rows("facility_items")}
    assert items[("老旧院落", "门卫室或治安值班室")] == [1, 0, 0.0]
    assert items[("商住小区", "灭火器")] == [1, 1, 1.0]
    assert rows("facility_courtyards") == [["光华社区", 1, 0, 0.0], ["合计", 1, 0, 0.0]]
    [gh] = rows("inspections")
    # community, sites, inspections, failed items, late sites, defects, closed, p50, p90
    assert gh[:7] == ["光华社区", 2, 2, 1, 2, 1, 0]  # the fire inspections are still due
    defences = {r[1]: r[2] for r in rows("defences") if r[0] == "物防"}
    assert defences["小区/单位数"] == 2 and defences["整改中的隐患"] == 1
    assert defences["老旧、三无院落三防齐备"] == 0 and defences["老旧、三无院落"] == 1
    assert 0 < defences["物防设施平均完整度"] < 1
    # 红光's compound has no register kept yet: every item counted, none present.
    theirs = rows("facility_items", "hg_admin")
    assert theirs and all(r[0] == "商住小区" and r[2:] == [1, 0, 0.0] for r in theirs)
    assert [r[0] for r in rows("inspections", "street_admin")] == ["光华社区", "红光社区"]
    r = client.get("/api/v1/figures/facility_courtyards.csv", headers=staff.auth("gh_admin"))
    assert r.status_code == 200 and "community,courtyards,three_basics,ratio" in r.text


def test_the_same_inspection_sent_twice_at_once_is_kept_once(
    client: TestClient, staff: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both sends looked for the key before either was written: the second meets the unique
    key, and is answered with the first."""
    body = inspection(staff.nodes["gh_site"])
    first = send(client, staff, "gh_grid", body)
    assert first.status_code == 201
    looked = staff.session.scalar  # the race: the first lookup saw nothing

    calls = {"n": 0}

    def blind(stmt: Any, *args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return None if calls["n"] == 1 else looked(stmt, *args, **kwargs)

    monkeypatch.setattr(staff.session, "scalar", blind)
    from pingan.auth import service as auth_service
    from pingan.facilities.schemas import InspectionIn

    user = auth_service.get(staff.session, user_id=staff.users["gh_grid"])
    assert user is not None
    actor = auth_service.principal_for(staff.session, user=user)
    again, new = service.inspect(staff.session, actor=actor, data=InspectionIn(**body))
    assert not new and again.id == first.json()["id"]
    monkeypatch.undo()
    assert staff.session.scalar(select(func.count(Inspection.id))) == 1
