"""The patrol phone page in real Chromium with a phone's screen, position and network: a volunteer
logs in, starts a run, checks in at two checkpoints (the second with no network: it waits on the
phone and goes when the network is back, with the time it was scanned), receives an alarm the
centre dispatches, pushed live, accepts it and resolves it with a photo; the centre sees each
step on the alarm's page. The checkpoint codes are read off the printed A4 sheet."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.db.base import utcnow
from pingan.db.engine import make_engine
from pingan.ingest import topics
from pingan.patrol import service as patrol_service
from pingan.patrol.schemas import CheckpointIn, MemberIn, RouteIn, ShiftIn, TeamIn
from pingan.territory import service as territory_service
from pingan.territory.schemas import PersonCreate
from tests.live import Live, client, publish_all
from tests.patrol.test_exceptions import PNG
from tests.web.test_desk import browser, live, login, shot

__all__ = ["browser", "live"]  # fixtures

# Where the volunteer stands: at 柳欣苑's east gate (the site's own position).
EAST_GATE = (103.792, 30.682)
NORTH_WALL = (103.7921, 30.6828)


def _patrol(live: Live) -> None:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        person = territory_service.create_person(
            s,
            actor=SYSTEM,
            data=PersonCreate(node_id=live.nodes["site"], name="李阿姨", phone="13800000009"),
        )
        user = auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="lxy_volunteer",
                display_name="李阿姨",
                password="volunteer-pw-1",
                roles=[BindingIn(role=Role.patrol_member, node_id=live.nodes["community"])],
                person_id=person.id,
            ),
        )
        team = patrol_service.create_team(
            s,
            actor=SYSTEM,
            data=TeamIn(
                kind="volunteers", name="红袖套志愿巡逻队", node_id=live.nodes["community"]
            ),
        )
        member = patrol_service.add_member(
            s,
            actor=SYSTEM,
            team_id=team.id,
            data=MemberIn(person_id=person.id, user_id=user.id, programme="红袖套"),
        )
        now = utcnow()
        patrol_service.add_shift(
            s,
            actor=SYSTEM,
            team_id=team.id,
            data=ShiftIn(
                member_id=member.id,
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=4),
            ),
        )
        patrol_service.create_route(
            s,
            actor=SYSTEM,
            data=RouteIn(
                team_id=team.id,
                name="柳欣苑夜巡",
                duration_min=30,
                checkpoints=[
                    CheckpointIn(name="东门", lon=EAST_GATE[0], lat=EAST_GATE[1], due_min=10),
                    CheckpointIn(name="北侧围墙", lon=NORTH_WALL[0], lat=NORTH_WALL[1], due_min=20),
                ],
            ),
        )
        s.commit()
    engine.dispose()


def _admin(browser: Browser, live: Live, base: str) -> Page:
    """The community's administrator, logged in on the console's patrol page."""
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    page.goto(f"{base}/login?next=/patrol")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", live.admin_password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/patrol")
    return page


def _codes_from_the_sheet(page: Page, base: str) -> list[str]:
    """The tokens of the printed codes, read back from the page's pixels as a phone would."""
    expect(page.locator("#teams")).to_contain_text("红袖套志愿巡逻队")
    expect(page.locator("#duty")).to_contain_text("李阿姨")
    page.click("text=打印二维码")
    figures = page.locator("figure.code")
    expect(figures).to_have_count(2)
    tokens = []
    for i in range(2):
        png = figures.nth(i).locator("svg").screenshot()
        image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
        text, _points, _straight = cv2.QRCodeDetector().detectAndDecode(image)
        assert urlparse(text).path == "/m/", text
        tokens.append(parse_qs(urlparse(text).query)["t"][0])
    assert all(t.startswith("PA1.") for t in tokens)
    # Printed on A4: both codes on one sheet.
    pdf = page.pdf(format="A4")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page\r") + pdf.count(b"/Type/Page") <= 2
    return tokens


