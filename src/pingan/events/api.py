"""Events as stored, and dead letters: list, read, replay."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from pingan.api_common import DB, Actor, Page, Paging, StrictQuery, needs, page_of
from pingan.auth.roles import Perm
from pingan.events import service
from pingan.events.models import DeadLetter
from pingan.events.schemas import DeadLetterOut, EventOut

router = APIRouter(dependencies=[StrictQuery], tags=["events"])


@router.get("/events", response_model=Page[EventOut], openapi_extra=needs(Perm.devices_read))
def list_events(
    actor: Actor,
    session: DB,
    paging: Paging,
    device_id: int | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[EventOut]:
    rows, total = service.get_all(
        session,
        actor=actor,
        device_id=device_id,
        kind=kind,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([EventOut.model_validate(e) for e in rows], total, paging)


def _letter_out(letter: DeadLetter) -> DeadLetterOut:
    out = DeadLetterOut.model_validate(letter)
    out.raw_text = letter.raw.decode("utf-8", "backslashreplace")
    return out


@router.get(
    "/dead-letters", response_model=Page[DeadLetterOut], openapi_extra=needs(Perm.devices_write)
)
def list_dead_letters(
    actor: Actor,
    session: DB,
    paging: Paging,
    channel: Annotated[str | None, Query(pattern="^(mqtt|http|dc09)$")] = None,
    reason_key: Annotated[str | None, Query(max_length=32)] = None,
    pending: Annotated[bool | None, Query(description="true: not replayed yet")] = None,
) -> Page[DeadLetterOut]:
    """What could not be processed, with the raw message and the reason."""
    rows, total = service.dead_letters(
        session,
        actor=actor,
        channel=channel,
        reason_key=reason_key,
        pending=pending,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([_letter_out(r) for r in rows], total, paging)


@router.get(
    "/dead-letters/{letter_id}",
    response_model=DeadLetterOut,
    openapi_extra=needs(Perm.devices_write),
)
def get_dead_letter(letter_id: int, actor: Actor, session: DB) -> DeadLetterOut:
    return _letter_out(
        service.dead_letter_visible_or_raise(session, actor=actor, letter_id=letter_id)
    )


@router.post(
    "/dead-letters/{letter_id}/replay",
    response_model=DeadLetterOut,
    openapi_extra=needs(Perm.devices_write),
)
def replay_dead_letter(
    letter_id: int, request: Request, actor: Actor, session: DB
) -> DeadLetterOut:
    """Process the message again (after registering its device, say); the outcome is recorded."""
    letter = service.dead_letter_visible_or_raise(session, actor=actor, letter_id=letter_id)
    runtime = request.app.state.runtime
    service.replay(session, letter=letter, pipeline=runtime.pipeline, reparsers=runtime.reparsers)
    return _letter_out(letter)
