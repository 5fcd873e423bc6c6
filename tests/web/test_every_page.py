"""Every page in Chromium against the demo as `pingan demo-data` builds it, on both databases, in
both languages: no script error and no failed request of its own; and in English no Chinese
character left outside what people entered (names of places, devices, people, teams …).

The pages are walked from the application's routes, so a new page is checked without being
listed here; the user data is named column by column, so a platform word stored as Chinese text
(an alarm title, a household role, a consent's purpose) cannot pass for a person's entry."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import func, select, text

from pingan.app import create_app
from pingan.auth.roles import Role
from pingan.db.engine import make_engine
from pingan.demo import ACCOUNTS
from pingan.web import basemap
from tests.conftest import BACKENDS, require_chromium, require_pg, settings_for
from tests.live import Live, make_live
from tests.web.test_desk import browser
from tests.web.test_page_permissions import opens, pages_of

__all__ = ["browser"]  # fixture

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")

# What people of the territory typed or imported: shown as they wrote it, in any language.
USER_DATA = {
    "territory_nodes": ["name", "address", "management_name", "notes"],
    "people": ["name"],
    "resident_groups": ["name"],
    "devices": ["name", "vendor", "model", "location"],
    "users": ["display_name"],
    "patrol_teams": ["name"],
    "patrol_routes": ["name"],
    "patrol_checkpoints": ["name"],
    "patrol_shifts": ["note"],
    "patrol_members": ["programme"],
    "alarms": ["subject"],
    "notification_channels": ["name"],
    "patrol_meetings": ["title", "decisions"],
    "incidents": ["description", "address", "assignee", "reporter_name", "rating_note"],
    "incident_entries": ["note", "actor"],
    "street_lines": ["name"],
    "facility_items": ["note", "checked_by"],
    "inspections": ["inspector", "note"],
    "inspection_answers": ["note"],
    "renovation_projects": ["name", "works"],
    "renovation_consultations": ["note"],
    "renovation_entries": ["note"],
    "targets": ["name", "definition", "unit"],
    "target_readings": ["note", "entered_by"],
    "volunteer_programmes": ["name", "description"],
    "volunteer_teams": ["name"],
    "volunteers": ["name"],
    "volunteer_activities": ["title", "place"],
    "volunteer_levels": ["name"],
}

# The text of a page as a reader meets it: visible or not (a closed dialog, a hidden row), and the
# words in attributes; scripts' data and the link to the other language (lang=zh) left out.
READ = """() => {
  const root = document.body.cloneNode(true);
  for (const el of root.querySelectorAll('script, style, [lang^="zh"]')) el.remove();
  const words = [root.textContent];
  for (const el of document.querySelectorAll('[title], [placeholder], [aria-label], [alt], input[type=submit], input[type=button]')) {
    if (el.closest('[lang^="zh"]')) continue;
    words.push(el.title || '', el.placeholder || '', el.getAttribute('aria-label') || '', el.alt || '', el.type === 'submit' || el.type === 'button' ? el.value : '');
  }
  return [document.title, ...words].join('\\n');
}"""


@pytest.fixture(scope="module", params=BACKENDS)
def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Live, dict[str, str]]]:
    require_chromium()
    if request.param == "postgresql":
        require_pg()
    live = make_live(
        settings_for(request.param, tmp_path_factory.mktemp(f"en-{request.param}")), bare=True
    )
    made = subprocess.run(
        [sys.executable, "-m", "pingan.cli", "demo-data"],
        env=live.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    passwords = dict(re.findall(r"^  (\w+)\s+(\S+)\s+\w+\s", made.stdout, re.MULTILINE))
    assert {a.username for a in ACCOUNTS} <= set(passwords), made.stdout
    live.env.update(PINGAN_SIA_PORT="0")
    live.serve()
    yield live, passwords
    live.stop()


def _user_words(live: Live) -> list[str]:
    engine = make_engine(live.settings)
    words: set[str] = set()
    with engine.connect() as conn:
        for table, columns in USER_DATA.items():
            for column in columns:
                for (value,) in conn.execute(text(f'SELECT DISTINCT "{column}" FROM {table}')):
                    if isinstance(value, str) and CJK.search(value):
                        words.add(value)
        # A renovation's funding sources, kept in a JSON column.
        for (funding,) in conn.execute(text("SELECT funding FROM renovation_projects")):
            rows = json.loads(funding) if isinstance(funding, str) else funding
            words |= {f["source"] for f in rows}
    engine.dispose()
    # The streets under the map are the deployment's data too (the demo's file here).
    streets = json.loads(basemap.DEMO_STREETS.read_text(encoding="utf-8"))
    words |= {f["properties"]["name"] for f in streets["features"]}
    return sorted(words, key=len, reverse=True)  # a device's name before its site's


def _ids(live: Live) -> dict[str, Any]:
    """A record of each kind for the pages that show one: the fullest of the demo's."""
    engine = make_engine(live.settings)
    with engine.connect() as conn:
        one = lambda sql: int(conn.execute(text(sql)).scalar_one())  # noqa: E731
        ids: dict[str, Any] = {
            # The alarm whose timeline has the most kinds of line (escalated, dispatched …).
            "alarm_id": one(
                "SELECT alarm_id FROM alarm_entries GROUP BY alarm_id"
                " ORDER BY COUNT(DISTINCT action) DESC, alarm_id LIMIT 1"
            ),
            "device_id": one("SELECT MAX(device_id) FROM alarms WHERE device_id IS NOT NULL"),
            "user_id": one("SELECT MAX(id) FROM users"),
            "person_id": one(
                "SELECT MAX(id) FROM people WHERE relation IS NOT NULL AND residence IS NOT NULL"
            ),
            "route_id": one("SELECT MIN(id) FROM patrol_routes"),
            # The case whose timeline has the most kinds of line (sent back, reopened …).
            "incident_id": one(
                "SELECT incident_id FROM incident_entries GROUP BY incident_id"
                " ORDER BY COUNT(DISTINCT action) DESC, incident_id LIMIT 1"
            ),
            # The site whose sheet has the most defects; an inspection that found some and
            # follows another (its changes shown).
            "site_id": one(
                "SELECT site_id FROM facility_sites ORDER BY defects DESC, site_id LIMIT 1"
            ),
            "inspection_id": one(
                "SELECT MAX(id) FROM inspections WHERE failed > 0 AND previous_id IS NOT NULL"
            ),
            # The project with the longest timeline (consulted, in works, accepted …).
            "project_id": one(
                "SELECT project_id FROM renovation_entries GROUP BY project_id"
                " ORDER BY COUNT(*) DESC, project_id LIMIT 1"
            ),
            # An entered target: its entries and their evidence shown.
            "target_id": one("SELECT MIN(id) FROM targets WHERE measure IS NULL"),
            # The past activity with the most people at it (and a flagged one among them).
            "activity_id": one(
                "SELECT activity_id FROM volunteer_attendances GROUP BY activity_id"
                " ORDER BY SUM(CASE WHEN accepted IS NULL THEN 1 ELSE 0 END) DESC,"
                " COUNT(*) DESC, activity_id LIMIT 1"
            ),
        }
        # A resident's closed case with its photos: the page of its key.
        ids["token"] = conn.execute(
            text(
                "SELECT token FROM incidents WHERE channel = 'resident' AND state = 'closed'"
                " ORDER BY id LIMIT 1"
            )
        ).scalar_one()
    engine.dispose()
    return ids


