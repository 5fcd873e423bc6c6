"""Renovation of old courtyards against the real database: a project planned, the residents'
meeting recorded with its minutes (先自治后整治), approved, in works, accepted — the register then
holding what the works brought and the courtyard counted as renovated — each stage on the
timeline with its date and photos; bad input refused with its reason and nothing written."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from pingan.db.base import utcnow
from pingan.facilities.models import Consultation, RenovationProject
from pingan.territory.models import SiteType
from tests.auth.test_audit import _entries
from tests.conftest import World
from tests.facilities.test_facilities import inspection, item_of, send, sheet, staff
from tests.incidents.test_incidents import jpeg

__all__ = ["staff"]  # fixture

TODAY = utcnow().date()
MINUTES = b"%PDF-1.4\n% minutes of the residents' meeting\n1 0 obj << >> endobj\ntrailer\n%%EOF\n"


def plan(client: TestClient, world: World, user: str = "gh_admin", **extra: Any) -> Any:
    body = {
        "name": "光华15号院有机更新",
        "sites": [world.nodes["gh_old"]],
        "categories": ["basic", "complete"],
        "works": "新建门卫室，安装门禁和消防设施，建电动车集中充电棚",
        "items": ["duty.guard_room", "entrance.access_control", "fire.ebike_area"],
        "budget_yuan": 1_200_000,
        "funding": [
            {"source": "区财政", "yuan": 900_000},
            {"source": "居民自筹", "yuan": 100_000},
        ],
        "planned_on": (TODAY - timedelta(days=120)).isoformat(),
        **extra,
    }
    return client.post("/api/v1/renovations", json=body, headers=world.auth(user))


def consult(
    client: TestClient,
    world: World,
    project_id: int,
    minutes: bytes = MINUTES,
    user: str = "gh_admin",
    **extra: Any,
) -> Any:
    body = {
        "held_on": (TODAY - timedelta(days=100)).isoformat(),
        "households": 60,
        "present": 48,
        "votes_for": 40,
        "votes_against": 5,
        "abstained": 3,
        "decision": "agreed",
        "note": "居民代表会议，院落自管会主持",
        **extra,
    }
    return client.post(
        f"/api/v1/renovations/{project_id}/consultations",
        data={"consultation": json.dumps(body)},
        files=[("minutes", ("minutes.pdf", minutes, "application/pdf"))],
        headers=world.auth(user),
    )


def move(
    client: TestClient,
    world: World,
    project_id: int,
    action: str,
    days_ago: int,
    photos: int = 0,
    user: str = "gh_admin",
) -> Any:
    body = {"action": action, "on": (TODAY - timedelta(days=days_ago)).isoformat()}
    files = [("photos", (f"s{i}.jpg", jpeg(), "image/jpeg")) for i in range(photos)]
    return client.post(
        f"/api/v1/renovations/{project_id}/actions",
        data={"move": json.dumps(body)},
        files=files or None,
        headers=world.auth(user),
    )


def renovated(client: TestClient, world: World, user: str = "street_admin") -> dict[Any, int]:
    r = client.get("/api/v1/renovations/progress", headers=world.auth(user))
    assert r.status_code == 200, r.text
    return {row["name"]: row["renovated"] for row in r.json() if row["renovated"]}


def test_a_courtyard_renovated_from_the_residents_decision_to_acceptance(
    client: TestClient, staff: World
) -> None:
    # What the courtyard lacks, found by an inspection: no guard room, no charging area.
    found = inspection(
        staff.nodes["gh_old"],
        SiteType.old_courtyard,
        failed={"fire.ebike_area": "missing"},
        at=utcnow() - timedelta(days=20),
    )
    assert send(client, staff, "gh_grid", found, photos=1).status_code == 201
    r = plan(client, staff)
    assert r.status_code == 201, r.text
    project = r.json()
    assert project["state"] == "planned" and project["node_id"] == staff.nodes["gh_old"]
    assert project["actions"] == ["drop"]  # no works, no approval before the residents decide
    pid = project["id"]
    assert renovated(client, staff) == {}

    # 先自治后整治: approval and works are refused until the residents agreed.
    r = move(client, staff, pid, "approve", 90)
    assert r.status_code == 409 and r.json()["detail"].startswith("项目当前为")
    r = consult(client, staff, pid)
    assert r.status_code == 201, r.text
    consulted = r.json()
    assert (
        consulted["state"] == "consulted"
        and consulted["consulted_on"] == (TODAY - timedelta(days=100)).isoformat()
    )
    [meeting] = consulted["consultations"]
    assert (meeting["present"], meeting["votes_for"], meeting["decision"]) == (48, 40, "agreed")
    minutes = client.get(
        f"/api/v1/renovations/{pid}/consultations/{meeting['id']}/minutes",
        headers=staff.auth("gh_grid"),
    )
    assert minutes.status_code == 200 and minutes.content == MINUTES
    assert minutes.headers["content-type"] == "application/pdf"

    for action, days_ago, photos in (("approve", 90, 0), ("start", 60, 1), ("accept", 5, 2)):
        r = move(client, staff, pid, action, days_ago, photos)
        assert r.status_code == 200, (action, r.text)
    done = r.json()
    assert (
        done["state"] == "accepted"
        and done["accepted_on"] == (TODAY - timedelta(days=5)).isoformat()
    )
    steps = [(e["action"], len(e["photos"])) for e in done["timeline"]]
    assert steps == [
        ("created", 0),
        ("consult", 0),
        ("approve", 0),
        ("start", 1),
        ("accept", 2),
    ]
    photo = done["timeline"][-1]["photos"][0]
    r = client.get(f"/api/v1/renovations/{pid}/photos/{photo}", headers=staff.auth("gh_grid"))
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff"

    # The register holds what the works brought; the charging area's defect stays until its
    # grid event is seen closed (the works do not close it for the grid).
    found_sheet = sheet(client, staff, "gh_old")
    guard = item_of(found_sheet, "duty.guard_room")
    assert (guard["status"], guard["source"]) == ("present", "renovation")
    assert item_of(found_sheet, "entrance.access_control")["source"] == "renovation"
    ebike = item_of(found_sheet, "fire.ebike_area")
    assert ebike["defect"] and ebike["status"] == "missing"
    # The courtyard counts as renovated this year, for 光华 and the street.
    assert renovated(client, staff) == {"光华社区": 1, None: 1}
    assert renovated(client, staff, "hg_admin") == {}
    assert move(client, staff, pid, "manage", 0).json()["state"] == "managed"
    assert renovated(client, staff) == {"光华社区": 1, None: 1}
    audited = _entries(client, staff, entity="renovation_projects")
    assert {e["after"].get("state") for e in audited} >= {"planned", "accepted", "managed"}
    assert _entries(client, staff, entity="renovation_consultations")


def test_bad_projects_and_meetings_are_refused_with_nothing_written(
    client: TestClient, staff: World
) -> None:
    refused = {
        "a site of another community": (
            {"sites": [staff.nodes["hg_site"]]},
            404,
            "",
        ),
        "a building, not a site": ({"sites": [staff.nodes["gh_bld"]]}, 404, ""),
        "an item not in the checklist": ({"items": ["perimeter.moat"]}, 422, "perimeter.moat"),
        "more money than the budget": (
            {"budget_yuan": 100, "funding": [{"source": "区财政", "yuan": 900}]},
            422,
            "超过预算",
        ),
        "a plan in the future": ({"planned_on": (TODAY + timedelta(days=3)).isoformat()}, 422, ""),
        "no category": ({"categories": []}, 422, ""),
    }
    for why, (extra, status, words) in refused.items():
        r = plan(client, staff, **extra)
        assert r.status_code == status, (why, r.text)
        assert words in r.json()["detail"], (why, r.json())
    assert plan(client, staff, user="gh_grid").status_code == 403  # an officer plans no works
    assert staff.session.scalar(select(func.count(RenovationProject.id))) == 0

    pid = plan(client, staff).json()["id"]
    bad_meetings = {
        "more taking part than households": ({"present": 70}, "参会户数"),
        "more votes than those taking part": ({"votes_for": 46}, "超过参会户数"),
        "agreed without the majorities": (
            {"present": 30, "votes_for": 25, "votes_against": 5, "abstained": 0},
            "三分之二",
        ),
        "a meeting before the plan": (
            {"held_on": (TODAY - timedelta(days=200)).isoformat()},
            "日期",
        ),
    }
    for why, (extra, words) in bad_meetings.items():
        r = consult(client, staff, pid, **extra)
        assert r.status_code == 422, (why, r.text)
        assert words in r.json()["detail"], (why, r.json())
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    r = consult(client, staff, pid, minutes=out.getvalue())
    assert r.status_code == 422 and "纪要" in r.json()["detail"]
    # Works without a consultation are refused, whatever the order asked for.
    assert move(client, staff, pid, "start", 10).status_code == 409
    assert move(client, staff, pid, "jump", 10).status_code == 422
    assert staff.session.scalar(select(func.count(Consultation.id))) == 0
    # The residents said no: recorded, the project cannot be approved, and may be dropped.
    r = consult(client, staff, pid, decision="refused", votes_for=10, votes_against=30, abstained=8)
    assert r.status_code == 201
    r = move(client, staff, pid, "approve", 50)
    assert r.status_code == 409 and "居民议事尚未同意" in r.json()["detail"]
    # A stage before the one it follows is no stage.
    r = consult(client, staff, pid)  # a second meeting, now agreed
    assert r.status_code == 201
    r = move(client, staff, pid, "approve", 110)
    assert r.status_code == 422
    assert move(client, staff, pid, "drop", 0).json()["state"] == "dropped"
    assert move(client, staff, pid, "approve", 0).status_code == 409
    # Another community's admin does not see it.
    r = client.get(f"/api/v1/renovations/{pid}", headers=staff.auth("hg_admin"))
    assert r.status_code == 404
