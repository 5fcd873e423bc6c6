"""The device registry and liveness. Flushes only; the caller commits."""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from pingan.auth import audit
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import secrets_ready, utcnow
from pingan.db.paging import paginate
from pingan.devices.models import Device, DeviceKind, DeviceStatus, Protocol, default_supervision_s
from pingan.devices.schemas import DeviceCreate, DeviceFields, DeviceUpdate
from pingan.errors import Conflict, DataKeyMissing, Invalid, NotFound
from pingan.i18n import N_, Phrase, phrase
from pingan.territory import geo
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, TerritoryNode, ancestor_id, ancestor_path

DEVICE_NODE_KINDS = {NodeKind.site, NodeKind.building}


@dataclass(frozen=True)
class DeviceInfo:
    """What ingestion needs to know of a device, detached from any session."""

    id: int
    code: str
    name: str
    kind: str
    protocol: str
    node_id: int
    path: str
    location: str | None
    is_exit: bool
    enabled: bool
    sia_account: str | None
    sia_key: str | None
    sia_key_hex: bool
    sia_require_timestamp: bool | None = None  # None: when the account has a key
    face_fpir: float | None = None  # a face door's own target (None: the platform's)
    face_second_factor: str | None = None  # "card" or "pin" asked with the face at this door


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_INFO_COLUMNS = (
    Device.id,
    Device.code,
    Device.name,
    Device.kind,
    Device.protocol,
    Device.node_id,
    TerritoryNode.path,
    Device.location,
    Device.is_exit,
    Device.enabled,
    Device.sia_account,
    Device.sia_key,
    Device.sia_key_hex,
    Device.sia_require_timestamp,
    Device.face_fpir,
    Device.face_second_factor,
)


def _info_query() -> Select[*tuple[Any, ...]]:
    # Plain rows, not ORM objects: this runs for every batch of incoming messages.
    stmt: Select[*tuple[Any, ...]] = select(*_INFO_COLUMNS).join(
        TerritoryNode, TerritoryNode.id == Device.node_id
    )
    return stmt


def _info(row: Any) -> DeviceInfo:
    return DeviceInfo(
        id=row.id,
        code=row.code,
        name=row.name,
        kind=str(row.kind.value if hasattr(row.kind, "value") else row.kind),
        protocol=str(row.protocol.value if hasattr(row.protocol, "value") else row.protocol),
        node_id=row.node_id,
        path=row.path,
        location=row.location,
        is_exit=bool(row.is_exit),
        enabled=row.enabled,
        sia_account=row.sia_account,
        sia_key=row.sia_key,
        sia_key_hex=row.sia_key_hex,
        sia_require_timestamp=row.sia_require_timestamp,
        face_fpir=row.face_fpir,
        face_second_factor=row.face_second_factor,
    )


def infos_by_codes(session: Session, *, codes: Iterable[str]) -> dict[str, DeviceInfo]:
    wanted = set(codes)
    if not wanted:
        return {}
    rows = session.execute(_info_query().where(Device.code.in_(wanted)))
    return {row.code: _info(row) for row in rows}


def info_by_id(session: Session, *, device_id: int) -> DeviceInfo | None:
    row = session.execute(_info_query().where(Device.id == device_id)).first()
    return _info(row) if row else None


def info_by_token(session: Session, *, token: str) -> DeviceInfo | None:
    row = session.execute(_info_query().where(Device.http_token_hash == digest(token))).first()
    return _info(row) if row else None


def info_by_account(session: Session, *, account: str) -> DeviceInfo | None:
    row = session.execute(_info_query().where(Device.sia_account == account.upper())).first()
    return _info(row) if row else None


# --- registry ----------------------------------------------------------------------------------


def _what(device_id: int) -> Phrase:
    return phrase(N_("设备 {n}"), n=device_id)


def get_visible_or_raise(
    session: Session, *, actor: Principal, device_id: int, perm: Perm = Perm.devices_read
) -> Device:
    device = session.get(Device, device_id)
    if device is None:
        raise NotFound(what=_what(device_id))
    node = session.get(TerritoryNode, device.node_id)
    actor.require(perm, node.path if node else None, _what(device_id))
    return device


