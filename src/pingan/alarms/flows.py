"""The alarm lifecycle: every allowed move in one table.

raised → acknowledged → dispatched → on scene → resolved or false alarm → closed

Acknowledgement is a person's act. The platform may dispatch a raised alarm by itself (rules
marked `dispatch: true`), which moves it on without acknowledging it: a person's 确认 then records
the time they took, without moving the state (see `UNACKNOWLEDGED`).
"""

from __future__ import annotations

import enum

from pingan.alarms.models import AlarmState as S
from pingan.i18n import N_


class Action(enum.StrEnum):
    acknowledge = "acknowledge"
    dispatch = "dispatch"
    arrive = "arrive"
    resolve = "resolve"
    false_alarm = "false_alarm"
    close = "close"
    note = "note"


ACTION_LABEL: dict[Action, str] = {
    Action.acknowledge: N_("确认"),
    Action.dispatch: N_("派警"),
    Action.arrive: N_("到场"),
    Action.resolve: N_("处置完毕"),
    Action.false_alarm: N_("误报"),
    Action.close: N_("关闭"),
    Action.note: N_("备注"),
}

# What the platform itself writes on a timeline, beside the actions of people.
ENTRY_LABEL: dict[str, str] = {
    "raised": N_("报警"),
    "repeat": N_("再次报警"),
    "restored": N_("恢复"),
    "escalated": N_("升级"),
    "auto_close": N_("自动关闭"),
    "dispatch_offer": N_("派给队员"),
    "dispatch_accept": N_("队员接受任务"),
    "dispatch_en_route": N_("队员正在前往"),
    "dispatch_on_scene": N_("队员已到场"),
    "dispatch_resolve": N_("队员处置完毕"),
    "dispatch_decline": N_("队员无法前往"),
    "dispatch_timeout": N_("超时未接，转派"),
    "dispatch_none": N_("无人可派"),
    "dispatch_cancel": N_("派单取消"),
    "incident": N_("转为网格事件"),
    "incident_closed": N_("网格事件已结案"),
    **{a.value: label for a, label in ACTION_LABEL.items()},
}

MOVES: dict[S, dict[Action, S]] = {
    S.raised: {
        Action.acknowledge: S.acknowledged,
        Action.dispatch: S.dispatched,
        Action.false_alarm: S.false_alarm,
    },
    S.acknowledged: {
        Action.dispatch: S.dispatched,
        Action.resolve: S.resolved,
        Action.false_alarm: S.false_alarm,
    },
    S.dispatched: {
        Action.arrive: S.on_scene,
        Action.resolve: S.resolved,
        Action.false_alarm: S.false_alarm,
    },
    S.on_scene: {Action.resolve: S.resolved, Action.false_alarm: S.false_alarm},
    S.resolved: {Action.close: S.closed},
    S.false_alarm: {Action.close: S.closed},
    S.closed: {},
}


# States in which an alarm the platform dispatched by itself still waits for a person's 确认.
UNACKNOWLEDGED = frozenset({S.dispatched, S.on_scene})


def next_state(state: S, action: Action, *, acknowledged: bool = True) -> S | None:
    """The state an action leads to, or None when it is not allowed now (a note never moves,
    nor does the late acknowledgement of an alarm dispatched without one)."""
    if action == Action.note:
        return state
    if action == Action.acknowledge and not acknowledged and state in UNACKNOWLEDGED:
        return state
    return MOVES[state].get(action)


def allowed(state: S, *, acknowledged: bool = True) -> list[Action]:
    late = [Action.acknowledge] if not acknowledged and state in UNACKNOWLEDGED else []
    return [*late, *MOVES[state], Action.note]
