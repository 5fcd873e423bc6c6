"""Volunteer service on the pages: the community's desk and an activity's page within the viewer's
scope, in both languages, the public sign-up page; and, in real Chromium on a phone, a resident
signing up, confirmed by the community, signing up for an activity and checking in on the spot
with the phone's position."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.roles import Role
from pingan.db.base import utcnow
from pingan.db.engine import make_engine
from pingan.volunteers.models import Attendance, Volunteer
from tests.conftest import World, add_user
from tests.live import Live
from tests.volunteers.test_volunteers import activity, check, decide, sign_up
from tests.web.test_console import page
from tests.web.test_desk import browser, live

__all__ = ["browser", "live"]  # fixtures


def test_the_desk_an_activity_and_the_sign_up_page(client: TestClient, world: World) -> None:
    waiting = sign_up(client, world, name="李蓝", phone="13800000002").json()
    serving = sign_up(client, world).json()
    assert decide(client, world, serving["id"]).status_code == 200
    act = activity(client, world).json()
    assert check(client, serving["key"], act["code"], **FAR_OFF).status_code == 200

    desk = page(client, world, "gh_admin", "/volunteers")
    assert desk.status_code == 200
    for words in ("志愿服务", "待确认的报名", "李蓝", "138****0002", "光华苑文明劝导", act["code"],
                  "待核实的签到", "不在活动地点", "张红", "一星志愿者"):  # fmt: skip
        assert words in desk.text, words
    assert "13800000002" not in desk.text
    shown = page(client, world, "gh_admin", f"/volunteers/activities/{act['id']}")
    assert shown.status_code == 200 and act["code"] in shown.text and "张红" in shown.text
    # The centre reads the desk, without the codes or the buttons; another community sees none.
    seen = page(client, world, "gh_operator", f"/volunteers/activities/{act['id']}")
    assert seen.status_code == 200 and act["code"] not in seen.text
    assert 'class="decide"' not in page(client, world, "gh_operator", "/volunteers").text
    assert page(client, world, "hg_admin", f"/volunteers/activities/{act['id']}").status_code == 404
    assert "李蓝" not in page(client, world, "hg_admin", "/volunteers").text
    english = page(client, world, "gh_admin", "/volunteers", lang="en")
    assert "Sign-ups to confirm" in english.text and "Away from the place" in english.text
    public = client.get("/m/volunteer")
    assert public.status_code == 200 and "红袖套" in public.text and "光华社区" in public.text
    assert waiting["state"] == "pending"


FAR_OFF = {"lon": 103.83, "lat": 30.70}


def test_signing_up_and_checking_in_on_a_phone(live: Live, browser: Browser) -> None:
    base = f"http://127.0.0.1:{live.port}"
    token = live.token()
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    place = {"lon": 103.792, "lat": 30.682}  # the first site of the small territory
    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        geolocation={"longitude": place["lon"] + 0.0005, "latitude": place["lat"]},
        permissions=["geolocation"],
    )
    page_ = phone.new_page()
    problems: list[str] = []
    page_.on("pageerror", lambda exc: problems.append(str(exc)))
    page_.goto(f"{base}/m/volunteer")
    form = page_.locator("#sign-up")
    form.locator("input[name=name]").fill("王建国")
    form.locator("input[name=phone]").fill("13712345678")
    form.locator("select[name=community_id]").select_option(str(live.nodes["community"]))
    form.locator("input[name=programme_id]").first.check()
    form.locator("button[type=submit]").click()
    expect(page_.locator("#h-mine")).to_have_text("王建国")
    expect(page_.locator("#state")).to_have_text("待确认")
    expect(page_.locator("#notice")).to_contain_text("等待社区确认")
    key = page_.locator("#key").inner_text()
    assert len(key) >= 20
    expect(page_.locator("#check")).to_be_hidden()

    # The community confirms, and sets an activity at the site.
    engine = make_engine(live.settings)
    with Session(engine) as s:
        [volunteer] = s.scalars(select(Volunteer)).all()
    r = api.post(f"/api/v1/volunteers/{volunteer.id}/decision", json={"decision": "confirm"})
    assert r.status_code == 200, r.text
    now = utcnow()
    r = api.post(
        "/api/v1/volunteer-activities",
        json={
            "kind": "civility",
            "title": "东门文明劝导",
            "node_id": live.nodes["community"],
            "place": "东门",
            **place,
            "radius_m": 200,
            "starts_at": (now - timedelta(minutes=5)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]

    # The phone opens again with the key it kept: signs up, checks in with its position.
    page_.reload()
    expect(page_.locator("#state")).to_have_text("在册")
    expect(page_.locator("#coming .card")).to_have_count(1)
    page_.locator("#coming button").click()
    expect(page_.locator("#coming")).to_contain_text("已报名")
    page_.locator("#check input[name=code]").fill("000001" if code != "000001" else "000002")
    page_.locator("#check button[value=in]").click()
    expect(page_.locator("#notice")).to_contain_text("签到码不对")
    page_.locator("#check input[name=code]").fill(code)
    page_.locator("#check button[value=in]").click()
    expect(page_.locator("#notice")).to_have_text("签到成功")
    expect(page_.locator("#done")).to_contain_text("已签到")
    with Session(engine) as s:
        [row] = s.scalars(select(Attendance)).all()
        assert row.in_at is not None and row.accepted is True and row.flags == []
        assert row.in_lon is not None and abs(row.in_lon - (place["lon"] + 0.0005)) < 1e-6
    engine.dispose()
    # Forgetting the key on this phone brings back the sign-up form.
    page_.locator("#forget").click()
    expect(page_.locator("#sign-up")).to_be_visible()
    assert problems == []


def test_a_mediation_is_shown_on_its_grid_event(client: TestClient, world: World) -> None:
    from tests.incidents.test_incidents import report

    add_user(world, "gh_grid", Role.grid_officer, "gh_grid")
    dispute = report(
        client, world, kind="dispute.neighbour", description="楼上漏水，邻里争执", attributes={}
    )
    assert dispute.status_code == 201, dispute.text
    case = dispute.json()["id"]
    other = report(client, world).json()["id"]  # 飞线充电: not a dispute
    r = activity(client, world, kind="civility", incident_id=case)
    assert r.status_code == 422
    r = activity(client, world, kind="mediation", title="1栋漏水纠纷调解", incident_id=other)
    assert r.status_code == 422 and "邻里纠纷" in r.json()["detail"]
    r = activity(client, world, kind="mediation", title="1栋漏水纠纷调解", incident_id=case)
    assert r.status_code == 201, r.text
    shown = page(client, world, "gh_admin", f"/incidents/{case}")
    assert 'id="mediations"' in shown.text and "1栋漏水纠纷调解" in shown.text
    # The officer sees the case, not the volunteers' desk: no link to follow.
    assert 'id="mediations"' not in page(client, world, "gh_grid", f"/incidents/{case}").text