def test_a_volunteer_patrols_and_handles_a_dispatched_alarm_on_the_phone(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    _patrol(live)
    base = f"http://127.0.0.1:{live.port}"
    first, second = _codes_from_the_sheet(_admin(browser, live, base), base)

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"longitude": EAST_GATE[0], "latitude": EAST_GATE[1]},
        permissions=["geolocation"],
    )
    page = phone.new_page()
    hosts: set[str] = set()
    # Every request over the network stays here (the photo passes through a blob: address).
    page.on(
        "request",
        lambda r: hosts.add(urlparse(r.url).hostname or "") if r.url.startswith("http") else None,
    )
    page.goto(f"{base}/m/")
    expect(page).to_have_url(f"{base}/login?next=/m/")
    page.fill("input[name=username]", "lxy_volunteer")
    page.fill("input[name=password]", "volunteer-pw-1")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/m/")
    expect(page.locator("#tasks")).to_contain_text("暂无派单任务")
    expect(page.locator("#me")).to_contain_text("红袖套")
    # Large type for elderly volunteers; buttons a thumb can hit.
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") >= 20
    page.click("button[data-route]")
    expect(page.locator("#progress")).to_contain_text("0/2")
    assert page.locator("#scan").bounding_box()["height"] >= 56  # type: ignore[index]
    # The service worker keeps the page for when there is no network.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    # The first code, opened by the phone's camera app: checked in where the volunteer stands.
    page.goto(f"{base}/m/?t={first}")
    expect(page.locator("#notice")).to_contain_text("已签到：东门")
    expect(page.locator("#progress")).to_contain_text("1/2")
    expect(page).to_have_url(f"{base}/m/")

    # The second, with no network: kept on the phone with its time, sent when the network is back.
    phone.set_geolocation({"longitude": NORTH_WALL[0], "latitude": NORTH_WALL[1]})
    phone.set_offline(True)
    page.goto(f"{base}/m/?t={second}")
    expect(page.locator("#notice")).to_contain_text("无网络：签到已保存在手机上")
    expect(page.locator("#queue")).to_contain_text("1 条签到待发送")
    expect(page.locator("#net")).to_be_visible()
    scanned = datetime.now().astimezone()
    time.sleep(2)
    phone.set_offline(False)
    expect(page.locator("#progress")).to_contain_text("2/2", timeout=20_000)
    expect(page.locator("#queue")).to_be_hidden()
    run = page.evaluate("fetch('/api/v1/patrol/me').then(r => r.json())")["run_id"]
    checkins = page.evaluate(f"fetch('/api/v1/patrol/runs/{run}').then(r => r.json())")["checkins"]
    late = checkins[1]
    assert datetime.fromisoformat(late["at"]) <= scanned + timedelta(seconds=1)
    assert datetime.fromisoformat(late["received_at"]) - datetime.fromisoformat(late["at"]) > (
        timedelta(seconds=1.5)
    )
    assert [c["flags"] for c in checkins] == [[], []]

    # An alarm at the site; the centre dispatches it from the alarm's page.
    centre = browser.new_page(viewport={"width": 1366, "height": 900})
    login(centre, base, "gh_operator", "gh-operator-pw")
    # The centre's map shows who it can send, where their phone last was.
    centre.goto(f"{base}/map")
    expect(centre.locator("#map")).to_have_attribute("data-loaded", "responders")
    expect(centre.locator("path.responder")).to_have_count(1)
    centre.goto(f"{base}/desk")
    assert live.broker is not None
    detector = client(live.broker, "lxy-smoke-1")
    # The detector's camera sent a picture with it (inline, as the platform serves it).
    picture = "data:image/png;base64," + base64.b64encode(PNG).decode()
    event = {"kind": "fire", "code": "smoke", "data": {"snapshot": picture}}
    publish_all(
        detector, [(topics.device_topic("lxy-smoke-1", "event"), json.dumps(event).encode())]
    )
    row = centre.locator("#alarms tbody tr").first
    expect(row).to_contain_text("火警", timeout=10_000)
    row.locator("a").first.click()
    expect(centre.locator("#responders")).to_contain_text("尚未派给队员")
    centre.click("#dispatch")

    # Pushed to the phone at once, with where to go.
    task = page.locator("article[data-task]")
    expect(task).to_have_attribute("data-state", "offered", timeout=5_000)
    expect(task).to_contain_text("火警")
    expect(task).to_contain_text("柳欣苑")
    expect(task.locator("a[href^='geo:']")).to_be_visible()
    expect(task.locator("img.snapshot")).to_have_attribute("src", picture)
    expect(page.locator("#notice")).to_contain_text("新派单")
    shot(page, live, "phone")
    expect(centre.locator("#timeline")).to_contain_text("派给队员", timeout=5_000)
    expect(centre.locator("#responders")).to_contain_text("李阿姨")

    for step, state, seen in (
        ("accept", "accepted", "队员接受任务"),
        ("en_route", "en_route", "队员正在前往"),
        ("on_scene", "on_scene", "队员已到场"),
    ):
        task.locator(f"button[data-step={step}]").click()
        expect(task).to_have_attribute("data-state", state, timeout=5_000)
        expect(centre.locator("#timeline")).to_contain_text(seen, timeout=5_000)
    photo = tmp_path / "scene.jpg"
    cv2.imwrite(str(photo), np.full((480, 640, 3), 90, np.uint8))
    task.locator("textarea").fill("厨房油烟，已开窗通风，无火情")
    task.locator("input[type=file]").set_input_files(str(photo))
    task.locator("button[data-step=resolve]").click()
    expect(page.locator("#tasks")).to_contain_text("暂无派单任务", timeout=5_000)
    expect(centre.locator("#timeline")).to_contain_text("队员处置完毕", timeout=5_000)
    expect(centre.locator("#timeline")).to_contain_text("厨房油烟")
    expect(centre.locator("#state")).to_have_text("已处置")
    expect(centre.locator("#responders a")).to_have_text("现场照片")
    assert hosts == {"127.0.0.1"}, hosts
    # Logging out of a shared phone leaves nothing of this volunteer on it.
    page.click("text=退出登录")
    expect(page).to_have_url(f"{base}/login")
    assert page.evaluate("Object.keys(localStorage).filter(k => k.startsWith('pingan.'))") == []
    assert page.evaluate("caches.keys()") == []
    phone.close()


