"""The alarm lifecycle: every allowed move in one table.

raised → acknowledged → dispatched → on scene → resolved or false alarm → closed
"""

from __future__ import annotations

import enum

from pingan.alarms.models import AlarmState as S


class Action(enum.StrEnum):
    acknowledge = "acknowledge"
    dispatch = "dispatch"
    arrive = "arrive"
    resolve = "resolve"
    false_alarm = "false_alarm"
    close = "close"
    note = "note"


ACTION_LABEL: dict[Action, str] = {
    Action.acknowledge: "确认",
    Action.dispatch: "派警",
    Action.arrive: "到场",
    Action.resolve: "处置完毕",
    Action.false_alarm: "误报",
    Action.close: "关闭",
    Action.note: "备注",
}

MOVES: dict[S, dict[Action, S]] = {
    S.raised: {Action.acknowledge: S.acknowledged, Action.false_alarm: S.false_alarm},
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


def next_state(state: S, action: Action) -> S | None:
    """The state an action leads to, or None when it is not allowed now (a note never moves)."""
    if action == Action.note:
        return state
    return MOVES[state].get(action)


def allowed(state: S) -> list[Action]:
    return [*MOVES[state], Action.note]
