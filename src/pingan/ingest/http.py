"""HTTP ingestion: POST /api/v1/ingest/events with the device's own token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel

from pingan.api_common import DB, StrictQuery, bearer, client_ip
from pingan.devices import service as device_service
from pingan.devices.service import DeviceInfo
from pingan.errors import Invalid, PinganError, Unauthenticated
from pingan.events.pipeline import dead_letter
from pingan.events.schemas import IngestResult
from pingan.ingest import messages

router = APIRouter(dependencies=[StrictQuery], tags=["ingest"])
CHANNEL = "http"
MAX_BODY = 1024 * 1024


class IngestOut(BaseModel):
    results: list[IngestResult]


def refuse(
    session: DB,
    raw: bytes,
    source: str,
    exc: PinganError,
    key: str,
    reason: str,
    device_id: int | None = None,
) -> PinganError:
    """Keep the message with its reason, committed even though the request fails."""
    dead_letter(
        session,
        channel=CHANNEL,
        raw=raw,
        reason_key=key,
        reason=reason,
        source=source,
        device_id=device_id,
    )
    session.commit()
    return exc


def authenticate_device(session: DB, request: Request, raw: bytes, source: str) -> DeviceInfo:
    """The device whose bearer token came with a request; a refused request is kept with why."""
    token = bearer(request)
    device = device_service.info_by_token(session, token=token) if token else None
    if device is None or not device.enabled:
        reason = (
            "no device token"
            if not token
            else ("unknown token" if device is None else "device disabled")
        )
        raise refuse(
            session,
            raw,
            source,
            Unauthenticated("device_auth", reason=reason, headers={"WWW-Authenticate": "Bearer"}),
            "bad_token",
            reason,
            device.id if device else None,
        )
    return device


@router.post("/ingest/events", response_model=IngestOut)
async def ingest_events(
    request: Request,
    session: DB,
    authorization: Annotated[str | None, Header(description="Bearer <device token>")] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=100, description="Makes a retried request harmless")
    ] = None,
) -> Any:
    """One event, a list, or {"events": [...]} from one device (JSON Schema: /api/v1/ingest/schema.json).

    A repeated event id (or Idempotency-Key) is answered `duplicate` and stored once. What cannot
    be processed is answered with a problem and kept as a dead letter with its reason."""
    raw = await request.body()
    source = client_ip(request)
    if len(raw) > MAX_BODY:
        raise refuse(
            session,
            raw[:MAX_BODY],
            source,
            Invalid("bad_event", reason="body over 1 MiB"),
            "too_large",
            "body over 1 MiB",
        )
    device = authenticate_device(session, request, raw, source)
    try:
        events = messages.parse(raw)
    except messages.BadMessage as exc:
        raise refuse(
            session,
            raw,
            f"{source} {device.code}",
            Invalid("bad_event", field=exc.field, reason=exc.reason),
            exc.key,
            exc.reason,
            device.id,
        ) from exc
    items = [
        messages.to_incoming(
            device,
            CHANNEL,
            event,
            fallback_id=(idempotency_key if len(events) == 1 else f"{idempotency_key}.{i}")
            if idempotency_key
            else None,
        )
        for i, event in enumerate(events)
    ]
    outcomes = request.app.state.runtime.pipeline.process(session, items)
    return IngestOut(
        results=[
            IngestResult(event_id=o.event_id, status="duplicate" if o.duplicate else "stored")
            for o in outcomes
        ]
    )


@router.get("/ingest/schema.json")
def event_schema() -> dict[str, Any]:
    """The JSON Schema of a device event (MQTT payloads and HTTP bodies alike)."""
    return messages.schema()