def test_a_manager_sets_up_a_team_its_roster_and_a_route_in_the_console(
    live: Live, browser: Browser
) -> None:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        s.info["actor"] = "test"
        territory_service.create_person(
            s,
            actor=SYSTEM,
            data=PersonCreate(node_id=live.nodes["site"], name="赵志强", phone="13912345678"),
        )
        s.commit()
    engine.dispose()
    base = f"http://127.0.0.1:{live.port}"
    page = _admin(browser, live, base)

    form = page.locator("#new-team")
    form.locator("[name=kind]").select_option("community_patrol")
    form.locator("[name=name]").fill("治保巡逻队")
    form.locator("button").click()
    expect(page.locator("#teams")).to_contain_text("治保巡逻队")

    team = page.locator("details.team").first
    team.locator("summary").click()
    members = team.locator("form[data-kind=member]")
    members.locator("[name=q]").fill("赵志")
    expect(members.locator("[name=person_id] option")).to_have_count(1)
    members.locator("[name=leader]").check()
    with page.expect_navigation():  # the page reloads with the new member
        members.locator("button").click()
    team = page.locator("details.team").first
    team.locator("summary").click()
    expect(team.locator("table.members")).to_contain_text("赵志强")
    shifts = team.locator("form[data-kind=shift]")
    # Tonight's shift in Beijing time, whatever the day the test runs.
    day = (datetime.now(UTC) + timedelta(hours=8)).date()
    night, morning = day.strftime("%Y-%m-%d"), (day + timedelta(days=1)).strftime("%Y-%m-%d")
    shifts.locator("[name=starts_at]").fill(f"{night}T20:00")
    shifts.locator("[name=ends_at]").fill(f"{night}T08:00")
    shifts.locator("button").click()
    expect(shifts.locator(".error")).to_contain_text("班次结束时间须晚于开始时间")
    shifts.locator("[name=ends_at]").fill(f"{morning}T08:00")
    with page.expect_navigation():
        shifts.locator("button").click()
    team = page.locator("details.team").first
    team.locator("summary").click()
    expect(team.locator("ul.shifts li")).to_have_count(1)
    # Typed and shown in Beijing time, whatever the browser's zone.
    expect(team.locator("ul.shifts li")).to_contain_text(
        f"{day:%m/%d} 20:00:00 – {day + timedelta(days=1):%m/%d} 08:00:00"
    )

    page.locator("#new-route-box summary").click()
    route = page.locator("#new-route")
    route.locator("[name=name]").fill("夜间巡逻")
    route.locator("[name=duration_min]").fill("40")
    box = page.locator("#route-map")
    expect(box.locator(".leaflet-interactive").first).to_be_visible()  # the boundaries drew
    # The map shows the team's community whole; two points near its middle lie on its ground.
    size = box.bounding_box()
    assert size is not None
    middle = (size["width"] / 2, size["height"] / 2)
    for dx, dy in ((-20, -10), (20, 10)):
        box.click(position={"x": middle[0] + dx, "y": middle[1] + dy})
    expect(page.locator("#points li")).to_have_count(2)
    # No name is made up for a point: the form is not sent while one is empty.
    page.locator("#points li input").first.fill("东门岗亭")
    route.locator("button[type=submit]").click()
    expect(page.locator("#points li input:invalid")).to_have_count(1)
    page.locator("#points li").nth(1).locator("input").first.fill("北门")
    route.locator("button[type=submit]").click()
    expect(page.locator("#routes")).to_contain_text("夜间巡逻")
    page.locator("details.team").first.locator("summary").click()
    shot(page, live, "patrol")
    page.click("#routes >> text=打印二维码")
    expect(page.locator("figure.code")).to_have_count(2)
    expect(page.locator("figure.code").first).to_contain_text("东门岗亭")


