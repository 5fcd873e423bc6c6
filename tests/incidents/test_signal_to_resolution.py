"""One case from signal to resolution, in a running platform on a real broker: a smoke detector
reports over MQTT → an alarm on the desk → the operator dispatches the patrol member on duty → on
scene they find e-bikes charging in the stairwell and report it from their phone, linked to the
alarm → the community accepts and assigns it to the property manager → done with an after-photo
→ the grid officer verifies → closed, and the alarm resolved with a link to the case. Every step is
on both timelines, seen by the roles whose scope covers it and by no other."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db.engine import make_engine
from pingan.ingest import topics
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind
from pingan.territory.schemas import NodeCreate
from tests.incidents.test_incidents import jpeg
from tests.live import Broker, Live, client, publish_all
from tests.test_live_platform import platform
from tests.web.test_phone import _patrol

__all__ = ["platform"]  # fixture

PASSWORD = "a-long-password-1"
ACCOUNTS = {
    "operator": (Role.centre_operator, "community"),
    "property": (Role.site_manager, "site"),
    "officer": (Role.grid_officer, "grid"),
    "elsewhere": (Role.community_admin, "other"),
}


def _people(live: Live) -> None:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        live.nodes["other"] = territory_service.create(
            s,
            actor=SYSTEM,
            data=NodeCreate(
                kind=NodeKind.community, parent_id=live.nodes["street"], name="别处社区"
            ),
        ).id
        for name, (role, node) in ACCOUNTS.items():
            auth_service.create(
                s,
                actor=SYSTEM,
                data=UserCreate(
                    username=name,
                    display_name=name,
                    password=PASSWORD,
                    roles=[BindingIn(role=role, node_id=live.nodes[node])],
                ),
            )
        s.commit()
    engine.dispose()


def _wait(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_smoke_alarm_becomes_a_case_and_both_end_resolved(platform: tuple[Live, Broker]) -> None:
    live, broker = platform
    _patrol(live)
    _people(live)
    live.add_device("lxy-smoke-1", name="3栋烟感")
    live.serve()
    with httpx.Client(base_url=f"http://127.0.0.1:{live.port}", timeout=15) as http:

        def login(user: str, password: str = PASSWORD) -> dict[str, str]:
            r = http.post("/api/v1/auth/login", json={"username": user, "password": password})
            assert r.status_code == 200, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}

        h = {name: login(name) for name in ACCOUNTS}
        h["admin"] = login("admin", live.admin_password)
        h["volunteer"] = login("lxy_volunteer", "volunteer-pw-1")
        http.post(
            "/api/v1/patrol/position", json={"lon": 103.792, "lat": 30.682}, headers=h["volunteer"]
        )
        _wait(lambda: http.get("/healthz").json()["workers"]["mqtt"]["connected"], "the broker")

        # 1. The detector's signal, over MQTT, raises an alarm on the operator's desk.
        detector = client(broker, "lxy-smoke-1")
        publish_all(
            detector,
            [
                (
                    topics.device_topic("lxy-smoke-1", "event"),
                    b'{"kind": "fire", "code": "smoke", "zone": "3"}',
                )
            ],
        )
        detector.disconnect()
        desk = _wait(
            lambda: http.get(
                "/api/v1/alarms", params={"desk": "true"}, headers=h["operator"]
            ).json()["items"],
            "the alarm on the desk",
        )
        alarm_id = desk[0]["id"]

        # 2. The operator dispatches the patrol member on duty, who goes and arrives.
        r = http.post(f"/api/v1/patrol/alarms/{alarm_id}/dispatch", json={}, headers=h["operator"])
        assert r.status_code == 200, r.text
        [task] = http.get("/api/v1/patrol/my-tasks", headers=h["volunteer"]).json()
        for step in ("accept", "en_route", "on_scene"):
            r = http.post(
                f"/api/v1/patrol/tasks/{task['id']}/{step}", json={}, headers=h["volunteer"]
            )
            assert r.status_code == 200, (step, r.text)

        # 3. On scene: e-bikes charging in the stairwell, reported from the phone with the alarm.
        report = {
            "kind": "fire.ebike_indoor",
            "description": "3栋二单元楼梯间三辆电动车在充电，烟感因充电器过热报警",
            "attributes": {"place": "corridor", "count": 3},
            "lon": 103.7921,
            "lat": 30.6821,
            "address": "柳欣苑3栋二单元",
            "alarm_id": alarm_id,
        }
        r = http.post(
            "/api/v1/incidents",
            data={"report": json.dumps(report)},
            files=[("photos", ("stairwell.jpg", jpeg(with_gps=True), "image/jpeg"))],
            headers=h["volunteer"],
        )
        assert r.status_code == 201, r.text
        case = r.json()
        cid = case["id"]
        assert case["channel"] == "alarm" and case["alarm_id"] == alarm_id
        assert (
            case["grid_id"] == live.nodes["grid"]
            and case["community_id"] == live.nodes["community"]
        )

        def act(user: str, photo: bool = False, **move: Any) -> dict[str, Any]:
            files = [("photos", ("after.jpg", jpeg(), "image/jpeg"))] if photo else None
            r = http.post(
                f"/api/v1/incidents/{cid}/actions",
                data={"move": json.dumps(move)},
                files=files,
                headers=h[user],
            )
            assert r.status_code == 200, (user, move, r.text)
            return dict(r.json())

        # 4. The community accepts and assigns it to the property manager; 5. done, with a photo;
        # 6. the grid officer verifies it on site; 7. closed.
        act("admin", action="accept", note="烟感报警现场发现，属实")
        users = {
            u["username"]: u["id"]
            for u in http.get("/api/v1/users", headers=h["admin"]).json()["items"]
        }
        act("admin", action="assign", assignee_user_id=users["property"])
        act("property", action="take")
        act("property", photo=True, action="done", note="电动车已移至充电棚，楼道已清空")
        act("officer", action="verify", note="现场核查：楼道无电动车")
        closed = act("admin", action="close")

        # Both ends resolved, each timeline showing the other.
        assert closed["state"] == "closed"
        steps = [(e["action"], e["actor"].split(":")[-1]) for e in closed["timeline"]]
        assert steps == [
            ("reported", "lxy_volunteer"),
            ("accept", "admin"),
            ("assign", "admin"),
            ("take", "property"),
            ("done", "property"),
            ("verify", "officer"),
            ("close", "admin"),
        ]
        alarm = http.get(f"/api/v1/alarms/{alarm_id}", headers=h["operator"]).json()
        assert alarm["state"] == "resolved"
        entries = [(e["action"], e["note"]) for e in alarm["timeline"]]
        assert ("incident", str(cid)) in entries and ("incident_closed", str(cid)) in entries
        assert entries.index(("incident", str(cid))) > [a for a, _n in entries].index(
            "dispatch_on_scene"
        )

        # Seen by those whose scope covers it, and by no one else.
        for user in ("admin", "operator", "officer", "property", "volunteer"):
            r = http.get(f"/api/v1/incidents/{cid}", headers=h[user])
            assert r.status_code == 200, user
        for user in ("admin", "operator", "officer", "property"):
            assert http.get(f"/api/v1/alarms/{alarm_id}", headers=h[user]).status_code == 200, user
        assert http.get(f"/api/v1/incidents/{cid}", headers=h["elsewhere"]).status_code == 404
        assert http.get(f"/api/v1/alarms/{alarm_id}", headers=h["elsewhere"]).status_code == 404
        assert http.get("/api/v1/incidents", headers=h["elsewhere"]).json()["total"] == 0
