"""The administration pages in Chromium against a running platform: an admin creates an account,
hands over the password shown once, the new user is made to choose their own, and the admin
finds the account's log-in in the audit log."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.live import Live
from tests.web.test_desk import browser, live, shot

__all__ = ["browser", "live"]  # fixtures


def admin_page(browser: Browser, live: Live, path: str) -> Page:
    """A console page, as the community's admin, at 1366×768."""
    base = f"http://127.0.0.1:{live.port}"
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    page.goto(f"{base}/login?next={path}")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", live.admin_password)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}{path}")
    return page


def test_an_admin_creates_an_account_that_must_choose_its_own_password(
    live: Live, browser: Browser
) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = admin_page(browser, live, "/admin")
    page.get_by_role("link", name="用户与角色").click()
    expect(page.locator("#users")).to_contain_text("gh_operator")

    form = page.locator("#new-user")
    form.locator("[name=username]").fill("wang_grid")
    form.locator("[name=display_name]").fill("王网格")
    form.locator("[name=phone]").fill("13800138000")
    form.locator("[name=role]").select_option("grid_officer")
    form.locator("button[type=submit]").click()
    secret = page.locator("#secret-value")
    expect(secret).to_be_visible()
    password = secret.inner_text().strip()
    assert len(password) >= 12
    shot(page, live, "admin-users")
    page.reload()
    expect(page.locator("#secret")).to_be_hidden()  # shown once: not after a reload
    row = page.locator("#users tr", has_text="wang_grid")
    expect(row).to_contain_text("待改初始密码")
    expect(row).to_contain_text("138****8000")

    other = browser.new_page(viewport={"width": 1366, "height": 768})
    other.goto(f"{base}/login")
    other.fill("input[name=username]", "wang_grid")
    other.fill("input[name=password]", password)
    other.click("button[type=submit]")
    expect(other).to_have_url(f"{base}/account/password?next=/desk")
    other.goto(f"{base}/map")
    expect(other).to_have_url(f"{base}/account/password?next=/map")
    pw = other.locator("#password")
    pw.locator("[name=current_password]").fill(password)
    pw.locator("[name=new_password]").fill("wang's own password")
    pw.locator("[name=confirm]").fill("wang's own passw0rd")
    pw.locator("button[type=submit]").click()
    expect(pw.locator(".error")).to_contain_text("不一致")
    pw.locator("[name=confirm]").fill("wang's own password")
    pw.locator("button[type=submit]").click()
    expect(other).to_have_url(f"{base}/map")

    row.get_by_role("link").click()
    expect(page.locator("#status")).to_have_text("正常")
    expect(page.locator("#bindings")).to_contain_text("网格员")
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="重置密码").click()
    expect(page.locator("#secret-value")).to_be_visible()
    shot(page, live, "admin-user")
    other.goto(f"{base}/desk")
    expect(other).to_have_url(f"{base}/login?next=/desk")  # the reset ended the session

    page.goto(f"{base}/admin/audit?who=wang_grid")
    expect(page.locator("#audit")).to_contain_text("login")
    expect(page.locator("#audit")).to_contain_text("password")
    # The admin reads the account's whole phone number: a look at personal data, listed apart.
    accounts = httpx.get(
        f"{base}/api/v1/users",
        params={"q": "wang_grid"},
        headers={"Authorization": f"Bearer {live.token()}"},
    ).json()["items"]
    user_id = accounts[0]["id"]
    r = httpx.get(
        f"{base}/api/v1/users/{user_id}/phone", headers={"Authorization": f"Bearer {live.token()}"}
    )
    assert r.json()["value"] == "13800138000"
    page.get_by_role("link", name="个人信息查阅记录").click()
    expect(page.locator("#audit tbody")).to_contain_text("reveal")
    expect(page.locator("#audit tbody")).not_to_contain_text("login")
    shot(page, live, "admin-audit")


