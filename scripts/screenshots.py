"""The README's pictures, taken of the demo as `make run` builds it (`make screenshots`).

Builds a fresh demo database under var/screenshots/, starts the platform and the simulated
devices on it, logs in with the demo accounts in Chromium at 1366×768 (the phone at 390×844)
and saves docs/img/*.png; prints how long each page took to be ready.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var" / "screenshots"
OUT = ROOT / "docs" / "img"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def pingan(*args: str, env: dict[str, str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "pingan"), *args],
        env=env,
        check=True,
        text=True,
        capture_output=True,
        **kw,  # type: ignore[arg-type]
    )


def main() -> None:
    shutil.rmtree(VAR, ignore_errors=True)
    VAR.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update(
        PINGAN_VAR_DIR=str(VAR),
        PINGAN_DATABASE_URL=f"sqlite:///{VAR}/demo.db",
        PINGAN_DEMO="true",
        PINGAN_MQTT_URL=os.environ.get("PINGAN_MQTT_URL", "mqtt://127.0.0.1:1883"),
        PINGAN_PUBLIC_URL="https://pingan.example.gov.cn",
    )
    env["PINGAN_DATA_KEY"] = pingan("keygen", env=env).stdout.strip()
    pingan("init", env=env)
    started = time.monotonic()
    out = pingan("demo-data", env=env).stdout
    print(f"demo-data: {time.monotonic() - started:.0f} s", file=sys.stderr)
    passwords = dict(re.findall(r"^  (\w+)\s+(\S+)\s+\w+", out, re.M))
    key = re.search(r"demo volunteer key \(/m/volunteer\): (\S+)", out)
    passwords["_volunteer_key"] = key.group(1) if key else ""
    serve = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "pingan"), "serve", "--port", str(PORT)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    simulate = None
    try:
        for _ in range(60):
            try:
                if httpx.get(f"{BASE}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        simulate = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "pingan"), "simulate", "--fleet", "demo", "--url", BASE],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(8)
        look_up_residents(passwords)
        shoot(passwords)
    finally:
        for proc in (simulate, serve):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=20)


def look_up_residents(passwords: dict[str, str]) -> None:
    """The grid officer's day: a list of residents, one record, one whole phone number — the
    reads the audit log lists apart."""
    with httpx.Client(base_url=BASE, timeout=30) as http:
        token = http.post(
            "/api/v1/auth/login",
            json={"username": "yfl_grid1", "password": passwords["yfl_grid1"]},
        ).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        people = http.get("/api/v1/people", params={"q": "王"}, headers=headers).json()["items"]
        for person in people[:2]:
            http.get(f"/api/v1/people/{person['id']}", headers=headers)
        if people:
            http.get(f"/api/v1/people/{people[0]['id']}/phone", headers=headers)


def ready(page: Page, path: str) -> float:
    started = time.perf_counter()
    page.goto(BASE + path)
    page.wait_for_load_state("networkidle")
    return (time.perf_counter() - started) * 1000 - 500  # networkidle waits 500 ms of quiet


def shoot(passwords: dict[str, str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

        def signed_in(user: str, width: int = 1366, height: int = 768) -> Page:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(f"{BASE}/login")
            page.fill("input[name=username]", user)
            page.fill("input[name=password]", passwords[user])
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
            return page

        operator = signed_in("yfl_operator")
        for name, path in (("desk", "/desk"), ("map", "/map"), ("stats", "/stats")):
            took = ready(operator, path)
            operator.screenshot(path=str(OUT / f"{name}.png"))
            print(f"{path}: {took:.0f} ms", file=sys.stderr)
        operator.goto(f"{BASE}/desk")
        operator.locator("#alarms tbody tr a").first.click()
        operator.wait_for_load_state("networkidle")
        operator.screenshot(path=str(OUT / "alarm.png"))

        admin = signed_in("jd_admin")
        for name, path in (
            ("devices", "/devices"),
            ("patrol", "/patrol"),
            ("admin-users", "/admin/users"),
            ("admin-audit", "/admin/audit?reads=true"),
            ("device-registry", "/devices/registry"),
            ("faces", "/faces"),
            ("incidents", "/incidents"),
        ):
            took = ready(admin, path)
            admin.screenshot(path=str(OUT / f"{name}.png"))
            print(f"{path}: {took:.0f} ms", file=sys.stderr)

        # An overdue case, with its timeline.
        ready(admin, "/incidents?view=overdue")
        admin.locator("#incidents tbody tr a").first.click()
        admin.wait_for_load_state("networkidle")
        admin.screenshot(path=str(OUT / "incident.png"), full_page=True)
        took = ready(admin, "/desk?lang=en")  # last: the language stays chosen
        admin.screenshot(path=str(OUT / "desk-en.png"))
        print(f"/desk?lang=en: {took:.0f} ms", file=sys.stderr)

        # 柳欣苑's gate camera, its live picture open (the demo's looped clip).
        manager = signed_in("lxy_manager")
        ready(manager, "/devices/registry?kind=camera")
        manager.locator("table a", has_text="柳欣苑周界摄像机1").first.click()
        manager.wait_for_load_state("networkidle")
        manager.click(".live-view")
        manager.wait_for_timeout(2000)
        manager.screenshot(path=str(OUT / "camera.png"))

        phone = signed_in("yfl_patrol", 390, 844)
        ready(phone, "/m/")
        phone.wait_for_timeout(1000)
        phone.screenshot(path=str(OUT / "phone.png"))

        # A resident's report form (no log-in), and the grid officer's cases on the phone.
        resident = browser.new_page(viewport={"width": 390, "height": 844})
        ready(resident, "/m/report")
        resident.select_option("select[name=kind]", "fire.ebike_indoor")
        resident.fill(
            "textarea[name=description]", "3栋二单元楼道里两辆电动车在充电，插线板放在地上"
        )
        resident.fill("input[name=address]", "柳欣苑3栋二单元")
        resident.evaluate("window.scrollTo(0, 0)")
        resident.screenshot(path=str(OUT / "report.png"))
        officer = signed_in("yfl_grid1", 390, 844)
        ready(officer, "/m/cases")
        officer.screenshot(path=str(OUT / "cases.png"))
        community = signed_in("gh_admin", 1366, 900)
        ready(community, "/facilities")
        community.screenshot(path=str(OUT / "facilities.png"), full_page=True)
        community.locator("#defects tbody tr a").first.click()
        community.wait_for_load_state("networkidle")
        community.screenshot(path=str(OUT / "facility.png"))
        ready(admin, "/facilities/renovation")
        admin.screenshot(path=str(OUT / "renovation.png"), full_page=True)
        ready(admin, "/targets")
        admin.screenshot(path=str(OUT / "targets.png"), full_page=True)
        ready(community, "/volunteers")
        community.screenshot(path=str(OUT / "volunteers.png"), full_page=True)
        volunteer = browser.new_page(viewport={"width": 390, "height": 844})
        volunteer.goto(f"{BASE}/m/volunteer")
        volunteer.evaluate(
            "k => localStorage.setItem('pingan.volunteer.key', k)", passwords["_volunteer_key"]
        )
        ready(volunteer, "/m/volunteer")
        volunteer.screenshot(path=str(OUT / "volunteer.png"))
        inspector = signed_in("jd_inspector", 390, 844)
        ready(inspector, "/m/inspect")
        inspector.select_option("select[name=site]", index=1)
        inspector.locator("fieldset.item input[value=present]").first.check()
        inspector.locator("fieldset.item input[value=broken]").nth(1).check()
        inspector.evaluate("window.scrollTo(0, 0)")
        inspector.screenshot(path=str(OUT / "inspect.png"))
        browser.close()


if __name__ == "__main__":
    main()
