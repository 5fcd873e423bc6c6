"""The street's targets against the real database: a computed target moved by a renovation
project from the residents' decision to acceptance, its trend filled back month by month; the
three-basics and committee measures read from the facility register; an entered target with its
evidence; who sees and who may set or enter what; bad targets and entries refused with their
reason and nothing written."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from pingan.auth.roles import Role
from pingan.db.base import today
from pingan.targets import service
from pingan.targets.models import Reading, Source, Target
from tests.auth.test_audit import _entries
from tests.conftest import World, add_user
from tests.facilities.test_facilities import staff
from tests.facilities.test_renovation import MINUTES, consult, move, plan
from tests.incidents.test_incidents import jpeg

__all__ = ["staff"]  # fixture

TODAY = today()
YEAR_START = date(TODAY.year, 1, 1)


def set_target(client: TestClient, world: World, user: str = "street_admin", **extra: Any) -> Any:
    body = {
        "name": "今年改造老旧院落",
        "definition": "竣工验收的老旧院落数",
        "unit": "个",
        "baseline": 0,
        "target_value": 20,
        "starts_on": (TODAY - timedelta(days=200)).isoformat(),
        "deadline": (TODAY + timedelta(days=165)).isoformat(),
        "node_id": world.nodes["street"],
        "measure": "courtyards_renovated",
        **extra,
    }
    return client.post("/api/v1/targets", json=body, headers=world.auth(user))


def enter(
    client: TestClient,
    world: World,
    target_id: int,
    user: str = "street_admin",
    evidence: tuple[str, bytes, str] | None = None,
    **extra: Any,
) -> Any:
    body = {"value": 12, "on": TODAY.isoformat(), "note": "背街小巷整治验收单 12 条", **extra}
    return client.post(
        f"/api/v1/targets/{target_id}/readings",
        data={"reading": json.dumps(body)},
        files=[("evidence", evidence)] if evidence else None,
        headers=world.auth(user),
    )


def put_item(
    client: TestClient,
    world: World,
    site: int,
    code: str,
    body: dict[str, Any],
    user: str = "gh_grid",
) -> None:
    r = client.put(
        f"/api/v1/facilities/sites/{site}/items/{code}",
        data={"item": json.dumps({"checked_on": TODAY.isoformat(), **body})},
        headers=world.auth(user),
    )
    assert r.status_code == 200, r.text


def standing(client: TestClient, world: World, target_id: int, user: str = "street_admin") -> Any:
    r = client.get(f"/api/v1/targets/{target_id}", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_renovation_accepted_moves_the_target_and_its_trend(
    client: TestClient, staff: World
) -> None:
    r = set_target(client, staff)
    assert r.status_code == 201, r.text
    target = r.json()
    tid = target["id"]
    assert target["standing"]["value"] == 0 and target["standing"]["status"] == "behind"
    # Filled back month by month from its first day (the measure can look back).
    days = [x["on"] for x in target["readings"]]
    assert len(days) >= 6 and days[-1] == TODAY.isoformat()
    assert all(x["source"] == "computed" and x["value"] == 0 for x in target["readings"])

    pid = plan(client, staff, utilities=["water", "power", "gas"], categories=["basic"]).json()[
        "id"
    ]
    assert consult(client, staff, pid).status_code == 201
    for action, days_ago in (("approve", 90), ("start", 60)):
        assert move(client, staff, pid, action, days_ago).status_code == 200
    assert standing(client, staff, tid)["standing"]["value"] == 0  # works are not a renovation
    assert move(client, staff, pid, "accept", 5).status_code == 200

    moved = standing(client, staff, tid)
    assert moved["standing"]["value"] == 1 and moved["standing"]["progress"] == 0.05
    # The community's admin reads the street's target (not its entries' right to change it).
    seen = standing(client, staff, tid, "gh_admin")
    assert seen["standing"]["value"] == 1 and not seen["may_enter"]
    # The daily job keeps today's value as the trend's last point.
    assert service.record_all(staff.session) == 1
    last = staff.session.scalars(
        select(Reading).where(Reading.target_id == tid).order_by(Reading.on.desc())
    ).first()
    assert last is not None and (last.on, last.value) == (TODAY, 1.0)

    # Water, power and gas renovated in one courtyard: its own measure counts it.
    r = set_target(
        client,
        staff,
        name="水电气改造院落",
        target_value=8,
        measure="courtyards_utilities_renovated",
    )
    assert r.json()["standing"]["value"] == 1
    # A target counting from after the acceptance does not count it.
    r = set_target(client, staff, starts_on=(TODAY - timedelta(days=2)).isoformat())
    assert r.json()["standing"]["value"] == 0
    # Scoped to the other community, it counts nothing either.
    r = set_target(client, staff, node_id=staff.nodes["hg"])
    assert r.status_code == 201 and r.json()["standing"]["value"] == 0
    assert _entries(client, staff, entity="targets")


def test_measures_read_the_facility_register(client: TestClient, staff: World) -> None:
    # 光华15号院 (old courtyard) with no register: not counted; then its three basics present.
    r = set_target(
        client,
        staff,
        name="三防齐备院落",
        measure="courtyards_three_basics",
        node_id=staff.nodes["gh"],
        target_value=5,
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert r.json()["standing"]["value"] == 0
    # Not historic: one reading, today's.
    assert [x["on"] for x in r.json()["readings"]] == [TODAY.isoformat()]
    site = staff.nodes["gh_old"]
    for code in (
        "duty.guard_room",
        "fire.extinguishers",
        "fire.fire_lanes",
        "entrance.access_control",
    ):
        assert standing(client, staff, tid)["standing"]["value"] == 0
        put_item(client, staff, site, code, {"status": "present"})
    assert standing(client, staff, tid)["standing"]["value"] == 1

    # Committees: 光华's one compound, without and with an owners' committee in its register.
    r = set_target(
        client,
        staff,
        name="商住小区成立业委会或自管会",
        unit="%",
        measure="compounds_with_committee",
        target_value=100,
    )
    cid = r.json()["id"]
    assert r.json()["standing"]["value"] == 0
    compound = staff.nodes["gh_site"]
    put_item(
        client,
        staff,
        compound,
        "management.organisation",
        {"status": "present", "details": {"bodies": ["property_company"]}},
        "gh_property",
    )
    assert standing(client, staff, cid)["standing"]["value"] == 0
    put_item(
        client,
        staff,
        compound,
        "management.organisation",
        {"status": "present", "details": {"bodies": ["property_company", "owners_committee"]}},
        "gh_property",
    )
    # Two compounds in the street (光华's and 黄瓜's): one of two.
    assert standing(client, staff, cid)["standing"]["value"] == 50.0


def test_an_entered_target_with_its_evidence(client: TestClient, staff: World) -> None:
    r = set_target(
        client,
        staff,
        name="背街小巷整治",
        unit="条",
        target_value=61,
        measure=None,
        starts_on=YEAR_START.isoformat(),
        deadline=date(TODAY.year + 1, 12, 31).isoformat(),
    )
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    assert r.json()["standing"] == {
        "value": None,
        "progress": None,
        "expected": r.json()["standing"]["expected"],
        "status": "not_started",
        "as_of": None,
    }
    assert r.json()["may_enter"] and r.json()["readings"] == []
    r = enter(client, staff, tid, value=5, on=(TODAY - timedelta(days=1)).isoformat())
    assert r.status_code == 201, r.text
    photo = jpeg()
    r = enter(client, staff, tid, evidence=("alley.jpg", photo, "image/jpeg"))
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert r.json()["evidence_type"] == "image/jpeg" and r.json()["source"] == "entered"
    got = standing(client, staff, tid)
    assert got["standing"]["value"] == 12 and got["standing"]["as_of"] == TODAY.isoformat()
    assert [x["value"] for x in got["readings"]] == [5, 12]
    kept = client.get(
        f"/api/v1/targets/{tid}/readings/{rid}/evidence", headers=staff.auth("gh_admin")
    )
    assert kept.status_code == 200 and kept.content[:3] == b"\xff\xd8\xff"
    r = client.get(
        f"/api/v1/targets/{tid}/readings/{got['readings'][0]['id']}/evidence",
        headers=staff.auth("street_admin"),
    )
    assert r.status_code == 404  # that entry had a note only
    # A PDF is kept as it came.
    r = enter(client, staff, tid, evidence=("ok.pdf", MINUTES, "application/pdf"))
    assert r.status_code == 201 and r.json()["evidence_type"] == "application/pdf"
    assert _entries(client, staff, entity="target_readings")


def test_who_sees_sets_and_enters_what(client: TestClient, staff: World) -> None:
    add_user(staff, "gh_patrol", Role.patrol_member, "gh")
    street = set_target(client, staff, measure=None, name="共享单车停放点").json()["id"]
    gh = set_target(client, staff, measure=None, node_id=staff.nodes["gh"], name="光华").json()
    hg = set_target(client, staff, measure=None, node_id=staff.nodes["hg"], name="黄瓜").json()
    listed = client.get("/api/v1/targets", headers=staff.auth("gh_admin")).json()
    assert {t["id"] for t in listed} == {street, gh["id"]}
    assert (
        client.get(f"/api/v1/targets/{hg['id']}", headers=staff.auth("gh_admin")).status_code == 404
    )
    r = client.get(
        f"/api/v1/targets?community={staff.nodes['gh']}", headers=staff.auth("street_admin")
    )
    assert {t["id"] for t in r.json()} == {street, gh["id"]}
    # The community's admin enters its own target's value, not the street's; sets none.
    assert enter(client, staff, gh["id"], user="gh_admin").status_code == 201
    assert enter(client, staff, street, user="gh_admin").status_code == 403
    assert enter(client, staff, hg["id"], user="gh_admin").status_code == 404
    assert set_target(client, staff, user="gh_admin", node_id=staff.nodes["gh"]).status_code == 403
    # The centre reads; a patrol member has no business here.
    assert client.get("/api/v1/targets", headers=staff.auth("gh_operator")).status_code == 200
    assert client.get("/api/v1/targets", headers=staff.auth("gh_patrol")).status_code == 403
    # Changing the terms needs the version read; withdrawing stops entries.
    r = client.patch(
        f"/api/v1/targets/{gh['id']}",
        json={"target_value": 30, "version": 99},
        headers=staff.auth("street_admin"),
    )
    assert r.status_code == 409
    r = client.patch(
        f"/api/v1/targets/{gh['id']}",
        json={"target_value": 30, "active": False, "version": gh["version"]},
        headers=staff.auth("street_admin"),
    )
    assert r.status_code == 200 and r.json()["target_value"] == 30 and not r.json()["active"]
    r = enter(client, staff, gh["id"])
    assert r.status_code == 422 and "停用" in r.json()["detail"]


def test_bad_targets_and_entries_are_refused_with_nothing_written(
    client: TestClient, staff: World
) -> None:
    refused = {
        "no unit": ({"unit": None}, "unit"),
        "an empty unit": ({"unit": "  "}, "unit"),
        "no deadline": ({"deadline": None}, "deadline"),
        "a deadline before the start": (
            {"deadline": (TODAY - timedelta(days=300)).isoformat()},
            "完成期限",
        ),
        "a target equal to its baseline": ({"target_value": 0}, "目标值"),
        "an unknown measure": ({"measure": "happiness"}, "happiness"),
        "a grid, not a community": ({"node_id": staff.nodes["gh_grid"]}, "社区"),
    }
    for why, (extra, words) in refused.items():
        r = set_target(client, staff, **extra)
        assert r.status_code == 422, (why, r.text)
        assert words in r.text, (why, r.json())
    assert staff.session.scalar(select(func.count(Target.id))) == 0

    computed = set_target(client, staff).json()["id"]
    r = enter(client, staff, computed)
    assert r.status_code == 422 and "自动计算" in r.json()["detail"]
    tid = set_target(client, staff, measure=None).json()["id"]
    bad_entries = {
        "a day to come": ({"on": (TODAY + timedelta(days=1)).isoformat()}, "填报日期"),
        "before the target began": ({"on": (TODAY - timedelta(days=400)).isoformat()}, "填报日期"),
        "no evidence note": ({"note": " "}, "note"),
    }
    for why, (extra, words) in bad_entries.items():
        r = enter(client, staff, tid, **extra)
        assert r.status_code == 422, (why, r.text)
        assert words in r.text, (why, r.json())
    r = enter(client, staff, tid, evidence=("x.gif", b"GIF89a not a picture", "image/gif"))
    assert r.status_code == 422 and "佐证材料" in r.json()["detail"]
    assert (
        staff.session.scalar(select(func.count(Reading.id)).where(Reading.source == Source.entered))
        == 0
    )


def test_the_figures_of_targets_and_renovation(client: TestClient, staff: World) -> None:
    assert set_target(client, staff).status_code == 201
    set_target(client, staff, node_id=staff.nodes["hg"], name="红光社区的目标")
    pid = plan(client, staff).json()["id"]
    assert consult(client, staff, pid).status_code == 201
    for action, days_ago in (("approve", 90), ("start", 60), ("accept", 5)):
        assert move(client, staff, pid, action, days_ago).status_code == 200

    def rows(name: str, user: str = "gh_admin") -> list[list[Any]]:
        r = client.get(f"/api/v1/figures/{name}", headers=staff.auth(user))
        assert r.status_code == 200, r.text
        return list(r.json()["rows"])

    # target, scope, measure, unit, baseline, value, target, deadline, progress, time, status
    [row] = rows("targets")
    assert row[:7] == ["今年改造老旧院落", "全街道", "courtyards_renovated", "个", 0, 1, 20]
    assert row[8] == 0.05 and row[10] == "behind"
    assert len(rows("targets", "street_admin")) == 2
    assert rows("targets", "gh_grid") == []  # not an officer's business
    renovated = {r[0]: r[1:3] for r in rows("renovation")}
    assert renovated == {"光华社区": [1, 1], "全街道": [1, 1]}
    r = client.get("/api/v1/figures/targets.csv", headers=staff.auth("gh_admin"))
    assert r.status_code == 200 and "target,scope,measure,unit" in r.text
    assert "今年改造老旧院落" in r.text