def _account_for(path: str, perm: object) -> str:
    """The demo account that opens a page: the street's admin where it may, else the first whose
    role holds the page's permission (the phone page: a patrol member; /me: a resident)."""
    if path == "/me":
        return "lxy_resident"
    roles = {a.username: a.role for a in ACCOUNTS}
    order = ["jd_admin", *[a.username for a in ACCOUNTS if a.username != "jd_admin"]]
    for username in order:
        if perm is None or opens(perm, Role(roles[username])):  # type: ignore[arg-type]
            # The phone's pages in the hands of those who carry them.
            if path in PHONE_ROLES and roles[username] not in PHONE_ROLES[path]:
                continue
            return username
    raise AssertionError(f"no demo account opens {path}")


def _sign_in(page: Page, base: str, username: str, password: str) -> None:
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _left_over(page: Page, words: list[str]) -> list[str]:
    read = str(page.evaluate(READ))
    lines = []
    for line in read.splitlines():
        if not CJK.search(line):
            continue
        for word in words:
            if word in line:
                line = line.replace(word, "")
        if CJK.search(line):
            lines.append(line.strip()[:200])
    return sorted(set(lines))


PHONE = {"width": 390, "height": 844}
PHONE_ROLES = {
    "/m/": {Role.patrol_member},
    "/m/cases": {Role.grid_officer},
    "/m/inspect": {Role.inspector},
}
# The phone's public pages: a resident's report, and their own case by its key.
PUBLIC_PHONE = ("/m/report", "/m/case/{token}", "/m/volunteer")
DESK = {"width": 1366, "height": 768}