def test_an_import_shows_its_row_by_row_report_and_keeps_nothing_half_done(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = admin_page(browser, live, "/admin/imports")
    head = "社区 community,网格 grid,名称 name,类型 site_type,地址 address,经度 lon,纬度 lat\n"
    bad = tmp_path / "sites-bad.csv"
    bad.write_text(
        head
        + "鱼凫路社区,鱼凫路第1网格,新桥小区,商住小区,,103.795,30.685\n"
        + "鱼凫路社区,没有这个网格,河畔苑,商住小区,,103.796,30.686\n"
        + "鱼凫路社区,鱼凫路第1网格,工厂,不知道的类型,,,\n",
        encoding="utf-8-sig",
    )
    form = page.locator("form.import[data-kind=sites]")
    form.locator("input[type=file]").set_input_files(str(bad))
    form.locator("[name=dry_run]").uncheck()
    form.locator("button[type=submit]").click()
    report = form.locator(".report")
    expect(report).to_contain_text("有 2 行出错")
    expect(report.locator("tbody tr")).to_have_count(2)
    expect(report).to_contain_text("没有这个网格")
    shot(page, live, "admin-imports")
    # Nothing of the file stayed, the good first row included.
    token = live.token()
    sites = httpx.get(
        f"{base}/api/v1/territory/nodes",
        params={"q": "新桥小区"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert sites["total"] == 0
    good = tmp_path / "sites.csv"
    good.write_text(
        head + "鱼凫路社区,鱼凫路第1网格,新桥小区,商住小区,,103.795,30.685\n", encoding="utf-8-sig"
    )
    form.locator("input[type=file]").set_input_files(str(good))
    form.locator("[name=dry_run]").check()
    form.locator("button[type=submit]").click()
    expect(report).to_contain_text("检查通过：共 1 行")
    form.locator("[name=dry_run]").uncheck()
    form.locator("button[type=submit]").click()
    expect(report).to_contain_text("已导入：共 1 行，新建 1")
    sites = httpx.get(
        f"{base}/api/v1/territory/nodes",
        params={"q": "新桥小区"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert sites["total"] == 1


def test_a_device_is_registered_on_the_map_and_handed_its_credentials_once(
    live: Live, browser: Browser
) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = admin_page(browser, live, "/devices/registry")
    expect(page.locator("#devices")).to_contain_text("lxy-smoke-1")
    page.get_by_role("link", name="登记设备").click()
    form = page.locator("#new-device")
    form.locator("[name=name]").fill("3栋1单元烟感")
    form.locator("[name=code]").fill("lxy-smoke-31")
    form.locator("[name=kind]").select_option("smoke_detector")
    form.locator("[name=protocol]").select_option("mqtt")
    form.locator("[name=location]").fill("3栋1单元大堂")
    box = page.locator("#device-map")
    expect(box.locator(".leaflet-interactive").first).to_be_visible()
    size = box.bounding_box()
    assert size is not None
    box.click(position={"x": size["width"] / 2 + 10, "y": size["height"] / 2})
    expect(page.locator("#position")).to_contain_text("103.")
    shot(page, live, "device-new")
    form.locator("button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("3栋1单元烟感")
    expect(page.locator("#status")).to_contain_text("从未上线")
    page.get_by_role("button", name="生成 MQTT 密码").click()
    secret = page.locator("#secret-value")
    expect(secret).to_contain_text("lxy-smoke-31:$7$101$")
    shot(page, live, "device")
    device_id = int(page.url.rsplit("/", 1)[1])
    got = httpx.get(
        f"{base}/api/v1/devices/{device_id}", headers={"Authorization": f"Bearer {live.token()}"}
    ).json()
    assert got["lon"] is not None and got["location"] == "3栋1单元大堂"
    page.get_by_role("button", name="停用设备").click()
    expect(page.locator("#status")).to_contain_text("已停用")
    page.goto(f"{base}/devices/registry?q=lxy-smoke-31")
    expect(page.locator("#devices tbody tr")).to_have_count(1)
    expect(page.locator("#devices")).to_contain_text("已停用")


def test_the_top_bar_of_the_fullest_menu_fits_1366_px_in_both_languages(
    live: Live, browser: Browser
) -> None:
    base = f"http://127.0.0.1:{live.port}"
    page = admin_page(browser, live, "/desk")
    for lang in ("zh", "en"):
        page.goto(f"{base}/desk?lang={lang}")
        links = page.locator("header.bar nav a")
        assert links.count() >= 9  # the community admin's menu: every console page
        height = page.evaluate(
            "document.querySelector('header.bar').getBoundingClientRect().height"
        )
        assert height < 50, (lang, height)  # one line