def get_all(
    session: Session,
    *,
    actor: Principal,
    within: int | None = None,
    kind: str | None = None,
    status: str | None = None,
    protocol: str | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Device], int]:
    stmt = (
        select(Device)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(actor.filter(TerritoryNode.path, Perm.devices_read))
    )
    if within is not None:
        root = territory_service.get_visible_or_raise(session, actor=actor, node_id=within)
        stmt = stmt.where(TerritoryNode.path.startswith(root.path, autoescape=True))
    if kind:
        stmt = stmt.where(Device.kind == kind)
    if status:
        stmt = stmt.where(Device.status == status)
    if protocol:
        stmt = stmt.where(Device.protocol == protocol)
    if q:
        stmt = stmt.where(Device.name.contains(q, autoescape=True) | (Device.code == q))
    return paginate(session, stmt, order_by=Device.id, limit=limit, offset=offset)


def _check_node(session: Session, *, actor: Principal, node_id: int) -> TerritoryNode:
    node = territory_service.get_visible_or_raise(
        session, actor=actor, node_id=node_id, perm=Perm.devices_write
    )
    if node.kind not in DEVICE_NODE_KINDS:
        raise Invalid(
            "bad_parent", field="node_id", kind=N_("设备"), expected=N_("小区/单位或楼栋")
        )
    return node


def _check_key(data: DeviceFields, device: Device) -> None:
    key = data.sia_key if data.sia_key is not None else device.sia_key
    hex_key = data.sia_key_hex if data.sia_key_hex is not None else device.sia_key_hex
    if not key:
        return
    if hex_key:
        ok = len(key) in (32, 48, 64) and all(c in "0123456789abcdefABCDEF" for c in key)
        reason = "十六进制密钥应为 32、48 或 64 位十六进制数字"
    else:
        ok = len(key) in (16, 24, 32) and key.isascii()
        reason = "ASCII 密钥应为 16、24 或 32 个字符"
    if not ok:
        raise Invalid(field="sia_key", fields=f"sia_key（{reason}）")


def _apply(session: Session, device: Device, data: DeviceFields) -> None:
    fields = data.model_dump(exclude_unset=True, exclude={"crs"})
    if (fields.get("sia_key") or fields.get("stream_url")) and not secrets_ready():
        raise DataKeyMissing()  # never kept in the clear: they are sealed under the data key
    if "lon" in fields or "lat" in fields:
        lon, lat = fields.get("lon", device.lon), fields.get("lat", device.lat)
        geo.check_position(lon, lat)
        if lon is not None and lat is not None:
            fields["lon"], fields["lat"] = geo.to_wgs84(lon, lat, data.crs)
    if fields.get("sia_account"):
        fields["sia_account"] = fields["sia_account"].upper()
    _check_key(data, device)
    for key, value in fields.items():
        setattr(device, key, value)


def create(session: Session, *, actor: Principal, data: DeviceCreate) -> Device:
    _check_node(session, actor=actor, node_id=data.node_id)
    device = Device(
        code=data.code,
        kind=data.kind,
        protocol=data.protocol,
        node_id=data.node_id,
        name=data.name,
        supervision_s=data.supervision_s or default_supervision_s(data.protocol),
        sia_key_hex=True,
        is_exit=False,
        enabled=True,
        status=DeviceStatus.unknown,
    )
    _apply(session, device, data)
    session.add(device)
    _flush(session)
    return device


def update_device(
    session: Session, *, actor: Principal, device: Device, data: DeviceUpdate
) -> Device:
    if data.node_id is not None and data.node_id != device.node_id:
        _check_node(session, actor=actor, node_id=data.node_id)
    _apply(session, device, data)
    _flush(session)
    return device


def delete(session: Session, *, device: Device) -> None:
    """Only a device that never reported: otherwise its history would go with it."""
    from pingan.events.models import Event

    if session.scalar(select(Event.id).where(Event.device_id == device.id).limit(1)) is not None:
        raise Conflict(
            field="enabled", reason=N_("设备已有事件记录，请停用（enabled=false）而不是删除")
        )
    session.delete(device)
    _flush(session)


def _flush(session: Session) -> None:
    from sqlalchemy.exc import IntegrityError

    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(reason=N_("设备编号或 DC-09 账号已被使用")) from exc


def issue_http_token(session: Session, *, device: Device) -> str:
    """A new ingest token for the device (the old one stops working)."""
    raw = f"pd_{secrets.token_urlsafe(32)}"
    device.http_token_hash = digest(raw)
    session.flush()
    return raw


