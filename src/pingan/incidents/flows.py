"""The workflow of a grid incident: every allowed move in one table.

上报 reported → 立案 accepted (or 不予立案 rejected) → 派遣 assigned (退单 sent back → accepted)
→ 处置 in hand → 反馈 done → 核查 verified (or not fixed → in hand) → 结案 closed.

A duplicate is merged into another case. A closed case the reporter finds not fixed reopens
once (back to its handler); the second time it returns to the community to decide. Beside the
moves, steps that keep the state: a note, an extension asked for and granted or refused (延期),
the street's supervision (督办), and what the platform writes (a reminder, overdue).
"""

from __future__ import annotations

import enum

from pingan.auth.roles import Perm
from pingan.i18n import N_
from pingan.incidents.models import IncidentState as S


class Action(enum.StrEnum):
    accept = "accept"
    reject = "reject"
    merge = "merge"
    assign = "assign"
    send_back = "send_back"
    take = "take"
    done = "done"
    verify = "verify"
    not_fixed = "not_fixed"
    close = "close"
    reopen = "reopen"
    to_community = "to_community"
    extend_ask = "extend_ask"
    extend_grant = "extend_grant"
    extend_refuse = "extend_refuse"
    supervise = "supervise"
    note = "note"


ACTION_LABEL: dict[Action, str] = {
    Action.accept: N_("立案"),
    Action.reject: N_("不予立案"),
    Action.merge: N_("合并"),
    Action.assign: N_("派遣"),
    Action.send_back: N_("退单"),
    Action.take: N_("接单处置"),
    Action.done: N_("处置反馈"),
    Action.verify: N_("核查通过"),
    Action.not_fixed: N_("核查未通过"),
    Action.close: N_("结案"),
    Action.reopen: N_("重新办理"),
    Action.to_community: N_("退回社区"),
    Action.extend_ask: N_("申请延期"),
    Action.extend_grant: N_("批准延期"),
    Action.extend_refuse: N_("不批准延期"),
    Action.supervise: N_("督办"),
    Action.note: N_("备注"),
}

# What the platform and the reporter write on a timeline, beside the moves of staff.
ENTRY_LABEL: dict[str, str] = {
    "reported": N_("上报"),
    "reminded": N_("临期提醒"),
    "overdue": N_("超期"),
    "escalated": N_("超期升级至街道"),
    "rated": N_("评价"),
    "merged_in": N_("合并了重复上报"),
    "linked": N_("关联报警"),
    **{a.value: label for a, label in ACTION_LABEL.items()},
}

MOVES: dict[S, dict[Action, S]] = {
    S.reported: {Action.accept: S.accepted, Action.reject: S.rejected, Action.merge: S.merged},
    S.accepted: {Action.assign: S.assigned, Action.merge: S.merged},
    S.assigned: {
        Action.assign: S.assigned,  # to another handler
        Action.take: S.in_hand,
        Action.done: S.done,
        Action.send_back: S.accepted,
    },
    S.in_hand: {Action.done: S.done, Action.send_back: S.accepted},
    S.done: {Action.verify: S.verified, Action.not_fixed: S.in_hand},
    S.verified: {Action.close: S.closed},
    # Moves the reporter's rating makes (see service.rate), never a person's button.
    S.closed: {Action.reopen: S.assigned, Action.to_community: S.accepted},
    S.rejected: {},
    S.merged: {},
}

# Steps that keep the state, and where they may be taken.
OPEN = frozenset({S.reported, S.accepted, S.assigned, S.in_hand, S.done, S.verified})
STEPS: dict[Action, frozenset[S]] = {
    Action.note: frozenset(S),
    Action.extend_ask: frozenset({S.assigned, S.in_hand}),
    Action.extend_grant: frozenset({S.assigned, S.in_hand}),
    Action.extend_refuse: frozenset({S.assigned, S.in_hand}),
    Action.supervise: frozenset({S.accepted, S.assigned, S.in_hand, S.done, S.verified}),
}

# The permission each action needs in the case's scope. The case's handler may also take, finish,
# send back and ask for time on a case assigned to them without it.
NEEDS: dict[Action, Perm] = {
    Action.accept: Perm.incidents_dispatch,
    Action.reject: Perm.incidents_dispatch,
    Action.merge: Perm.incidents_dispatch,
    Action.assign: Perm.incidents_dispatch,
    Action.close: Perm.incidents_dispatch,
    Action.extend_grant: Perm.incidents_dispatch,
    Action.extend_refuse: Perm.incidents_dispatch,
    Action.send_back: Perm.incidents_work,
    Action.take: Perm.incidents_work,
    Action.done: Perm.incidents_work,
    Action.extend_ask: Perm.incidents_work,
    Action.verify: Perm.incidents_verify,
    Action.not_fixed: Perm.incidents_verify,
    Action.supervise: Perm.incidents_supervise,
    Action.note: Perm.incidents_read,
    Action.reopen: Perm.incidents_dispatch,
    Action.to_community: Perm.incidents_dispatch,
}
HANDLER_ACTIONS = frozenset({Action.take, Action.done, Action.send_back, Action.extend_ask})
# Moves only the platform makes (the reporter's rating), never offered as a button.
RATING_MOVES = frozenset({Action.reopen, Action.to_community})
# Moves that need a reason, and the reasons they take.
REASONS: dict[Action, tuple[str, ...]] = {
    Action.reject: ("duplicate", "not_ours", "not_a_problem"),
    Action.send_back: ("not_ours", "wrong_place", "cannot_handle"),
}
REASON_LABEL: dict[str, str] = {
    "duplicate": N_("重复上报"),
    "not_ours": N_("不属于本部门/本辖区职责"),
    "not_a_problem": N_("不构成问题"),
    "wrong_place": N_("位置有误"),
    "cannot_handle": N_("无力处置"),
}


def next_state(state: S, action: Action) -> S | None:
    """The state an action leads to, or None when it is not allowed now (a step keeps it)."""
    if action in STEPS:
        return state if state in STEPS[action] else None
    return MOVES[state].get(action)


def allowed(state: S) -> list[Action]:
    """What may be done to a case in this state (before anyone's permission is considered)."""
    moves = [a for a in MOVES[state] if a not in RATING_MOVES]
    return [*moves, *(a for a, states in STEPS.items() if state in states)]
