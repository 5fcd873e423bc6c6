"""The targets on the pages: the list with each target's progress and trend, a target's page with
its entries and evidence, the renovation board's progress against its targets — within the
viewer's scope, in both languages — and, in real Chromium, a target set from the page and a value
entered on it with its evidence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.roles import Role
from pingan.db.engine import make_engine
from pingan.targets.models import Reading, Target
from tests.conftest import World
from tests.facilities.test_facilities import staff
from tests.incidents.test_incidents import jpeg
from tests.live import Live
from tests.targets.test_targets import TODAY, enter, set_target
from tests.web.test_console import page
from tests.web.test_desk import browser, live, login

__all__ = ["browser", "live", "staff"]  # fixtures


def test_the_targets_page_and_a_target_in_scope(client: TestClient, staff: World) -> None:
    computed = set_target(client, staff).json()
    entered = set_target(
        client, staff, name="背街小巷整治", unit="条", target_value=61, measure=None
    ).json()
    assert enter(client, staff, entered["id"], value=9).status_code == 201
    theirs = set_target(client, staff, node_id=staff.nodes["hg"], name="红光社区的目标").json()

    listed = page(client, staff, "gh_admin", "/targets")
    assert listed.status_code == 200
    for words in ("目标任务", "今年改造老旧院落", "背街小巷整治", "已改造院落", "9</b> / 61 条"):
        assert words in listed.text, words
    assert "红光社区的目标" not in listed.text and "新建目标" not in listed.text
    street = page(client, staff, "street_admin", "/targets")
    assert "新建目标" in street.text and "红光社区的目标" in street.text

    shown = page(client, staff, "gh_admin", f"/targets/{entered['id']}")
    assert shown.status_code == 200
    for words in ("填报记录", "背街小巷整治验收单", "趋势", "61 条"):
        assert words in shown.text, words
    assert 'id="enter"' not in shown.text  # the street's target: the street enters it
    assert 'id="enter"' in page(client, staff, "street_admin", f"/targets/{entered['id']}").text
    assert page(client, staff, "gh_admin", f"/targets/{theirs['id']}").status_code == 404
    assert page(client, staff, "gh_grid", "/targets").status_code == 404  # not an officer's

    english = page(client, staff, "gh_admin", f"/targets/{computed['id']}", lang="en")
    assert "Courtyards renovated" in english.text and "Trend" in english.text
    # The renovation board shows its targets' progress, to whoever sees the board.
    board = page(client, staff, "gh_grid", "/facilities/renovation")
    assert board.status_code == 200 and 'id="aims"' in board.text
    assert "今年改造老旧院落" in board.text


def test_a_target_set_and_a_value_entered_in_chromium(
    live: Live, browser: Browser, tmp_path: Path
) -> None:
    live.add_user("jd_admin", Role.street_admin, "street", "street-admin-pw", "街道管理员")
    base = f"http://127.0.0.1:{live.port}"
    desk = browser.new_page(viewport={"width": 1366, "height": 768})
    problems: list[str] = []
    desk.on("pageerror", lambda exc: problems.append(str(exc)))
    login(desk, base, "jd_admin", "street-admin-pw")
    desk.goto(f"{base}/targets")
    expect(desk.locator("#targets .empty")).to_be_visible()

    # A target with no unit is refused by the API, its reason shown; then set whole.
    desk.click("#new-target")
    form = desk.locator("#set-form")
    form.locator("input[name=name]").fill("小区共享单车停放点")
    form.locator("textarea[name=definition]").fill("设置规范停放点的小区数")
    form.locator("input[name=target_value]").fill("20")
    form.locator("input[name=starts_on]").fill((TODAY - timedelta(days=60)).isoformat())
    form.locator("input[name=deadline]").fill((TODAY + timedelta(days=120)).isoformat())
    form.locator("input[name=unit]").evaluate("(el) => { el.required = false; }")
    form.locator("button[type=submit]").click()
    expect(desk.locator("#set-message")).to_contain_text("unit")
    form.locator("input[name=unit]").fill("个")
    form.locator("button[type=submit]").click()
    desk.wait_for_url(f"{base}/targets/*")
    expect(desk.locator("h1")).to_contain_text("小区共享单车停放点")
    expect(desk.locator("h1 .badge")).to_have_text("尚未填报")

    # A value entered with a photo of the place as its evidence.
    photo = tmp_path / "parking.jpg"
    photo.write_bytes(jpeg())
    entry = desk.locator("#enter")
    entry.locator("input[name=value]").fill("6")
    entry.locator("input[name=note]").fill("6个小区施划停放线，验收照片")
    entry.locator("input[name=evidence]").set_input_files(str(photo))
    entry.locator("button[type=submit]").click()
    expect(desk.locator("#entries tbody tr")).to_have_count(1)
    expect(desk.locator("#entries")).to_contain_text("6个小区施划停放线")
    expect(desk.locator("#value")).to_have_text("6")
    expect(desk.locator("#trend canvas")).to_have_count(1)
    engine = make_engine(live.settings)
    with Session(engine) as s:
        [target] = s.scalars(select(Target)).all()
        [reading] = s.scalars(select(Reading)).all()
        assert (reading.value, reading.evidence_type) == (6.0, "image/jpeg")
        assert reading.evidence is not None and reading.evidence[:3] == b"\xff\xd8\xff"
    engine.dispose()
    desk.goto(f"{base}/targets")
    card = desk.locator(f"[data-target='{target.id}']")
    expect(card).to_contain_text("6 / 20 个")
    assert problems == []
