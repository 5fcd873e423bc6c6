"""Grid incidents in real Chromium: a resident reports on a phone with no network — the report and
its photo wait on the phone and go when the network is back — and follows it under "my reports";
the community accepts and assigns it on the console's incident desk; the resident's own case page
shows each step."""

from __future__ import annotations

from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.db.engine import make_engine
from pingan.incidents.models import Incident, IncidentPhoto
from tests.incidents.test_incidents import jpeg
from tests.live import Live
from tests.web.test_desk import browser, live, login

__all__ = ["browser", "live"]  # fixtures

# Where the resident stands: at 柳欣苑 (the site's own position).
AT_THE_COMPOUND = (103.792, 30.682)


def test_a_resident_reports_offline_and_the_community_takes_it_up(
    live: Live, browser: Browser, tmp_path: object
) -> None:
    base = f"http://127.0.0.1:{live.port}"
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"longitude": AT_THE_COMPOUND[0], "latitude": AT_THE_COMPOUND[1]},
        permissions=["geolocation"],
    )
    page = phone.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(f"{base}/m/report")
    expect(page.locator("h1#h-report")).to_have_text("上报问题")
    page.select_option("select[name=kind]", "fire.ebike_indoor")
    page.select_option("select[name='attr.place']", "corridor")
    page.fill("input[name='attr.count']", "2")
    page.fill("textarea[name=description]", "3栋二单元楼道里两辆电动车在充电")
    page.fill("input[name=address]", "柳欣苑3栋二单元")
    photo = tmp_path / "stairwell.jpg"  # type: ignore[operator]
    photo.write_bytes(jpeg(with_gps=True, size=(1600, 1200)))
    page.set_input_files("input[name=photos]", str(photo))
    expect(page.locator("#previews img")).to_have_count(1)
    page.click("#locate")
    expect(page.locator("#where")).to_contain_text("已定位")

    # No network: the report and its photo wait on the phone.
    phone.set_offline(True)
    page.click("#report button[type=submit]")
    expect(page.locator("#notice")).to_contain_text("无网络：上报已保存在手机上")
    expect(page.locator("#queue")).to_contain_text("1 条上报待提交")
    engine = make_engine(live.settings)
    with Session(engine) as s:
        assert s.scalars(select(Incident)).all() == []
    phone.set_offline(False)
    expect(page.locator("#queue")).to_be_hidden(timeout=20_000)
    expect(page.locator("#mine .case-link")).to_have_count(1)
    expect(page.locator("#mine .case-link")).to_contain_text("待立案")
    with Session(engine) as s:
        [case] = s.scalars(select(Incident)).all()
        assert case.channel == "resident" and case.attributes == {"place": "corridor", "count": 2}
        assert abs(case.lon - AT_THE_COMPOUND[0]) < 1e-6 and case.grid_id == live.nodes["grid"]
        [kept] = s.scalars(select(IncidentPhoto)).all()
        assert kept.width <= 2048 and b"PhoneMaker" not in kept.data  # re-encoded, no EXIF
        case_id = case.id

    # The community's desk: accept it, and send it to the property company.
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    login(desk, base, "admin", live.admin_password)
    desk.goto(f"{base}/incidents?view=new")
    expect(desk.locator("#incidents tbody tr")).to_have_count(1)
    desk.keyboard.press("j")
    desk.keyboard.press("Enter")
    expect(desk).to_have_url(f"{base}/incidents/{case_id}")
    desk.wait_for_load_state()  # its script listens for the keys once the page has loaded
    desk.keyboard.press("a")  # the keys of the alarm desk: A accepts
    desk.fill("textarea[name=note]", "情况属实")
    desk.click("#details button[type=submit]")
    expect(desk.locator(".pagehead .state")).to_have_text("待派遣")
    desk.click("button[data-action=assign]")
    desk.fill("input[name=assignee]", "柳欣苑物业")
    desk.click("#details button[type=submit]")
    expect(desk.locator(".pagehead .state")).to_have_text("已派遣")
    expect(desk.locator("#timeline tbody tr")).to_have_count(3)

    # The resident's own case page follows it, with no one's name.
    page.click("#mine .case-link")
    expect(page.locator(".state-now")).to_have_text("已派遣")
    expect(page.locator("ol.points li")).to_have_count(3)
    assert "admin" not in page.content()
    assert not problems, problems
    engine.dispose()
