"""Physical defence on the pages: the community's desk (late inspections, open defects, the sites
and their completeness), a site's sheet with its evidence, an inspection with what changed — each
within the viewer's scope, in both languages — and, in real Chromium on a phone, an inspection
made with no network that goes when the network is back and opens its grid event."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.roles import Role
from pingan.db.engine import make_engine
from pingan.facilities.models import FacilityItem, FacilityPhoto, Inspection
from pingan.incidents.models import Incident
from tests.conftest import World, add_device
from tests.facilities.test_facilities import inspection, send, staff
from tests.incidents.test_incidents import jpeg
from tests.live import Live
from tests.web.test_console import page
from tests.web.test_desk import browser, live, login

__all__ = ["browser", "live", "staff"]  # fixtures


def test_the_desk_the_sheet_and_an_inspection_in_scope(client: TestClient, staff: World) -> None:
    add_device(
        staff, "cam-east", node="gh_site", kind="camera", location="东门岗", name="东门摄像机"
    )
    first = send(
        client,
        staff,
        "gh_grid",
        inspection(staff.nodes["gh_site"], failed={"fire.extinguishers": "missing"}),
        photos=1,
    ).json()
    again = send(client, staff, "gh_grid", inspection(staff.nodes["gh_site"])).json()
    [case] = first["opened"]

    desk = page(client, staff, "gh_admin", "/facilities")
    assert desk.status_code == 200
    for words in ("物防设施与安全检查", "光华苑", "光华15号院", "灭火器", f"#{case}", "从未检查"):
        assert words in desk.text, words
    assert "红光苑" not in desk.text  # another community's

    sheet = page(client, staff, "gh_admin", f"/facilities/sites/{staff.nodes['gh_site']}")
    assert sheet.status_code == 200
    for words in (
        "物防设施台账",
        "GB/T 21741-2021",
        "东门摄像机",
        "整改中",
        f"#{case}",
        "plain edit",
    ):
        assert words in sheet.text, words
    other = page(client, staff, "hg_admin", f"/facilities/sites/{staff.nodes['gh_site']}")
    assert other.status_code == 404

    shown = page(client, staff, "gh_inspector", f"/facilities/inspections/{again['id']}")
    assert shown.status_code == 200 and "与上次检查相比有变化" in shown.text
    assert (
        "plain edit"
        not in page(
            client, staff, "gh_inspector", f"/facilities/sites/{staff.nodes['gh_site']}"
        ).text
    )  # an inspector inspects; the register is the site's staff's

    english = page(client, staff, "gh_admin", "/facilities", lang="en")
    assert "Physical defence" in english.text and "Fire extinguishers" in english.text

    phone = page(client, staff, "gh_inspector", "/m/inspect")
    assert phone.status_code == 200
    found = re.search(r'<script id="sites" type="application/json">(.*?)</script>', phone.text)
    assert found is not None
    assert {s["name"] for s in json.loads(found.group(1))} == {"光华苑", "光华15号院"}
    assert page(client, staff, "hg_grid", "/m/inspect").status_code == 200
    assert page(client, staff, "gh_operator", "/m/inspect").status_code == 404  # no inspecting


def test_an_inspection_on_a_phone_with_no_network_goes_when_it_is_back(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    live.add_user("grid1", Role.grid_officer, "grid", "grid-officer-pw", "鱼凫路网格员")
    engine = make_engine(live.settings)
    base = f"http://127.0.0.1:{live.port}"
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page_ = phone.new_page()
    problems: list[str] = []
    page_.on("pageerror", lambda exc: problems.append(str(exc)))
    login(page_, base, "grid1", "grid-officer-pw")
    page_.goto(f"{base}/m/inspect")
    expect(page_.locator("h1#h-inspect")).to_have_text("安全检查")
    page_.select_option("select[name=site]", str(live.nodes["site"]))
    items = page_.locator("#items fieldset.item")
    expect(items.first).to_be_visible()
    count = items.count()
    assert count > 10
    # The extinguishers are missing: said, described and photographed on the spot.
    ext = page_.locator("fieldset.item[data-code='fire.extinguishers']")
    ext.locator("input[value=missing]").check()
    ext.locator("input[name=note]").fill("3栋二楼灭火器缺失")
    photo = tmp_path / "corridor.jpg"
    photo.write_bytes(jpeg(size=(1600, 1200)))
    ext.locator("input[name=photo]").set_input_files(str(photo))
    page_.click("#inspect button[type=submit]")
    expect(page_.locator("#left")).to_contain_text(f"还有 {count - 1} 项未填写")
    page_.click("#all-present")
    expect(page_.locator("#left")).to_be_hidden()

    # The page is kept on the phone once shown (its sites and checklist with it).
    kept = page_.evaluate(
        """async () => {
          for (let i = 0; i < 100; i++) {
            if (await caches.match('/m/inspect')) return true;
            await new Promise((r) => setTimeout(r, 100));
          }
          return false;
        }"""
    )
    debug = page_.evaluate(
        """async () => {
          const reg = await navigator.serviceWorker.getRegistration('/m/');
          const names = await caches.keys();
          const out = {reg: !!reg, active: !!(reg && reg.active), names};
          for (const n of names) out[n] = (await (await caches.open(n)).keys()).map(r => r.url);
          return out;
        }"""
    )
    assert kept, debug
    # No network: the inspection and its photo wait on the phone.
    phone.set_offline(True)
    page_.click("#inspect button[type=submit]")
    expect(page_.locator("#notice")).to_contain_text("无网络：检查已保存在手机上")
    expect(page_.locator("#queue")).to_contain_text("1 份检查待提交")
    with Session(engine) as s:
        assert s.scalars(select(Inspection)).all() == []
    # The page opens again with no network (kept by the phone's service worker).
    page_.reload()
    expect(page_.locator("h1#h-inspect")).to_have_text("安全检查")
    expect(page_.locator("#queue")).to_contain_text("1 份检查待提交")
    phone.set_offline(False)
    expect(page_.locator("#queue")).to_be_hidden(timeout=20_000)
    expect(page_.locator("#notice")).to_contain_text("1 项不合格，已生成 1 个整改事件")
    with Session(engine) as s:
        [done] = s.scalars(select(Inspection)).all()
        assert done.site_id == live.nodes["site"] and done.failed == 1
        [case] = s.scalars(select(Incident)).all()
        assert case.kind == "fire.extinguisher" and "3栋二楼灭火器缺失" in case.description
        item = s.scalar(select(FacilityItem).where(FacilityItem.code == "fire.extinguishers"))
        assert item is not None and item.defect_incident_id == case.id
        [kept] = s.scalars(select(FacilityPhoto)).all()
        assert kept.width <= 2048 and kept.data[:3] == b"\xff\xd8\xff"
    engine.dispose()

    # The community's admin sees it on the desk and the site's sheet.
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    login(desk, base, "admin", live.admin_password)
    desk.goto(f"{base}/facilities")
    expect(desk.locator("#defects tbody tr")).to_have_count(1)
    expect(desk.locator("#facility-map")).to_have_attribute("data-loaded", "yes")
    desk.click("#sites tbody a")
    expect(desk.locator("#item-fire\\.extinguishers")).to_contain_text("整改中")
    assert problems == []


def test_the_renovation_board_and_a_project_in_scope(client: TestClient, staff: World) -> None:
    from tests.facilities.test_renovation import consult, plan

    pid = plan(client, staff).json()["id"]
    assert consult(client, staff, pid).status_code == 201
    board = page(client, staff, "gh_admin", "/facilities/renovation")
    assert board.status_code == 200
    for words in ("老旧院落有机更新", "光华15号院有机更新", "新建改造项目", "全街道", "已议事"):
        assert words in board.text, words
    shown = page(client, staff, "gh_admin", f"/facilities/renovation/{pid}")
    assert shown.status_code == 200
    for words in ("居民议事", "同意实施", "48", "立项", "区财政", "门卫室或治安值班室"):
        assert words in shown.text, words
    assert page(client, staff, "hg_admin", f"/facilities/renovation/{pid}").status_code == 404
    officer = page(client, staff, "gh_grid", "/facilities/renovation")
    assert officer.status_code == 200 and "新建改造项目" not in officer.text
    english = page(client, staff, "gh_admin", f"/facilities/renovation/{pid}", lang="en")
    assert "Minutes" in english.text and "Agreed" in english.text