# --- liveness ----------------------------------------------------------------------------------


SEEN_GRANULARITY = timedelta(seconds=5)  # supervision windows are ≥ 10 s: no need to be finer


MOSQUITTO_ITERATIONS = 101  # mosquitto_passwd's PBKDF2-SHA512 ($7$) defaults
MOSQUITTO_SALT_BYTES = 12


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A password in Mosquitto 2's password-file form ($7$: PBKDF2-HMAC-SHA512)."""
    salt = salt if salt is not None else secrets.token_bytes(MOSQUITTO_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, MOSQUITTO_ITERATIONS)
    return (
        f"$7${MOSQUITTO_ITERATIONS}$"
        f"{base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    )


def mqtt_credentials(session: Session, *, device: Device) -> tuple[str, str]:
    """A new MQTT password for a device, and the line for the broker's password file (the
    device logs in with its code as user name). The broker checks it; the platform keeps
    neither, so the answer is shown once."""
    if device.protocol != Protocol.mqtt:
        raise Invalid("not_mqtt", field="protocol")
    password = secrets.token_urlsafe(18)
    audit.record(
        session,
        action="credentials",
        entity="devices",
        entity_id=str(device.id),
        scope_path=territory_service.get_or_raise(session, node_id=device.node_id).path,
        note="mqtt",
    )
    return password, f"{device.code}:{mosquitto_hash(password)}"


def mark_seen(session: Session, *, seen: dict[int, datetime]) -> list[int]:
    """Record messages from devices; returns the ids that were offline and are back."""
    if not seen:
        return []
    now = max(seen.values())
    ids = list(seen)
    back = list(
        session.scalars(
            update(Device)
            .where(Device.id.in_(ids), Device.status == DeviceStatus.offline)
            .values(
                status=DeviceStatus.online,
                status_changed_at=now,
                last_seen_at=now,
                updated_at=Device.updated_at,
            )
            .returning(Device.id)
            .execution_options(synchronize_session=False)
        )
    )
    session.execute(
        update(Device)
        .where(Device.id.in_(ids), Device.status == DeviceStatus.unknown)
        .values(
            status=DeviceStatus.online,
            status_changed_at=now,
            last_seen_at=now,
            updated_at=Device.updated_at,
        )
        .execution_options(synchronize_session=False)
    )
    # Busy devices would otherwise rewrite their row on every batch.
    session.execute(
        update(Device)
        .where(
            Device.id.in_(ids),
            or_(Device.last_seen_at.is_(None), Device.last_seen_at < now - SEEN_GRANULARITY),
        )
        .values(last_seen_at=now, updated_at=Device.updated_at)  # liveness is not an edit
        .execution_options(synchronize_session=False)
    )
    return back


def overdue(session: Session, *, now: datetime | None = None) -> list[Device]:
    """Enabled devices silent past their supervision window that are not yet marked offline."""
    now = now or utcnow()
    candidates = session.scalars(
        select(Device).where(
            Device.enabled.is_(True),
            Device.status != DeviceStatus.offline,
            Device.last_seen_at.is_not(None),
        )
    ).all()
    return [
        d
        for d in candidates
        if d.last_seen_at is not None and now - d.last_seen_at > timedelta(seconds=d.supervision_s)
    ]


def mark_offline(
    session: Session, *, device_ids: Sequence[int], now: datetime | None = None
) -> None:
    if not device_ids:
        return
    session.execute(
        update(Device)
        .where(Device.id.in_(device_ids), Device.status != DeviceStatus.offline)
        .values(
            status=DeviceStatus.offline,
            status_changed_at=now or utcnow(),
            updated_at=Device.updated_at,
        )
        .execution_options(synchronize_session="fetch")
    )


# --- questions the pages and figures ask ----------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Devices in service under a node and how many of them are online now."""

    node_id: int | None
    devices: int
    online: int

    @property
    def rate(self) -> float:
        return self.online / self.devices if self.devices else 0.0


def _in_scope(actor: Principal, within_path: str | None) -> list[Any]:
    clauses = [Device.enabled, actor.filter(TerritoryNode.path, Perm.devices_read)]
    if within_path:
        clauses.append(TerritoryNode.path.startswith(within_path, autoescape=True))
    return clauses


def online_rates(
    session: Session, *, actor: Principal, level: NodeKind, within_path: str | None = None
) -> list[Rate]:
    """The online rate of devices in service, per node of a level (each community, or each
    site of one community), within the actor's scope; lowest rate first."""
    totals: dict[int | None, list[int]] = {}
    for path, status in session.execute(
        select(TerritoryNode.path, Device.status)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(*_in_scope(actor, within_path))
    ):
        entry = totals.setdefault(ancestor_id(path, level), [0, 0])
        entry[0] += 1
        entry[1] += status == DeviceStatus.online
    rates = [Rate(key, n, up) for key, (n, up) in totals.items()]
    return sorted(rates, key=lambda r: (r.rate, r.node_id or 0))


def kinds_by_path(session: Session, *, actor: Principal) -> list[tuple[str, DeviceKind]]:
    """Each device in service with the path of its place (what kinds a site is equipped with)."""
    return [
        (path, DeviceKind(kind))
        for path, kind in session.execute(
            select(TerritoryNode.path, Device.kind)
            .join(TerritoryNode, TerritoryNode.id == Device.node_id)
            .where(*_in_scope(actor, None))
        )
    ]


def not_online(
    session: Session, *, actor: Principal, within_path: str | None = None, limit: int = 200
) -> list[tuple[Device, str, str]]:
    """Devices in service that are not online, longest silent first, with their place's path
    and name."""
    return [
        (device, path, place)
        for device, path, place in session.execute(
            select(Device, TerritoryNode.path, TerritoryNode.name)
            .join(TerritoryNode, TerritoryNode.id == Device.node_id)
            .where(Device.status != DeviceStatus.online, *_in_scope(actor, within_path))
            .order_by(Device.last_seen_at.asc().nulls_first(), Device.id)
            .limit(limit)
        )
    ]


def nearest(
    session: Session,
    *,
    actor: Principal,
    kind: DeviceKind,
    within_path: str,
    point: tuple[float, float],
    limit: int,
) -> list[tuple[Device, str, float]]:
    """Devices of a kind in service within a subtree, nearest a point first: (device, its
    place's name, metres). A device without its own position stands at its place's."""
    found: list[tuple[Device, str, float]] = []
    for device, lon, lat, place in session.execute(
        select(Device, TerritoryNode.lon, TerritoryNode.lat, TerritoryNode.name)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(Device.kind == kind, *_in_scope(actor, within_path))
    ):
        at = (device.lon or lon, device.lat or lat)
        if at[0] is None or at[1] is None:
            continue
        found.append(
            (device, place, geo.distance_m(point[0], point[1], float(at[0]), float(at[1])))
        )
    found.sort(key=lambda f: f[2])
    return found[:limit]


def positions(
    session: Session, *, actor: Principal
) -> list[tuple[Device, float, float, int | None]]:
    """Devices in service in scope with a point on the map and their site's id. A device with no
    surveyed position is set around its site's point (on a small ring, so none hides another)."""
    site_points = {
        n.path: (n.lon, n.lat)
        for n in territory_service.get_all_of_kinds(
            session, actor=actor, kinds=[NodeKind.site], perm=Perm.devices_read
        )
    }
    out: list[tuple[Device, float, float, int | None]] = []
    for device, path in session.execute(
        select(Device, TerritoryNode.path)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(*_in_scope(actor, None))
    ):
        lon, lat = device.lon, device.lat
        if lon is None or lat is None:
            site = site_points.get(ancestor_path(path, NodeKind.site) or path)
            if site is None or site[0] is None or site[1] is None:
                continue
            angle = math.radians((device.id * 137.5) % 360)
            lon, lat = site[0] + 0.0002 * math.cos(angle), site[1] + 0.0002 * math.sin(angle)
        out.append((device, lon, lat, ancestor_id(path, NodeKind.site)))
    return out


def at_site(session: Session, *, path: str) -> list[Device]:
    """The devices registered at a site or under it (its buildings): a facility sheet's
    evidence. The caller has checked the site is in the reader's scope."""
    return list(
        session.scalars(
            select(Device)
            .join(TerritoryNode, TerritoryNode.id == Device.node_id)
            .where(TerritoryNode.path.startswith(path, autoescape=True))
            .order_by(Device.kind, Device.id)
        )
    )