def _camera_file(folder: Path, text: str) -> Path:
    """A camera's view of a printed code, as Chromium's fake camera plays it (Y4M, I420)."""
    import io

    import segno

    png = io.BytesIO()
    segno.make(text, error="m").save(png, kind="png", scale=6, border=4)
    code = cv2.imdecode(np.frombuffer(png.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((480, 640, 3), 235, np.uint8)  # a pale wall
    h, w = code.shape[:2]
    top, left = (480 - h) // 2, (640 - w) // 2
    frame[top : top + h, left : left + w] = code
    planes = cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420).tobytes()
    path = folder / "camera.y4m"
    with path.open("wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            f.write(b"FRAME\n" + planes)
    return path


def test_the_page_scans_a_code_with_the_phone_camera(live: Live, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM

    _patrol(live)
    base = f"http://127.0.0.1:{live.port}"
    with sync_playwright() as p:
        admin_browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        first, _second = _codes_from_the_sheet(_admin(admin_browser, live, base), base)
        admin_browser.close()
        camera = _camera_file(tmp_path, f"{base}/m/?t={first}")
        phone_browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={camera}",
            ],
        )
        context = phone_browser.new_context(
            viewport={"width": 390, "height": 844},
            is_mobile=True,
            geolocation={"longitude": EAST_GATE[0], "latitude": EAST_GATE[1]},
            permissions=["geolocation", "camera"],
        )
        page = context.new_page()
        page.goto(f"{base}/login?next=/m/")
        page.fill("input[name=username]", "lxy_volunteer")
        page.fill("input[name=password]", "volunteer-pw-1")
        page.click("button[type=submit]")
        page.click("button[data-route]")
        page.click("#scan")
        expect(page.locator("#notice")).to_contain_text("已签到：东门", timeout=15_000)
        expect(page.locator("#progress")).to_contain_text("1/2")
        expect(page.locator("#scanner")).to_be_hidden()  # the camera is let go at once
        phone_browser.close()
