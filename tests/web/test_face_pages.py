"""The faces page: the recognition log with its filters, snapshots only on purpose, the
watchlists, and search by photo — each part for the roles that hold its permission."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.faces.models import Decision, Recognition
from pingan.territory import service as territory_service
from tests.conftest import World, add_device, add_user
from tests.web.test_console import page


def test_the_faces_page_shows_each_role_its_part(client: TestClient, world: World) -> None:
    add_device(world, "gh-face", node="gh_site", kind="face_terminal", name="东门人脸终端")
    door = world.devices["gh-face"]
    site = territory_service.get(world.session, node_id=world.nodes["gh_site"])
    assert site is not None
    for person, decision, ago in (
        (world.people["gh"], Decision.grant, 1),
        (None, Decision.deny, 30),
    ):
        world.session.add(
            Recognition(
                at=utcnow() - timedelta(hours=ago),
                device_id=door,
                path=site.path,
                person_id=person,
                score=0.71 if person else 0.12,
                engine="test",
                decision=decision,
                reason="match" if person else "stranger",
                thumbnail=b"sealed-bytes",
            )
        )
    add_user(world, "gh_police", Role.police_liaison, "gh")
    add_user(world, "gh_manager", Role.site_manager, "gh_site")
    world.session.commit()

    police = page(client, world, "gh_police", "/faces")
    assert police.status_code == 200
    log = police.text[police.text.index('id="recognitions"') :]
    assert log.count("data-recognition=") == 2 and "光华居民" in log and "陌生人" in log
    assert "data-snapshot" in log and 'id="search-form"' in police.text  # faces:search
    assert 'id="watch-form"' in police.text and 'value="blocked"' in police.text
    denied = page(client, world, "gh_police", "/faces", decision="deny").text
    assert denied.count("data-recognition=") == 1
    # A grid officer keeps the care lists, not the blocked one, and searches no faces.
    add_user(world, "gh_grid", Role.grid_officer, "gh")
    world.session.commit()
    grid = page(client, world, "gh_grid", "/faces").text
    assert 'value="care"' in grid and 'value="blocked"' not in grid and "search-form" not in grid
    # The desk sees the log (its alarms come from it) but opens no face unless it alarmed.
    operator = page(client, world, "gh_operator", "/faces")
    assert operator.status_code == 200 and "data-snapshot" not in operator.text
    nav = operator.text[operator.text.index("<nav") : operator.text.index("</nav>")]
    assert "/faces" not in nav  # not in the operator's menu: the page is the face roles'
    assert 'href="/faces"' in page(client, world, "gh_manager", "/desk").text
    # A care-list entry made through the API shows on the page.
    r = client.post(
        "/api/v1/watchlist",
        json={"kind": "care", "node_id": world.nodes["gh"], "person_id": world.people["gh"]},
        headers=world.auth("gh_grid"),
    )
    assert r.status_code == 201, r.text
    entries = page(client, world, "gh_grid", "/faces").text
    assert "独居老人关爱名单" in entries[entries.index('id="entries"') :]
