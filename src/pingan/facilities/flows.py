"""The stages of a renovation project, every allowed move in one table.

计划 planned → 居民议事 consulted (a residents' meeting recorded, with its minutes) → 立项 approved
(only when the residents agreed) → 施工 in works (never without that agreement: 先自治后整治) →
竣工验收 accepted (the register takes the items it brings) → 常态管理 managed. A project the
residents refused, or one given up, is dropped. A further meeting may be held while consulted.
"""

from __future__ import annotations

import enum

from pingan.facilities.models import ProjectState as S
from pingan.i18n import N_


class Action(enum.StrEnum):
    consult = "consult"  # recorded with the consultation itself
    approve = "approve"
    start = "start"
    accept = "accept"
    manage = "manage"
    drop = "drop"


ACTION_LABEL: dict[Action, str] = {
    Action.consult: N_("居民议事"),
    Action.approve: N_("立项"),
    Action.start: N_("开工"),
    Action.accept: N_("竣工验收"),
    Action.manage: N_("转入常态管理"),
    Action.drop: N_("终止"),
}

MOVES: dict[S, dict[Action, S]] = {
    S.planned: {Action.consult: S.consulted, Action.drop: S.dropped},
    S.consulted: {Action.consult: S.consulted, Action.approve: S.approved, Action.drop: S.dropped},
    S.approved: {Action.start: S.in_works, Action.drop: S.dropped},
    S.in_works: {Action.accept: S.accepted},
    S.accepted: {Action.manage: S.managed},
    S.managed: {},
    S.dropped: {},
}

# The date column each stage reached is kept in.
STAGE_DATE: dict[S, str] = {
    S.consulted: "consulted_on",
    S.approved: "approved_on",
    S.in_works: "works_on",
    S.accepted: "accepted_on",
    S.managed: "managed_on",
}
# Renovated: the works are done (accepted, then in normal management).
DONE = frozenset({S.accepted, S.managed})


def next_state(state: S, action: Action) -> S | None:
    return MOVES[state].get(action)


def allowed(state: S) -> list[Action]:
    """The moves a person may make now (a consultation is recorded by its own form)."""
    return [a for a in MOVES[state] if a != Action.consult]