@dataclass
class Walk:
    """What the walk met on each page: Chinese left (English only), script errors, requests
    that failed."""

    chinese: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)

    def report(self) -> str:
        parts = [f"{where}:\n    " + "\n    ".join(lines) for where, lines in self.chinese.items()]
        parts += [f"{where} (errors):\n    " + "\n    ".join(e) for where, e in self.errors.items()]
        return "\n".join(parts)


def walk(live: Live, passwords: dict[str, str], browser: Browser, lang: str) -> Walk:
    """Every page of the application, each opened by a demo account that may, in `lang`: the
    phone's pages in a phone's window, the console's at 1366×768."""
    base = f"http://127.0.0.1:{live.port}"
    words = _user_words(live)
    ids = _ids(live)
    pages = pages_of(create_app(live.settings))
    assert len(pages) >= 20
    by_account: dict[str, list[str]] = {}
    for path, perm in pages.items():
        by_account.setdefault(_account_for(path, perm), []).append(path.format(**ids))
    seen = Walk()
    for username, paths in by_account.items():
        phone = any(p.startswith("/m") for p in paths)
        context = browser.new_context(viewport=PHONE if phone else DESK)
        page = context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc, into=problems: into.append(f"script: {exc}"))
        page.on(
            "console",
            lambda m, into=problems: (
                into.append(f"console: {m.text}") if m.type == "error" else None
            ),
        )
        page.on(
            "response",
            lambda r, into=problems: (
                into.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.url.startswith(base)
                else None
            ),
        )
        page.goto(f"{base}/login?lang={lang}")
        if lang == "en":
            seen.chinese["/login"] = _left_over(page, words)
        _sign_in(page, base, username, passwords[username])
        for path in paths:
            problems.clear()
            response = page.goto(f"{base}{path}")
            assert response is not None and response.status == 200, (username, path)
            page.wait_for_load_state("networkidle")
            shown = page.evaluate("document.documentElement.lang")
            assert shown == ("en" if lang == "en" else "zh-CN"), (path, shown)
            where = f"{path} ({username})"
            if lang == "en":
                seen.chinese[where] = _left_over(page, words)
            if problems:
                seen.errors[where] = list(problems)
        context.close()
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"script: {exc}"))
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and r.url.startswith(base)
            else None
        ),
    )
    for path in PUBLIC_PHONE:
        problems.clear()
        response = page.goto(f"{base}{path.format(**ids)}?lang={lang}")
        assert response is not None and response.status == 200, path
        page.wait_for_load_state("networkidle")
        if lang == "en":
            seen.chinese[path] = _left_over(page, words)
        if problems:
            seen.errors[path] = list(problems)
    context.close()
    seen.chinese = {where: lines for where, lines in seen.chinese.items() if lines}
    return seen


def test_every_page_in_chinese_opens_without_an_error(
    demo: tuple[Live, dict[str, str]], browser: Browser
) -> None:
    """Each page against the running demo, in the default language: no script error, no
    request of its own that fails."""
    seen = walk(*demo, browser, "zh")
    assert not seen.errors, seen.report()


def test_every_page_in_english_has_no_chinese_outside_user_data(
    demo: tuple[Live, dict[str, str]], browser: Browser
) -> None:
    live, passwords = demo
    seen = walk(live, passwords, browser, "en")
    assert not seen.chinese and not seen.errors, "On English pages:\n" + seen.report()
    # The walk saw the demo's records, not empty tables.
    engine = make_engine(live.settings)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(text("alarms"))).scalar_one() > 1000
    engine.dispose()
