"""Alarms: the desk, one alarm with its timeline, and the actions on it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from pingan.alarms import flows, service
from pingan.alarms.models import Alarm, AlarmState
from pingan.alarms.notify import feed, outbox
from pingan.alarms.schemas import ActIn, AlarmDetail, AlarmOut, EntryOut, NotificationOut
from pingan.api_common import DB, Actor, DetachedActor, Page, Paging, StrictQuery, needs, page_of
from pingan.auth.roles import Perm
from pingan.territory import service as territory_service

router = APIRouter(dependencies=[StrictQuery], tags=["alarms"])


def _out(alarm: Alarm) -> AlarmOut:
    out = AlarmOut.model_validate(alarm)
    out.actions = flows.allowed(alarm.state, acknowledged=alarm.acknowledged)
    return out


@router.get("/alarms", response_model=Page[AlarmOut], openapi_extra=needs(Perm.alarms_read))
def list_alarms(
    actor: Actor,
    session: DB,
    paging: Paging,
    desk: Annotated[
        bool, Query(description="Open alarms that reached your desk's level, P1 first")
    ] = False,
    open: Annotated[bool, Query(description="Only alarms not yet resolved")] = False,
    state: AlarmState | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    priority: Annotated[int | None, Query(ge=1, le=4)] = None,
    within: Annotated[int | None, Query(description="Only alarms in this node's subtree")] = None,
    device_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AlarmOut]:
    path = (
        territory_service.get_visible_or_raise(session, actor=actor, node_id=within).path
        if within
        else None
    )
    rows, total = service.get_all(
        session,
        actor=actor,
        desk=desk,
        open_only=open,
        state=state,
        category=category,
        priority=priority,
        within_path=path,
        device_id=device_id,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([_out(a) for a in rows], total, paging)


@router.get(
    "/alarms/stream", response_class=EventSourceResponse, openapi_extra=needs(Perm.alarms_read)
)
async def stream(request: Request, actor: DetachedActor) -> EventSourceResponse:
    """Server-sent events: every new alarm and every change of one within your scope, as it
    happens (event `alarm`, data: the change as JSON). Browsers use the login cookie."""
    live_feed: feed.Feed = request.app.state.workers.feed
    sub = live_feed.subscribe(actor)

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "hello", "data": json.dumps({"cursor": live_feed.cursor})}
            while True:
                item = await sub.queue.get()
                yield {
                    "event": "alarm",
                    "id": str(item["entry_id"]),
                    "data": json.dumps(item, ensure_ascii=False),
                }
        finally:
            live_feed.unsubscribe(sub)

    return EventSourceResponse(events(), ping=15)


@router.get(
    "/notifications", response_model=Page[NotificationOut], openapi_extra=needs(Perm.alarms_read)
)
def list_notifications(
    actor: Actor,
    session: DB,
    paging: Paging,
    status: Annotated[str | None, Query(pattern="^(pending|sending|sent|failed)$")] = None,
    alarm_id: int | None = None,
) -> Page[NotificationOut]:
    """Messages sent (or still to send) about alarms, with attempts and the last error."""
    rows, total = service.notifications(
        session,
        actor=actor,
        status=status,
        alarm_id=alarm_id,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([NotificationOut.model_validate(n) for n in rows], total, paging)


@router.post(
    "/notifications/{notification_id}/retry",
    response_model=NotificationOut,
    openapi_extra=needs(Perm.alarms_handle),
)
def retry_notification(notification_id: int, actor: Actor, session: DB) -> NotificationOut:
    row = service.notification_visible_or_raise(
        session, actor=actor, notification_id=notification_id
    )
    outbox.retry(session, notification=row)
    return NotificationOut.model_validate(row)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail, openapi_extra=needs(Perm.alarms_read))
def get_alarm(alarm_id: int, actor: Actor, session: DB) -> AlarmDetail:
    alarm = service.get_visible_or_raise(session, actor=actor, alarm_id=alarm_id)
    return AlarmDetail(
        **_out(alarm).model_dump(),
        timeline=[EntryOut.model_validate(e) for e in service.timeline(session, alarm=alarm)],
    )


@router.post(
    "/alarms/{alarm_id}/actions", response_model=AlarmOut, openapi_extra=needs(Perm.alarms_handle)
)
def act(alarm_id: int, data: ActIn, actor: Actor, session: DB) -> AlarmOut:
    """acknowledge, dispatch, arrive, resolve, false_alarm, close or note; recorded on the timeline."""
    alarm = service.get_visible_or_raise(session, actor=actor, alarm_id=alarm_id)
    return _out(
        service.act(
            session,
            actor=actor,
            alarm=alarm,
            action=data.action,
            note=data.note,
            expected_version=data.version,
        )
    )
