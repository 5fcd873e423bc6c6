"""Roles and what each may do. A role is always bound to a node of the territory tree."""

from __future__ import annotations

import enum

from pingan.i18n import N_


class Role(enum.StrEnum):
    street_admin = "street_admin"  # 街道管理员
    community_admin = "community_admin"  # 社区管理员
    centre_operator = "centre_operator"  # 综治中心值班员
    site_manager = "site_manager"  # 物业/小区管理员
    grid_officer = "grid_officer"  # 网格员
    patrol_member = "patrol_member"  # 巡逻队员/志愿者
    police_liaison = "police_liaison"  # 辖区公安联络员
    resident = "resident"  # 居民
    street_chief = "street_chief"  # 街长: the cases along the streets in their charge
    city_officer = "city_officer"  # 城管专员: those cases to handle
    inspector = "inspector"  # 安全检查员: inspects sites' physical defence and fire safety


class Perm(enum.StrEnum):
    territory_read = "territory:read"
    territory_write = "territory:write"
    people_read = "people:read"
    people_write = "people:write"
    # Phone and identity-card numbers are masked in every answer; these read one whole, audited.
    people_phone = "people:phone"
    people_id_number = "people:id_number"
    users_read = "users:read"
    users_write = "users:write"
    audit_read = "audit:read"
    devices_read = "devices:read"
    devices_write = "devices:write"
    alarms_read = "alarms:read"
    alarms_handle = "alarms:handle"
    faces_enrol = "faces:enrol"  # record consent, enrol faces, issue cards and PINs
    faces_search = "faces:search"  # where has this person been seen (with a stated reason)
    watch_care = "watch:care"  # care lists: elderly living alone, people with dementia
    watch_blocked = "watch:blocked"  # the blocked list: the police liaison only
    patrol_read = "patrol:read"  # teams, members, who is on duty, routes, runs, coverage
    patrol_manage = "patrol:manage"  # teams, members, rosters, routes, meetings
    patrol_run = "patrol:run"  # walk a route and check in; take dispatched tasks
    channels_manage = "channels:manage"  # notification channels: robots, webhooks, mail, SMS
    incidents_read = "incidents:read"  # grid incidents in scope, their timelines and photos
    incidents_report = "incidents:report"  # report one (patrol finds, a call, an alarm)
    incidents_dispatch = "incidents:dispatch"  # accept, reject, merge, assign, close, extend
    incidents_work = "incidents:work"  # handle one: take it, report it done, send it back
    incidents_verify = "incidents:verify"  # check on site that it is fixed
    incidents_supervise = "incidents:supervise"  # the street's supervision of overdue cases
    # The catalogue, the streets and their chiefs, the Open311 clients' keys: the street's.
    incidents_manage = "incidents:manage"
    # The cases along the streets one is chief or officer of, wherever they lie.
    incidents_streets = "incidents:streets"
    facilities_read = "facilities:read"  # sites' facility registers, inspections, their figures
    facilities_write = "facilities:write"  # keep a site's register and its protection level
    facilities_inspect = "facilities:inspect"  # inspect a site on the phone
    facilities_manage = "facilities:manage"  # the checklist: the street's
    renovation_manage = "renovation:manage"  # renovation projects, their consultations and stages
    targets_read = "targets:read"  # the street's targets and their progress
    targets_write = "targets:write"  # enter a target's value with its evidence
    targets_manage = "targets:manage"  # set the street's targets: the street's
    volunteers_read = "volunteers:read"  # volunteers, activities, hours in scope
    volunteers_manage = "volunteers:manage"  # confirm sign-ups, teams, activities, attendance
    volunteers_programmes = (
        "volunteers:programmes"  # programmes and recognition levels: the street's
    )


# Admins may do everything but enter people on the blocked list: that is the police's.
_ADMIN = frozenset(Perm) - {Perm.watch_blocked}
# The street's own: its catalogue, streets, Open311 keys, notification channels, supervision.
_STREET = frozenset(
    {
        Perm.channels_manage,
        Perm.incidents_manage,
        Perm.incidents_supervise,
        Perm.incidents_streets,
        Perm.facilities_manage,
        Perm.targets_manage,
        Perm.volunteers_programmes,
    }
)
_READ = frozenset({Perm.territory_read, Perm.people_read})
_DESK = frozenset({Perm.devices_read, Perm.alarms_read, Perm.alarms_handle, Perm.patrol_read})

PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.street_admin: _ADMIN,
    # Channels are the whole platform's: one told of every alarm would tell of other communities'.
    Role.community_admin: _ADMIN - _STREET,
    # The desk phones residents and responders; identity numbers are for the household
    # register (grid officers) and the police.
    Role.centre_operator: _READ
    | _DESK
    | {
        Perm.people_phone,
        Perm.incidents_read,
        Perm.incidents_report,
        Perm.incidents_dispatch,
        Perm.facilities_read,
        Perm.targets_read,
        Perm.volunteers_read,
    },
    Role.site_manager: _READ
    | _DESK
    | {
        Perm.people_write,
        Perm.people_phone,
        Perm.devices_write,
        Perm.faces_enrol,
        Perm.patrol_run,
        Perm.incidents_read,
        Perm.incidents_report,
        Perm.incidents_work,
        Perm.facilities_read,
        Perm.facilities_write,
        Perm.facilities_inspect,
    },
    Role.grid_officer: _READ
    | _DESK
    | {
        Perm.people_write,
        Perm.people_phone,
        Perm.people_id_number,
        Perm.faces_enrol,
        Perm.watch_care,
        Perm.incidents_read,
        Perm.incidents_report,
        Perm.incidents_work,
        Perm.incidents_verify,
        Perm.facilities_read,
        Perm.facilities_write,
        Perm.facilities_inspect,
    },
    # Their phone page and what a dispatched task needs (its own steps): nothing of the desk,
    # no cameras, no residents, no notification lists.
    Role.patrol_member: frozenset({Perm.territory_read, Perm.patrol_run, Perm.incidents_report}),
    Role.police_liaison: _READ
    | _DESK
    | {
        Perm.people_phone,
        Perm.people_id_number,
        Perm.faces_search,
        Perm.watch_blocked,
        Perm.patrol_run,
        Perm.incidents_read,
        Perm.incidents_work,
        Perm.facilities_read,
    },
    # A resident reads their own page (their record, household and consent) through their
    # account's person, not through the territory: no part of the map or the register.
    Role.resident: frozenset(),
    # Bound at the street office: the cases along their own streets (not the whole territory),
    # what they find walking them, and (the officer) handling those assigned to them.
    Role.street_chief: frozenset({Perm.incidents_streets, Perm.incidents_report}),
    Role.city_officer: frozenset(
        {Perm.incidents_streets, Perm.incidents_report, Perm.incidents_work}
    ),
    # A safety or fire inspector (the street's safety office, a fire volunteer): the sites'
    # registers and their inspections; what they find goes to the grid through the inspection.
    Role.inspector: frozenset({Perm.territory_read, Perm.facilities_read, Perm.facilities_inspect}),
}

# Who may grant which role: an admin grants roles of lower rank only (street admins grant all).
RANK: dict[Role, int] = {
    Role.street_admin: 3,
    Role.community_admin: 2,
    Role.centre_operator: 1,
    Role.site_manager: 1,
    Role.grid_officer: 1,
    Role.patrol_member: 1,
    Role.police_liaison: 1,
    Role.resident: 0,
    Role.street_chief: 1,
    Role.city_officer: 1,
    Role.inspector: 1,
}

LABEL: dict[Role, str] = {
    Role.street_admin: N_("街道管理员"),
    Role.community_admin: N_("社区管理员"),
    Role.centre_operator: N_("综治中心值班员"),
    Role.site_manager: N_("小区/单位管理员"),
    Role.grid_officer: N_("网格员"),
    Role.patrol_member: N_("巡逻队员"),
    Role.police_liaison: N_("公安联络员"),
    Role.resident: N_("居民"),
    Role.street_chief: N_("街长"),
    Role.city_officer: N_("城管专员"),
    Role.inspector: N_("安全检查员"),
}


def matrix_markdown() -> str:
    """The permission matrix as docs/privacy.md shows it (a test keeps the two the same)."""
    roles = list(Role)
    head = "| permission | " + " | ".join(r.value for r in roles) + " |"
    rule = "|---|" + "---|" * len(roles)
    rows = [
        f"| `{p.value}` | " + " | ".join("✓" if p in PERMISSIONS[r] else "" for r in roles) + " |"
        for p in Perm
    ]
    return "\n".join([head, rule, *rows])
