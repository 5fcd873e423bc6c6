"""The device register in the console: every device in scope with filters, registering one
(its place picked from the territory, its position clicked on the map), and one device's page:
its health, events and alarms, and its credentials (an HTTP token, an MQTT password with the
broker's lines, a DC-09 account and key), each shown once. Writes go through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from pingan.alarms import service as alarm_service
from pingan.alarms.models import CATEGORY_LABEL, STATE_LABEL
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.db.paging import page_count
from pingan.devices import service as device_service
from pingan.devices.models import KIND_LABEL, DeviceKind, DeviceStatus, Protocol
from pingan.errors import PinganError
from pingan.events import service as event_service
from pingan.i18n import N_
from pingan.ingest import topics
from pingan.territory import service as territory_service
from pingan.territory.models import KIND_LABEL as NODE_KIND_LABEL
from pingan.territory.models import NodeKind

if TYPE_CHECKING:
    from pingan.web.pages import Pages

PAGE = 50
STATUS_WORDS = {
    DeviceStatus.online: N_("在线"),
    DeviceStatus.offline: N_("离线"),
    DeviceStatus.unknown: N_("从未上线"),
}


def install(app: FastAPI, pages: Pages) -> None:
    def can_write(principal: Principal) -> bool:
        return principal.holds(Perm.devices_write)

    @app.get("/devices/registry", include_in_schema=False)
    def registry(
        request: Request,
        principal: Principal = Depends(pages.viewer(Perm.devices_read)),
        q: str = "",
        kind: DeviceKind | None = None,
        status: DeviceStatus | None = None,
        community: int | None = None,
        page: int = 1,
    ) -> Response:
        page = max(page, 1)
        with pages.session(principal, request) as session:
            try:
                devices, total = device_service.get_all(
                    session,
                    actor=principal,
                    within=community,
                    kind=kind,
                    status=status,
                    q=q.strip() or None,
                    limit=PAGE,
                    offset=(page - 1) * PAGE,
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{community}")
            communities = territory_service.get_all_of_kinds(
                session, actor=principal, kinds=[NodeKind.community], perm=Perm.devices_read
            )
            places = territory_service.names(session, node_ids=[d.node_id for d in devices])
            return pages.render(
                request,
                "device_registry.html",
                principal=principal,
                devices=devices,
                total=total,
                page=page,
                pages_total=page_count(total, PAGE),
                filters={
                    "q": q,
                    "kind": kind.value if kind else "",
                    "status": status.value if status else "",
                    "community": community or "",
                },
                communities=communities,
                places=places,
                kinds=list(DeviceKind),
                kind_label=KIND_LABEL,
                status_words=STATUS_WORDS,
                can_write=can_write(principal),
            )

    @app.get("/devices/new", include_in_schema=False)
    def register(
        request: Request, principal: Principal = Depends(pages.viewer(Perm.devices_write))
    ) -> Response:
        with pages.session(principal, request) as session:
            places = territory_service.get_all_of_kinds(
                session,
                actor=principal,
                kinds=[NodeKind.site, NodeKind.building],
                perm=Perm.devices_write,
            )
            return pages.render(
                request,
                "device_new.html",
                principal=principal,
                places=places,
                node_kind_label=NODE_KIND_LABEL,
                kinds=list(DeviceKind),
                kind_label=KIND_LABEL,
                protocols=list(Protocol),
            )

    @app.get("/devices/{device_id}", include_in_schema=False)
    def device_page(
        request: Request,
        device_id: int,
        principal: Principal = Depends(pages.viewer(Perm.devices_read)),
    ) -> Response:
        with pages.session(principal, request) as session:
            try:
                device = device_service.get_visible_or_raise(
                    session, actor=principal, device_id=device_id
                )
            except PinganError:
                return pages.not_found(request, principal, f"#{device_id}")
            node = territory_service.get_or_raise(session, node_id=device.node_id)
            trail = territory_service.ancestors(session, node=node)
            events, events_total = event_service.get_all(
                session, actor=principal, device_id=device.id, limit=20
            )
            alarms: list[Any] = []
            alarms_total = 0
            if principal.can(Perm.alarms_read, node.path):
                found, alarms_total = alarm_service.get_all(
                    session, actor=principal, device_id=device.id, limit=20
                )
                alarms = list(found)
            now = utcnow()
            return pages.render(
                request,
                "device.html",
                principal=principal,
                device=device,
                trail=trail,
                kind=KIND_LABEL[DeviceKind(device.kind)],
                status_words=STATUS_WORDS,
                silent_s=int((now - device.last_seen_at).total_seconds())
                if device.last_seen_at
                else None,
                events=events,
                events_total=events_total,
                alarms=alarms,
                alarms_total=alarms_total,
                category_label=CATEGORY_LABEL,
                state_label=STATE_LABEL,
                writable=principal.can(Perm.devices_write, node.path),
                acl=topics.broker_acl(),
            )
