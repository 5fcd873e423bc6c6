"""What every page shares: the language, the menu a role sees, the words handed to scripts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from pingan.alarms.flows import ACTION_LABEL, ENTRY_LABEL, Action
from pingan.alarms.models import CATEGORY_LABEL, STATE_LABEL, AlarmState
from pingan.api_common import request_lang
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.faces.models import PURPOSE_LABEL, REASON_LABEL
from pingan.i18n import N_, gettext
from pingan.territory.models import RELATION_LABEL, RESIDENCE_LABEL

# Enumerated values stored as keys, shown in the page's language: _(labels.relation[p.relation]).
LABELS: dict[str, Mapping[Any, str]] = {
    "relation": RELATION_LABEL,
    "residence": RESIDENCE_LABEL,
    "purpose": PURPOSE_LABEL,
    "reason": REASON_LABEL,
}


def lang_of(request: Request) -> str:
    """Pages are Chinese unless English was chosen with the switch (?lang=en, then a cookie)."""
    return request_lang(request, header=False)


@dataclass(frozen=True)
class MenuItem:
    href: str
    label: str
    perm: Perm | tuple[Perm, ...]  # any of them
    key: str  # Alt+key jumps there

    def open_to(self, principal: Principal) -> bool:
        perms = self.perm if isinstance(self.perm, tuple) else (self.perm,)
        return principal.holds(*perms)


PHONE = "/m/"  # the patrol phone page, and the scope of its service worker

MENU: tuple[MenuItem, ...] = (
    MenuItem("/desk", N_("报警值班台"), Perm.alarms_read, "1"),
    MenuItem("/incidents", N_("网格事件"), (Perm.incidents_read, Perm.incidents_streets), "e"),
    MenuItem("/facilities", N_("物防设施"), Perm.facilities_read, "f"),
    MenuItem("/map", N_("地图"), Perm.territory_read, "2"),
    MenuItem("/devices", N_("设备监测"), Perm.devices_read, "3"),
    MenuItem("/stats", N_("统计分析"), Perm.alarms_read, "4"),
    MenuItem("/targets", N_("目标任务"), Perm.targets_read, "t"),
    MenuItem("/territory", N_("辖区"), Perm.territory_read, "5"),
    MenuItem("/faces", N_("人脸"), (Perm.faces_search, Perm.faces_enrol, Perm.watch_care), "0"),
    MenuItem("/patrol", N_("群防群治"), Perm.patrol_manage, "7"),
    MenuItem("/volunteers", N_("志愿服务"), Perm.volunteers_read, "v"),
    MenuItem(PHONE, N_("巡逻手机页"), Perm.patrol_run, "8"),
    MenuItem("/admin", N_("管理"), Perm.users_read, "9"),
)


OWN = MenuItem("/me", N_("我的信息"), Perm.territory_read, "6")


def menu(principal: Principal) -> list[MenuItem]:
    items = [m for m in MENU if m.open_to(principal)]
    return [*items, OWN] if principal.person_id is not None else items


def home_of(principal: Principal) -> str:
    if principal.paths(Perm.patrol_run) and not principal.paths(Perm.people_read):
        return PHONE  # patrol members and volunteers (no access to residents' records)
    if principal.person_id is not None and not principal.paths(Perm.alarms_read):
        return OWN.href  # a resident lands on their own page
    items = menu(principal)
    return items[0].href if items else "/territory"


def alarm_words(request: Request) -> dict[str, Any]:
    """Labels of states, actions, categories and the rules' titles for the scripts of the desk,
    alarm and phone pages, in the page's language."""
    lang = lang_of(request)
    titles = request.app.state.runtime.rules.titles()
    return {
        "titles": {t: gettext(t, lang) for t in sorted(titles)},
        "states": {s.value: gettext(STATE_LABEL[s], lang) for s in AlarmState},
        "actions": {a.value: gettext(ACTION_LABEL[a], lang) for a in Action},
        "entries": {k: gettext(v, lang) for k, v in ENTRY_LABEL.items()},
        "categories": {k: gettext(v, lang) for k, v in CATEGORY_LABEL.items()},
        # Dispatched by the platform itself, and no person has acknowledged it yet.
        "unacknowledged": gettext(N_("待人工确认"), lang),
    }
