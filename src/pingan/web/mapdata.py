"""The map's layers as GeoJSON (WGS-84): boundaries, sites coloured by open alarms, devices,
and the responders on duty.

Only what the asking user may see: territory for boundaries and sites, devices for devices,
alarms for the counts on sites.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.alarms.models import OPEN_STATES, Alarm
from pingan.api_common import DB, Actor, StrictQuery, needs, request_lang
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.devices.models import KIND_LABEL, Device, DeviceKind
from pingan.i18n import gettext
from pingan.patrol import dispatch
from pingan.patrol.models import Member, Shift, Team
from pingan.territory.models import (
    SITE_TYPE_LABEL,
    NodeKind,
    Person,
    TerritoryNode,
    ancestor_id,
    ancestor_path,
)

router = APIRouter(dependencies=[StrictQuery], tags=["map"])
Layer = Literal["boundaries", "sites", "devices", "responders"]
RESPONDER_FRESH = timedelta(minutes=30)  # an older position says nothing of where they are


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def boundaries(session: Session, *, actor: Principal) -> dict[str, Any]:
    nodes = session.scalars(
        select(TerritoryNode)
        .where(
            TerritoryNode.kind.in_([NodeKind.community, NodeKind.grid]),
            TerritoryNode.boundary.is_not(None),
            actor.filter(TerritoryNode.path, Perm.territory_read),
        )
        .order_by(TerritoryNode.path)
    )
    return _collection(
        [
            _feature(json.loads(n.boundary or "null"), id=n.id, kind=n.kind.value, name=n.name)
            for n in nodes
        ]
    )


def sites(session: Session, *, actor: Principal, lang: str) -> dict[str, Any]:
    open_by_site: dict[str, tuple[int, int]] = {}  # site path → (open alarms, top priority)
    rows = session.execute(
        select(Alarm.path, func.count(), func.min(Alarm.priority))
        .where(
            Alarm.state.in_([s.value for s in OPEN_STATES]),
            actor.filter(Alarm.path, Perm.alarms_read),
        )
        .group_by(Alarm.path)
    )
    for path, count, top in rows:
        site = ancestor_path(path, NodeKind.site) or path
        was_count, was_top = open_by_site.get(site, (0, 9))
        open_by_site[site] = (was_count + count, min(was_top, top))
    nodes = session.scalars(
        select(TerritoryNode).where(
            TerritoryNode.kind == NodeKind.site,
            TerritoryNode.lon.is_not(None),
            actor.filter(TerritoryNode.path, Perm.territory_read),
        )
    )
    features = []
    for n in nodes:
        count, top = open_by_site.get(n.path, (0, 0))
        features.append(
            _feature(
                {"type": "Point", "coordinates": [n.lon, n.lat]},
                id=n.id,
                name=n.name,
                site_type=gettext(SITE_TYPE_LABEL[n.site_type], lang) if n.site_type else None,
                open_alarms=count,
                top_priority=top or None,
            )
        )
    return _collection(features)


def devices(session: Session, *, actor: Principal, lang: str) -> dict[str, Any]:
    site = select(TerritoryNode.path, TerritoryNode.lon, TerritoryNode.lat).where(
        TerritoryNode.kind == NodeKind.site,
        actor.filter(TerritoryNode.path, Perm.devices_read),
    )
    site_points = {path: (lon, lat) for path, lon, lat in session.execute(site)}
    rows = session.execute(
        select(Device, TerritoryNode.path)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(Device.enabled, actor.filter(TerritoryNode.path, Perm.devices_read))
    )
    features = []
    for device, path in rows:
        lon, lat = device.lon, device.lat
        if lon is None or lat is None:
            point = site_points.get(ancestor_path(path, NodeKind.site) or path)
            if point is None or point[0] is None or point[1] is None:
                continue
            # Without a surveyed position a device sits around its site's point, not on it.
            angle = (device.id * 137.5) % 360
            lon = point[0] + 0.0002 * math.cos(math.radians(angle))
            lat = point[1] + 0.0002 * math.sin(math.radians(angle))
        features.append(
            _feature(
                {"type": "Point", "coordinates": [lon, lat]},
                id=device.id,
                name=device.name,
                kind=gettext(KIND_LABEL[DeviceKind(device.kind)], lang),
                status=device.status.value,
                location=device.location,
                site_id=ancestor_id(path, NodeKind.site),
            )
        )
    return _collection(features)


def responders(session: Session, *, actor: Principal) -> dict[str, Any]:
    """Responders on duty now whose phone sent a position in the last half hour: those the centre
    can dispatch to. Nobody off duty is shown, nor anyone's track."""
    now = utcnow()
    busy = dispatch.busy(session)
    rows = session.execute(
        select(Member, Person.name, Team.name)
        .join(Person, Person.id == Member.person_id)
        .join(Team, Team.id == Member.team_id)
        .join(Shift, Shift.member_id == Member.id)
        .where(
            Member.active,
            Shift.starts_at <= now,
            Shift.ends_at > now,
            Member.last_position_at >= now - RESPONDER_FRESH,
            actor.filter(Member.path, Perm.alarms_handle),
        )
        .distinct()
    )
    return _collection(
        [
            _feature(
                {"type": "Point", "coordinates": [member.last_lon, member.last_lat]},
                id=member.id,
                name=name,
                team=team,
                seen_at=member.last_position_at.isoformat() if member.last_position_at else None,
                busy=member.id in busy,
            )
            for member, name, team in rows
        ]
    )


@router.get("/map/{layer}", openapi_extra=needs(Perm.territory_read))
def layer(layer: Layer, request: Request, actor: Actor, session: DB) -> dict[str, Any]:
    """One map layer as a GeoJSON FeatureCollection (WGS-84)."""
    lang = request_lang(request)
    if layer == "boundaries":
        return boundaries(session, actor=actor)
    if layer == "sites":
        return sites(session, actor=actor, lang=lang)
    if layer == "responders":
        return responders(session, actor=actor)
    return devices(session, actor=actor, lang=lang)
