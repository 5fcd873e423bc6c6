"""The alarm desk in real Chromium against a running platform: log in, see a device's alarm
arrive without reload, acknowledge and resolve it; another community's operator sees nothing;
no request leaves 127.0.0.1."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.models import AuditEntry
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db.engine import make_engine
from pingan.ingest import topics
from pingan.territory import service as territory_service
from pingan.territory.schemas import NodeCreate, PersonCreate
from tests.conftest import CHROMIUM, require_chromium, require_faces, settings_for
from tests.live import Broker, Live, client, make_live, publish_all


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[Live]:
    require_chromium()
    world = make_live(settings_for("sqlite", tmp_path))
    world.add_device("lxy-smoke-1", name="1栋烟感", protocol="mqtt")
    engine = make_engine(world.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        other = territory_service.create(
            s,
            actor=SYSTEM,
            data=NodeCreate(kind="community", parent_id=world.nodes["street"], name="红光社区"),
        )
        auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="hg_operator",
                display_name="红光值班员",
                password="hg-operator-pw",
                roles=[BindingIn(role=Role.centre_operator, node_id=other.id)],
            ),
        )
        auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="gh_operator",
                display_name="光华值班员",
                password="gh-operator-pw",
                roles=[BindingIn(role=Role.centre_operator, node_id=world.nodes["community"])],
            ),
        )
        s.commit()
    engine.dispose()
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    world.env.update(PINGAN_SIA_PORT="0", PINGAN_MQTT_URL=broker.url)
    world.broker = broker
    world.serve()
    until = time.monotonic() + 15
    while not world.get("/healthz")["workers"]["mqtt"]["connected"] and time.monotonic() < until:
        time.sleep(0.1)
    yield world
    world.stop()
    broker.stop()


@pytest.fixture()
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield b
        b.close()


def shot(page: Page, live: Live, name: str) -> None:
    """Screenshots for the README when SCREENSHOT_DIR names a folder (make screenshots)."""
    folder = os.environ.get("SCREENSHOT_DIR")
    target = Path(folder) if folder else Path(live.settings.var_dir)
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"{name}.png"))


def login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/desk")
    expect(page).to_have_url(f"{base}/login?next=/desk")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/desk")


def test_alarm_arrives_live_and_is_handled(live: Live, browser: Browser) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or ""))
    login(page, base, "gh_operator", "gh-operator-pw")
    expect(page.locator("#empty")).to_be_visible()
    expect(page.locator("#live")).not_to_have_class("live down")
    expect(page.locator(".keys")).to_contain_text("快捷键")

    other = browser.new_page()
    login(other, base, "hg_operator", "hg-operator-pw")

    assert live.broker is not None
    device = client(live.broker, "lxy-smoke-1")  # the detector, through the real broker
    publish_all(
        device,
        [
            (
                topics.device_topic("lxy-smoke-1", "event"),
                b'{"kind": "fire", "code": "smoke", "zone": "1"}',
            )
        ],
    )
    device.disconnect()
    row = page.locator("#alarms tbody tr", has_text="火警")
    expect(row).to_be_visible(timeout=15_000)  # pushed to the open page: no reload
    assert page.evaluate("performance.getEntriesByType('navigation')[0].type") != "reload"
    expect(row.locator(".badge")).to_have_text("P1")
    expect(row).to_have_class("flash")
    shot(page, live, "desk")

    # Filtered to the alarm's community, the acknowledged alarm stays, with its place: the
    # action's answer carries the whole alarm, as the live update does.
    place = row.locator("td").nth(2).inner_text()
    assert place.strip()
    community = page.locator("#filters [name=community] option", has_text=place.split(" · ")[0])
    page.locator("#filters [name=community]").select_option(community.get_attribute("value"))
    expect(row).to_be_visible()
    row.get_by_role("button", name="确认").click()
    expect(row).to_contain_text("已确认")
    expect(row).to_be_visible()
    expect(row.locator("td").nth(2)).to_have_text(place)
    page.locator("#filters [name=community]").select_option("")

    # The alarm's own page: its timeline, device and place; a second operator's action shows.
    row.get_by_role("link").click()
    expect(page.locator("h1")).to_contain_text("火警")
    expect(page.locator("#timeline tbody tr")).to_have_count(2)
    expect(page.locator("#minimap .alarm-marker")).to_have_count(1)
    alarm_id = int(page.url.rsplit("/", 1)[1])
    token = live.token()  # the community's admin, a second person at another screen
    version = live.get(f"/api/v1/alarms/{alarm_id}", token)["version"]
    r = httpx.post(
        f"{base}/api/v1/alarms/{alarm_id}/actions",
        json={"action": "dispatch", "note": "派东门保安", "version": version},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200, r.text
    expect(page.locator("#state")).to_have_text("已派警")  # pushed live to this page
    expect(page.locator("#timeline")).to_contain_text("派东门保安")
    expect(page.locator("#buttons button[data-action=dispatch]")).to_have_count(0)
    shot(page, live, "alarm")
    page.locator(".crumbs a", has_text="报警值班台").click()

    row = page.locator("#alarms tbody tr", has_text="火警")
    expect(row).to_contain_text("已派警")
    row.click()
    page.keyboard.press("r")  # resolve by keyboard
    expect(page.locator("#alarms tbody tr")).to_have_count(0)
    expect(page.locator("#empty")).to_be_visible()

    # The other community's operator saw nothing of it.
    expect(other.locator("#alarms tbody tr")).to_have_count(0)
    other.reload()
    expect(other.locator("#alarms tbody tr")).to_have_count(0)

    # The map and the statistics draw from our own files and data only.
    page.goto(f"{base}/map")
    expect(page.locator("#map")).to_have_attribute("data-loaded", "responders")
    expect(page.locator("#map .area-label")).to_have_text("鱼凫路社区")
    expect(page.locator("#map canvas")).to_have_count(1)
    expect(page.locator(".leaflet-control-layers")).to_contain_text("小区/单位")
    # An operator watches devices: their layer is on from the start.
    devices_layer = page.locator(".leaflet-control-layers label", has_text="设备").locator("input")
    expect(devices_layer).to_be_checked()
    shot(page, live, "map")
    page.goto(f"{base}/stats")
    for name in ("by_category", "by_day", "tta", "defences"):
        expect(page.locator(f"[data-figure={name}]")).to_have_attribute("data-loaded", "1")
    expect(page.locator("[data-figure=by_category] svg")).to_have_count(1)
    expect(page.locator("[data-figure=defences] table")).to_contain_text("技防")
    with page.expect_download() as download:
        page.locator("[data-figure=by_category] a.csv").click()
    assert download.value.suggested_filename.startswith("pingan-by_category-")
    assert "fire,火警,1" in Path(download.value.path()).read_text(encoding="utf-8-sig")
    shot(page, live, "stats")
    page.goto(f"{base}/devices")
    expect(page.locator("#wallpanel")).to_contain_text("鱼凫路社区")
    expect(page.locator("#wallpanel .tile").first).to_contain_text("1")
    assert hosts == {"127.0.0.1"}, hosts


def test_wall_mode_and_keyboard(live: Live, browser: Browser) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 3840, "height": 2160})
    login(page, base, "gh_operator", "gh-operator-pw")
    small = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert small >= 24  # a 4K wall reads from across the room
    page.click("#wall")
    expect(page.locator("html")).to_have_class("wall")
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") > small
    page.goto(f"{base}/map")
    expect(page.locator("html")).to_have_class("wall")  # remembered across pages
    page.keyboard.press("Tab")  # the first stop skips to the content
    expect(page.locator(".skip")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()


def test_english_and_a_wrong_password(live: Live, browser: Browser) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page()
    page.goto(f"{base}/login?lang=en")
    expect(page.locator("h1")).to_have_text("Log in")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_have_text("Wrong user name or password")


def test_territory_search_as_you_type(live: Live, browser: Browser) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, base, "gh_operator", "gh-operator-pw")
    page.goto(f"{base}/territory")
    page.get_by_role("link", name="鱼凫路社区").click()
    expect(page.locator("h1")).to_have_text("鱼凫路社区")
    page.locator("input[type=search]").press_sequentially("柳欣")
    expect(page.locator("#results")).to_contain_text("柳欣苑")  # without leaving the page
    assert page.url.endswith(f"node={live.nodes['community']}")
    page.locator("#results a", has_text="柳欣苑").click()
    expect(page.locator(".crumbs")).to_contain_text("鱼凫路第1网格")


def test_a_resident_consents_enrols_and_withdraws_on_their_own_page(
    live: Live, browser: Browser
) -> None:
    faces = require_faces()
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        person = territory_service.create_person(
            s, actor=SYSTEM, data=PersonCreate(node_id=live.nodes["site"], name="陈燕西")
        )
        auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="lxy_resident",
                display_name="柳欣苑居民",
                password="resident-pw-1",
                roles=[BindingIn(role=Role.resident, node_id=live.nodes["site"])],
                person_id=person.id,
            ),
        )
        s.commit()
    engine.dispose()
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or ""))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", "lxy_resident")
    page.fill("input[name=password]", "resident-pw-1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/me")
    expect(page.locator(".notice")).to_contain_text("门禁卡和密码始终有效")
    page.check("input[name=central_storage]")
    page.click("#consent button[type=submit]")
    expect(page.locator("#consents")).to_contain_text("有效")
    page.set_input_files(
        "#photos input[type=file]", [str(faces / "chen_yanxi/1.jpg"), str(faces / "_no_face/1.jpg")]
    )
    page.click("#photos button[type=submit]")
    expect(page.locator("#results .ok")).to_have_count(1)
    expect(page.locator("#results .refused")).to_contain_text("没有找到人脸")
    expect(page.locator("text=平台现存您的人脸模板 1 个")).to_be_visible(timeout=10_000)
    shot(page, live, "me")
    page.click("[data-withdraw]")
    expect(page.locator("#consents")).to_contain_text("已撤回")
    expect(page.locator("#photos")).to_have_count(0)
    assert hosts == {"127.0.0.1"}, hosts


def test_a_person_s_numbers_are_masked_and_read_whole_on_purpose(
    live: Live, browser: Browser
) -> None:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        person = territory_service.create_person(
            s,
            actor=SYSTEM,
            data=PersonCreate(
                node_id=live.nodes["site"],
                name="李四",
                phone="13800001111",
                id_number="11010519491231002X",
            ),
        )
        s.commit()
        pid = person.id
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    login(page, base, "gh_operator", "gh-operator-pw")
    page.goto(f"{base}/people/{pid}")
    expect(page.locator("#phone")).to_have_text("138****1111")
    expect(page.locator("#id_number")).to_have_text("110***********002X")
    # The desk phones people: the phone's button only, not the identity number's.
    expect(page.locator("[data-reveal]")).to_have_count(1)
    assert "13800001111" not in page.content() and "11010519491231002X" not in page.content()
    page.click("[data-target=phone]")
    expect(page.locator("#phone")).to_have_text("13800001111")
    expect(page.locator("[data-reveal]")).to_have_count(0)
    shot(page, live, "person")
    with Session(engine) as s:
        [read] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "reveal", AuditEntry.entity == "people")
        ).all()
        assert read.entity_id == str(pid) and read.after == {"field": "phone"}
    engine.dispose()
