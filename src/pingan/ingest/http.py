"""HTTP ingestion: POST /api/v1/ingest/events with the device's own token.

A device request is checked in this order, each step before the next is paid for: the caller's
address is not flooding us with bad tokens, the token names an enabled device (no body read
yet), the body is within its limit (413 otherwise, before it is read into memory). Only then is
it parsed; what a known device sent and cannot be processed (a disabled device's too) is kept as
a dead letter. A request without a valid token is counted in /metrics, never stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from prometheus_client import Counter
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from pingan.api_common import (
    DEVICE,
    PUBLIC,
    StrictQuery,
    bearer,
    body_limit,
    client_ip,
    in_transaction,
    needs,
    read_body,
    size_words,
)
from pingan.db.engine import READONLY, unit_of_work
from pingan.devices import service as device_service
from pingan.devices.service import DeviceInfo
from pingan.errors import Invalid, PinganError, RateLimited, TooLarge, Unauthenticated
from pingan.events.pipeline import dead_letter
from pingan.events.schemas import IngestResult
from pingan.ingest import messages
from pingan.limits import Window

router = APIRouter(dependencies=[StrictQuery], tags=["ingest"])
CHANNEL = "http"
MAX_BODY = 1024 * 1024
STRANGER_FAILURES = 20  # bad tokens from one address within STRANGER_WINDOW_S, then 429
STRANGER_WINDOW_S = 60.0

REFUSED_UNAUTHENTICATED = Counter(
    "pingan_device_requests_unauthenticated_total",
    "Device requests refused for a missing, unknown or disabled token (never stored)",
    ["reason"],
)


class IngestOut(BaseModel):
    results: list[IngestResult]


class Strangers(Window):
    """Addresses sending device requests with bad tokens: past a few a minute they are refused
    without a database lookup."""

    def __init__(self, failures: int = STRANGER_FAILURES, window_s: float = STRANGER_WINDOW_S):
        super().__init__(failures, window_s)

    def failed(self, ip: str) -> None:
        self.hit(ip)


@dataclass(frozen=True)
class DeviceUpload:
    device: DeviceInfo
    raw: bytes
    source: str  # the address and the device's code, for dead letters


def _strangers(request: Request) -> Strangers:
    found: Strangers = request.app.state.strangers  # one per application (app.py)
    return found


def _device_by_token(request: Request, token: str) -> DeviceInfo | None:
    with unit_of_work(request.app.state.sessionmaker, actor="anonymous") as session:
        session.connection(execution_options={READONLY: True})
        return device_service.info_by_token(session, token=token)


async def device_upload(request: Request, what: str) -> DeviceUpload:
    """The device whose bearer token came with the request, and its body (within the route's
    limit)."""
    ip = client_ip(request)
    strangers = _strangers(request)
    wait = strangers.wait_s(ip)
    if wait is not None:
        REFUSED_UNAUTHENTICATED.labels("rate_limited").inc()
        raise RateLimited("device_flood", seconds=wait, headers={"Retry-After": str(wait)})
    token = bearer(request)
    device = await run_in_threadpool(_device_by_token, request, token) if token else None
    if device is None:
        reason = "unknown token" if token else "no device token"
        strangers.failed(ip)
        REFUSED_UNAUTHENTICATED.labels(reason.replace(" ", "_")).inc()
        raise Unauthenticated("device_auth", reason=reason, headers={"WWW-Authenticate": "Bearer"})
    source = f"{ip} {device.code}"
    try:
        raw = await read_body(request, what)
    except TooLarge as exc:
        limit = size_words(body_limit(request))
        raise await keep_refused(
            request, DeviceUpload(device, b"", source), exc, "too_large", f"{what}超过 {limit}"
        ) from None
    upload = DeviceUpload(device, raw, source)
    if not device.enabled:
        # A known device, switched off: what it sent is kept, to be replayed once it is back.
        raise await keep_refused(
            request,
            upload,
            Unauthenticated(
                "device_auth", reason="device disabled", headers={"WWW-Authenticate": "Bearer"}
            ),
            "bad_token",
            "device disabled",
        )
    return upload


async def keep_refused(
    request: Request, upload: DeviceUpload, exc: PinganError, key: str, reason: str
) -> PinganError:
    """Keep what a device sent with the reason it was refused (committed on its own), and give
    back the error to answer with."""

    def keep(session: Session) -> None:
        dead_letter(
            session,
            channel=CHANNEL,
            raw=upload.raw,
            reason_key=key,
            reason=reason,
            source=upload.source,
            device_id=upload.device.id,
        )

    await in_transaction(request, keep)
    return exc


@router.post("/ingest/events", response_model=IngestOut, openapi_extra=needs(DEVICE, body=MAX_BODY))
async def ingest_events(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <device token>")] = None,
    idempotency_key: Annotated[
        str | None, Header(max_length=100, description="Makes a retried request harmless")
    ] = None,
) -> Any:
    """One event, a list, or {"events": [...]} from one device (JSON Schema: /api/v1/ingest/schema.json),
    at most 1 MiB.

    A repeated event id (or Idempotency-Key) is answered `duplicate` and stored once. What cannot
    be processed is answered with a problem and kept as a dead letter with its reason."""
    upload = await device_upload(request, "事件")
    device = upload.device
    pipeline = request.app.state.runtime.pipeline

    def store(session: Session) -> list[Any] | messages.BadMessage:
        try:
            events = messages.parse(upload.raw)
        except messages.BadMessage as exc:
            dead_letter(
                session,
                channel=CHANNEL,
                raw=upload.raw,
                reason_key=exc.key,
                reason=exc.reason,
                source=upload.source,
                device_id=device.id,
            )
            return exc  # the dead letter is committed; the device is told why
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
        return list(pipeline.process(session, items))

    outcomes = await in_transaction(request, store)
    if isinstance(outcomes, messages.BadMessage):
        raise Invalid("bad_event", field=outcomes.field, reason=outcomes.reason)
    return IngestOut(
        results=[
            IngestResult(event_id=o.event_id, status="duplicate" if o.duplicate else "stored")
            for o in outcomes
        ]
    )


@router.get("/ingest/schema.json", openapi_extra=needs(PUBLIC))
def event_schema() -> dict[str, Any]:
    """The JSON Schema of a device event (MQTT payloads and HTTP bodies alike)."""
    return messages.schema()
