"""The faces page: the recognition log with its filters, snapshots only on purpose, the
watchlists, and search by photo — each part for the roles that hold its permission."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.models import AuditEntry
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db.base import utcnow
from pingan.db.engine import make_engine
from pingan.devices import service as device_service
from pingan.devices.models import Device
from pingan.faces.models import Decision, Recognition
from pingan.territory import service as territory_service
from tests.conftest import (
    World,
    add_device,
    add_user,
    require_chromium,
    require_faces,
    settings_for,
)
from tests.faces.test_engine import photo
from tests.live import Live, make_live
from tests.web.test_console import page
from tests.web.test_desk import browser

__all__ = ["browser"]  # fixture


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


@pytest.fixture()
def faces_live(tmp_path: Path) -> Iterator[tuple[Live, str]]:
    """A running platform with a face terminal, and a police liaison of the street."""
    require_chromium()
    require_faces()
    live = make_live(settings_for("sqlite", tmp_path))
    live.env.update(PINGAN_SIA_PORT="0")
    door = live.add_device("lxy-face-1", kind="face_terminal", protocol="http", name="东门人脸机")
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        device = s.get(Device, door)
        assert device is not None
        token = device_service.issue_http_token(s, device=device)
        auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="police",
                display_name="民警",
                password="police-password",
                roles=[BindingIn(role=Role.police_liaison, node_id=live.nodes["street"])],
            ),
        )
        s.commit()
    engine.dispose()
    live.serve()
    yield live, token
    live.stop()


def test_search_by_photo_in_the_browser(faces_live: tuple[Live, str], browser: Browser) -> None:
    """The police liaison searches by photo on the faces page, with the reason the form asks
    for: the enrolled person and where they were seen are listed, by name; the search is in
    the audit log with its reason."""
    live, token = faces_live
    base = f"http://127.0.0.1:{live.port}"
    h = {"Authorization": f"Bearer {live.token()}"}
    person = httpx.post(
        f"{base}/api/v1/people", json={"node_id": live.nodes["site"], "name": "陈燕西"}, headers=h
    ).json()["id"]
    consent = {"node_id": live.nodes["site"], "central_storage": True, "method": "paper"}
    r = httpx.post(f"{base}/api/v1/people/{person}/face-consents", json=consent, headers=h)
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{base}/api/v1/people/{person}/face-templates",
        files=[("photos", ("1.jpg", photo("chen_yanxi/1.jpg"), "image/jpeg"))],
        headers=h,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    seen = httpx.post(
        f"{base}/api/v1/faces/recognitions",
        content=photo("chen_yanxi/2.jpg"),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "image/jpeg",
            "X-Liveness": "passed",
        },
        timeout=60,
    )
    assert seen.status_code == 200 and seen.json()["decision"] == "grant", seen.text

    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{base}/login?next=/faces")
    page.fill("input[name=username]", "police")
    page.fill("input[name=password]", "police-password")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/faces")
    form = page.locator("#search-form")
    form.locator("input[name=photo]").set_input_files(
        files=[{"name": "3.jpg", "mimeType": "image/jpeg", "buffer": photo("chen_yanxi/3.jpg")}]
    )
    form.locator("input[name=reason]").fill("协查 2026-118 号案件")
    form.locator("button[type=submit]").click()
    results = page.locator("#search-results li")
    expect(results.first).to_contain_text("陈", timeout=60_000)
    expect(page.locator("#search-results")).to_contain_text("东门人脸机")
    engine = make_engine(live.settings)
    with Session(engine) as s:
        searches = s.scalars(select(AuditEntry).where(AuditEntry.action == "face_search")).all()
        assert [e.note for e in searches] == ["协查 2026-118 号案件"]
    engine.dispose()
