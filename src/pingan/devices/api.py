"""The device registry."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Generator
from typing import Annotated, Any
from urllib.parse import urlparse

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from pingan import geojson
from pingan.api_common import (
    DB,
    Actor,
    DetachedActor,
    MapCRS,
    Page,
    Paging,
    StrictQuery,
    client_ip,
    needs,
    page_of,
    request_lang,
)
from pingan.auth import audit
from pingan.auth.roles import Perm
from pingan.db.engine import unit_of_work
from pingan.devices import service
from pingan.devices.models import KIND_LABEL, Device, DeviceKind, DeviceStatus, Protocol
from pingan.devices.schemas import (
    DeviceCreate,
    DeviceOut,
    DeviceToken,
    DeviceUpdate,
    MqttCredentials,
)
from pingan.errors import NotFound
from pingan.i18n import N_, gettext, phrase
from pingan.ingest import topics, video
from pingan.territory import geo
from pingan.territory.geo import CRS

router = APIRouter(dependencies=[StrictQuery], tags=["devices"])


def _out(device: Device) -> DeviceOut:
    out = DeviceOut.model_validate(device)
    out.has_sia_key = bool(device.sia_key)
    out.has_http_token = bool(device.http_token_hash)
    out.has_stream = bool(device.stream_url)
    if device.stream_url:  # never the URL itself: it may carry the camera's password
        where = urlparse(device.stream_url)
        out.stream_host = f"{where.scheme}://{where.hostname}" + (
            f":{where.port}" if where.port else ""
        )
    return out


@router.get("/devices", response_model=Page[DeviceOut], openapi_extra=needs(Perm.devices_read))
def list_devices(
    actor: Actor,
    session: DB,
    paging: Paging,
    within: Annotated[int | None, Query(description="Only devices in this node's subtree")] = None,
    kind: DeviceKind | None = None,
    status: DeviceStatus | None = None,
    protocol: Protocol | None = None,
    q: Annotated[
        str | None, Query(max_length=100, description="Part of the name, or the code")
    ] = None,
) -> Page[DeviceOut]:
    rows, total = service.get_all(
        session,
        actor=actor,
        within=within,
        kind=kind,
        status=status,
        protocol=protocol,
        q=q,
        limit=paging.limit,
        offset=paging.offset,
    )
    return page_of([_out(d) for d in rows], total, paging)


@router.post(
    "/devices", response_model=DeviceOut, status_code=201, openapi_extra=needs(Perm.devices_write)
)
def create_device(data: DeviceCreate, actor: Actor, session: DB) -> DeviceOut:
    return _out(service.create(session, actor=actor, data=data))


@router.get(
    "/devices/{device_id}", response_model=DeviceOut, openapi_extra=needs(Perm.devices_read)
)
def get_device(device_id: int, actor: Actor, session: DB) -> DeviceOut:
    return _out(service.get_visible_or_raise(session, actor=actor, device_id=device_id))


@router.patch(
    "/devices/{device_id}", response_model=DeviceOut, openapi_extra=needs(Perm.devices_write)
)
def update_device(device_id: int, data: DeviceUpdate, actor: Actor, session: DB) -> DeviceOut:
    device = service.get_visible_or_raise(
        session, actor=actor, device_id=device_id, perm=Perm.devices_write
    )
    return _out(service.update_device(session, actor=actor, device=device, data=data))


@router.delete("/devices/{device_id}", status_code=204, openapi_extra=needs(Perm.devices_write))
def delete_device(device_id: int, actor: Actor, session: DB) -> None:
    device = service.get_visible_or_raise(
        session, actor=actor, device_id=device_id, perm=Perm.devices_write
    )
    service.delete(session, device=device)


@router.post(
    "/devices/{device_id}/token",
    response_model=DeviceToken,
    status_code=201,
    openapi_extra=needs(Perm.devices_write),
)
def issue_token(device_id: int, actor: Actor, session: DB) -> DeviceToken:
    """A new HTTP ingest token for the device; the previous one stops working. Shown once."""
    device = service.get_visible_or_raise(
        session, actor=actor, device_id=device_id, perm=Perm.devices_write
    )
    return DeviceToken(device_id=device.id, token=service.issue_http_token(session, device=device))


@router.get(
    "/devices/{device_id}/live.mjpg",
    response_class=StreamingResponse,
    openapi_extra=needs(Perm.devices_read),
)
def live_view(device_id: int, request: Request, actor: DetachedActor) -> StreamingResponse:
    """A camera's live picture (MJPEG, a few frames a second), decoded only while watched.
    Who watched which camera, and when, is written to the audit log."""
    factory = request.app.state.sessionmaker
    with unit_of_work(factory, ip=client_ip(request), actor=actor.actor) as session:
        device = service.get_visible_or_raise(session, actor=actor, device_id=device_id)
        if not device.stream_url:
            raise NotFound(what=phrase(N_("设备 {n} 的视频流"), n=device_id))
        url = device.stream_url
        audit.record(
            session, action="view", entity="devices", entity_id=str(device_id), note="live"
        )
    stop = threading.Event()

    async def body() -> AsyncIterator[bytes]:
        # Frames are read in a worker thread; when the viewer leaves (this task is cancelled)
        # the camera is let go at once, not when the generator happens to be collected.
        pictures: Generator[bytes] = video.live_view(url, stop)
        try:
            while (chunk := await run_in_threadpool(next, pictures, None)) is not None:
                yield chunk
        finally:
            stop.set()  # a frame still being read in its thread ends the generator there
            with contextlib.suppress(ValueError):
                pictures.close()

    return StreamingResponse(
        body(),
        media_type="multipart/x-mixed-replace; boundary=frame",
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    "/devices/{device_id}/mqtt-password",
    response_model=MqttCredentials,
    status_code=201,
    openapi_extra=needs(Perm.devices_write),
)
def mqtt_password(device_id: int, actor: Actor, session: DB) -> MqttCredentials:
    """A new MQTT password for the device and the line for the broker's password file; the
    platform keeps neither (the broker checks the password), so it is shown once."""
    device = service.get_visible_or_raise(
        session, actor=actor, device_id=device_id, perm=Perm.devices_write
    )
    password, line = service.mqtt_credentials(session, device=device)
    return MqttCredentials(
        device_id=device.id,
        username=device.code,
        password=password,
        password_line=line,
        acl=topics.broker_acl(),
    )


@router.get("/map/devices", tags=["map"], openapi_extra=needs(Perm.devices_read))
def map_devices(
    request: Request, actor: Actor, session: DB, crs: MapCRS = CRS.wgs84
) -> dict[str, Any]:
    """Devices in service in your scope as GeoJSON points, with their status."""
    lang = request_lang(request)
    return geojson.collection(
        [
            geojson.feature(
                geojson.point(*geo.from_wgs84(lon, lat, crs)),
                id=device.id,
                name=device.name,
                kind=gettext(KIND_LABEL[DeviceKind(device.kind)], lang),
                status=device.status.value,
                location=device.location,
                site_id=site_id,
            )
            for device, lon, lat, site_id in service.positions(session, actor=actor)
        ]
    )
