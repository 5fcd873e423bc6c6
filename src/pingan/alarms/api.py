"""Alarms: the desk, one alarm with its timeline, and the actions on it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Query, Request
from sse_starlette.sse import EventSourceResponse

from pingan.alarms import flows, service
from pingan.alarms.models import Alarm, AlarmState, ChannelRecord
from pingan.alarms.notify import feed, outbox, store
from pingan.alarms.notify.channels import AlarmMessage, DeliveryError, Sender
from pingan.alarms.schemas import (
    ActIn,
    AlarmDetail,
    AlarmOut,
    ChannelIn,
    ChannelOut,
    ChannelTested,
    ChannelUpdate,
    EntryOut,
    NotificationOut,
)
from pingan.api_common import (
    DB,
    Actor,
    DetachedActor,
    Page,
    Paging,
    StrictQuery,
    client_ip,
    needs,
    page_of,
)
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI
from pingan.db.engine import unit_of_work
from pingan.masking import mask
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
    path = territory_service.path_within(session, actor=actor, node_id=within)
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


# --- notification channels, kept in the console -------------------------------------------------


def channel_out(record: ChannelRecord) -> ChannelOut:
    return ChannelOut(
        id=record.id,
        key=record.key,
        name=record.name,
        type=record.type,
        host=urlparse(record.url).hostname if record.url else None,
        has_secret=bool(record.secret),
        to=[mask(t) if record.type == "sms" else t for t in record.to or []],
        every_alarm=record.every_alarm,
        responders=record.responders,
        enabled=record.enabled,
        last_test_at=record.last_test_at,
        last_test_result=record.last_test_result,
    )


@router.get(
    "/notification-channels",
    response_model=list[ChannelOut],
    tags=["notifications"],
    openapi_extra=needs(Perm.channels_manage),
)
def list_channels(actor: Actor, session: DB) -> list[ChannelOut]:
    """The channels kept in the console (the rules file may define more)."""
    return [channel_out(r) for r in store.get_all(session)]


@router.post(
    "/notification-channels",
    response_model=ChannelOut,
    status_code=201,
    tags=["notifications"],
    openapi_extra=needs(Perm.channels_manage),
)
def create_channel(data: ChannelIn, actor: Actor, session: DB) -> ChannelOut:
    """A robot, webhook, mail or SMS channel; its address and key are sealed and never shown."""
    record = store.save(session, actor=actor, record=ChannelRecord(), fields=data.model_dump())
    return channel_out(record)


@router.patch(
    "/notification-channels/{channel_id}",
    response_model=ChannelOut,
    tags=["notifications"],
    openapi_extra=needs(Perm.channels_manage),
)
def update_channel(channel_id: int, data: ChannelUpdate, actor: Actor, session: DB) -> ChannelOut:
    """Change a channel; an address or key left out stays as it is."""
    record = store.get_or_raise(session, channel_id=channel_id)
    fields = data.model_dump(exclude_unset=True)
    return channel_out(store.save(session, actor=actor, record=record, fields=fields))


@router.delete(
    "/notification-channels/{channel_id}",
    status_code=204,
    tags=["notifications"],
    openapi_extra=needs(Perm.channels_manage),
)
def delete_channel(channel_id: int, actor: Actor, session: DB) -> None:
    store.delete(session, actor=actor, record=store.get_or_raise(session, channel_id=channel_id))


@router.post(
    "/notification-channels/{channel_id}/test",
    response_model=ChannelTested,
    tags=["notifications"],
    openapi_extra=needs(Perm.channels_manage),
)
def test_channel(channel_id: int, request: Request, actor: DetachedActor) -> ChannelTested:
    """Send a test message through the channel now, and say what came back (no database
    transaction is held while the robot or the mail server answers)."""
    factory = request.app.state.sessionmaker
    settings = request.app.state.settings
    with unit_of_work(factory, actor=actor.actor, ip=client_ip(request)) as session:
        record = store.get_or_raise(session, channel_id=channel_id)
        channel = store.as_channel(record)
    message = AlarmMessage(
        event="channel.test",
        alarm_id=0,
        priority=4,
        category="test",
        title="测试消息 test message · 平安社区智能化监管平台",
        state="—",
        level=0,
        place="—",
        raised_at=datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"),
        link=settings.public_url,
    )
    sender = Sender(settings)
    try:
        result, ok = sender.send(channel, message), True
    except DeliveryError as exc:
        result, ok = str(exc), False
    except (ValueError, TypeError, UnicodeError) as exc:  # an address the peer cannot take
        result, ok = f"{channel.type} {channel.id}: {type(exc).__name__}: {exc}", False
    finally:
        sender.close()
    with unit_of_work(factory, actor=actor.actor, ip=client_ip(request)) as session:
        store.tested(
            session, record=store.get_or_raise(session, channel_id=channel_id), result=result
        )
    return ChannelTested(ok=ok, result=result)
