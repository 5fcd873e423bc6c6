"""Human-defence figures through the figures API: coverage per route, team and community;
volunteer hours from runs and tasks; response times of dispatched alarms; the three defences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from pingan.patrol.models import Run, Task
from tests.conftest import World
from tests.patrol.test_dispatch import crew
from tests.patrol.test_patrol import patrol, walk_first_checkpoint_only

__all__ = ["crew", "patrol"]  # fixtures


def figure(client: TestClient, world: World, name: str) -> dict[str, Any]:
    r = client.get(f"/api/v1/figures/{name}", headers=world.auth("gh_admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_coverage_hours_and_response_times(
    client: TestClient, world: World, patrol: dict[str, Any], crew: dict[str, Any]
) -> None:
    run, _done = walk_first_checkpoint_only(client, world, patrol)
    # The run took 40 minutes, as far as the figures are concerned.
    row = world.session.get(Run, run["id"])
    assert row is not None and row.finished_at is not None
    row.started_at = row.finished_at - timedelta(minutes=40)
    task = client.post(
        f"/api/v1/patrol/alarms/{crew['alarm']}/dispatch",
        json={},
        headers=world.auth("gh_operator"),
    ).json()
    for step in ("accept", "on_scene", "resolve"):
        client.post(
            f"/api/v1/patrol/tasks/{task['id']}/{step}", json={}, headers=world.auth("near")
        )
    done = world.session.scalars(select(Task)).one()
    assert done.accepted_at is not None and done.finished_at is not None
    done.accepted_at = done.offered_at + timedelta(seconds=30)
    done.arrived_at = done.offered_at + timedelta(seconds=200)
    done.finished_at = done.offered_at + timedelta(minutes=20)
    world.session.commit()

    cov = figure(client, world, "patrol_coverage")
    assert cov["columns"][:4] == ["level", "community", "team", "route"]
    by_level = {r[0]: r for r in cov["rows"]}
    assert by_level["路线"][3] == "光华苑夜巡" and by_level["路线"][4:] == [1, 2, 1, 0.5]
    assert by_level["队伍"][2] == "光华红袖套志愿巡逻队" and by_level["队伍"][-1] == 0.5
    assert by_level["社区"][1] == "光华社区" and by_level["社区"][-1] == 0.5

    hours = {r[3]: r for r in figure(client, world, "volunteer_hours")["rows"]}
    assert hours["队员near"][4] == round(20 / 60, 2)  # accept → resolved: 19.5 min, to the minute
    assert next(r for r in hours.values() if r[2] == "红袖套")[4] == round(40 / 60, 2)

    resp = figure(client, world, "dispatch_response")
    assert resp["rows"][0] == ["<1 min", 1, 0] and resp["rows"][1] == ["1–5 min", 0, 1]
    assert "accept_p50=30s" in resp["note"]

    human = {r[1]: r[2] for r in figure(client, world, "defences")["rows"] if r[0] == "人防"}
    assert human == {"巡逻队伍": 2, "队员与志愿者": 3, "当前在岗": 2, "巡逻覆盖率": 0.5}
    csv = client.get("/api/v1/figures/patrol_coverage.csv", headers=world.auth("gh_admin"))
    assert csv.status_code == 200 and "光华苑夜巡" in csv.text
    # Another community sees none of it.
    other = client.get("/api/v1/figures/volunteer_hours", headers=world.auth("hg_admin")).json()
    assert other["rows"] == []
