"""A fleet of simulated devices sending realistic traffic through the real channels.

About 90 % heartbeats, 9 % door and state events, 1 % alarms (each restored a little later),
over MQTT (through the broker), HTTP and SIA DC-09, to a running platform.
"""

from __future__ import annotations

import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.devices import service as device_service
from pingan.devices.models import Device, DeviceKind, Protocol
from pingan.devices.schemas import DeviceCreate
from pingan.ingest import topics
from pingan.ingest.sia import frame, timestamp
from pingan.territory.models import NodeKind, TerritoryNode

PREFIX = "sim-"
HTTP_AT_ONCE = 6  # HTTP devices posting at the same moment
MQTT_KINDS = [
    DeviceKind.smoke_detector,
    DeviceKind.access_controller,
    DeviceKind.gas_detector,
    DeviceKind.hydrant_pressure,
    DeviceKind.ebike_charger,
]
HTTP_KINDS = [DeviceKind.panic_button, DeviceKind.ebike_charger]

# kind of device → (event kind, code) of its alarm and of its everyday state events
ALARM: dict[str, tuple[str, str]] = {
    "smoke_detector": ("fire", "smoke"),
    "access_controller": ("door", "door_forced"),
    "gas_detector": ("gas", "gas_leak"),
    "hydrant_pressure": ("sensor", "pressure_low"),
    "ebike_charger": ("sensor", "ebike_overheat"),
    "panic_button": ("panic", "button"),
    "intrusion_panel": ("burglary", "BA"),
}
STATE: dict[str, tuple[str, str]] = {
    "access_controller": ("door", "access_granted"),
    "intrusion_panel": ("open_close", "OP"),
}


@dataclass
class SimDevice:
    id: int
    code: str
    kind: str
    protocol: str
    token: str | None = None
    account: str | None = None


def small_territory(session: Session, *, actor: Principal, sites: int = 1) -> dict[str, int]:
    """柳城街道 / 鱼凫路社区 / 鱼凫路第1网格 with `sites` compounds: enough for a bench or a test."""
    from pingan.territory import service as territory_service
    from pingan.territory.models import SiteType
    from pingan.territory.schemas import NodeCreate

    def square(west: float, south: float, size: float) -> dict[str, Any]:
        ring = [[west, south], [west + size, south], [west + size, south + size]]
        return {"type": "Polygon", "coordinates": [[*ring, [west, south + size], [west, south]]]}

    chain = [
        ("street", "柳城街道", square(103.78, 30.67, 0.04)),
        ("community", "鱼凫路社区", square(103.79, 30.68, 0.02)),
        ("grid", "鱼凫路第1网格", square(103.79, 30.68, 0.01)),
    ]
    ids: dict[str, int] = {}
    parent: int | None = None
    for kind, name, boundary in chain:
        parent = territory_service.create(
            session,
            actor=actor,
            data=NodeCreate(kind=kind, parent_id=parent, name=name, boundary=boundary),
        ).id
        ids[kind] = parent
    for n in range(sites):
        ids["site" if n == 0 else f"site{n}"] = territory_service.create(
            session,
            actor=actor,
            data=NodeCreate(
                kind="site",
                parent_id=parent,
                name="柳欣苑" if n == 0 else f"小区{n}",
                site_type=SiteType.commercial_residential,
                lon=103.792 + 0.001 * (n % 8),
                lat=30.682 + 0.001 * (n // 8),
            ),
        ).id
    return ids


def register(
    session: Session,
    *,
    actor: Principal,
    count: int,
    within: str | None = None,
    only: Protocol | None = None,
) -> list[SimDevice]:
    """Create (or reuse) `count` simulated devices spread over the sites; fresh HTTP tokens."""
    stmt = (
        select(TerritoryNode).where(TerritoryNode.kind == NodeKind.site).order_by(TerritoryNode.id)
    )
    if within:
        stmt = stmt.where(TerritoryNode.path.startswith(within))
    sites = session.scalars(stmt).all()
    if not sites:
        raise LookupError(
            "no sites to put simulated devices in: load a territory first (pingan demo-data)"
        )
    out = []
    for i in range(count):
        code = f"{PREFIX}{i:04d}"
        slot = i % 10
        protocol = only or (
            Protocol.mqtt if slot < 6 else Protocol.http if slot < 8 else Protocol.dc09
        )
        kind = (
            MQTT_KINDS[i % len(MQTT_KINDS)]
            if protocol == Protocol.mqtt
            else HTTP_KINDS[i % len(HTTP_KINDS)]
            if protocol == Protocol.http
            else DeviceKind.intrusion_panel
        )
        device = session.scalar(select(Device).where(Device.code == code))
        if device is None:
            device = device_service.create(
                session,
                actor=actor,
                data=DeviceCreate(
                    code=code,
                    name=f"模拟设备{i:04d}",
                    kind=kind,
                    protocol=protocol,
                    node_id=sites[i % len(sites)].id,
                    sia_account=f"F{i:05X}" if protocol == Protocol.dc09 else None,
                ),
            )
        out.append(_simulated(session, device))
    session.flush()
    return out


def _simulated(session: Session, device: Device) -> SimDevice:
    """A registered device as the simulator drives it (an HTTP one with a fresh token)."""
    token = (
        device_service.issue_http_token(session, device=device)
        if device.protocol == Protocol.http
        else None
    )
    return SimDevice(
        device.id, device.code, device.kind.value, device.protocol.value, token, device.sia_account
    )


def silent(device_id: int, share: float = 0.03) -> bool:
    """Whether a device is one of the few that have gone quiet (the same ones every run)."""
    return (device_id * 2654435761) % 1000 < share * 1000


def existing(
    session: Session, *, prefix: str, within: str | None = None, silent_share: float = 0.03
) -> list[SimDevice]:
    """The devices already registered under a code prefix (the demo's), to be kept alive; fresh
    HTTP tokens. A few of them (`silent_share`, the same ones every time) stay silent, as some
    devices of a real sub-district do."""
    stmt = (
        select(Device)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(Device.code.startswith(prefix), Device.enabled)
        .order_by(Device.id)
    )
    if within:
        stmt = stmt.where(TerritoryNode.path.startswith(within))
    out = []
    for device in session.scalars(stmt):
        if silent(device.id, silent_share):
            continue
        out.append(_simulated(session, device))
    session.flush()
    if not out:
        raise LookupError(f"no devices with codes {prefix}…: run pingan demo-data first")
    return out


@dataclass
class Message:
    device: SimDevice
    kind: str
    code: str | None = None
    zone: str | None = None
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def json(self, extra: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "kind": self.kind,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        if self.code:
            body["code"] = self.code
        if self.zone:
            body["zone"] = self.zone
        if extra:
            body["data"] = extra
        return json.dumps(body).encode()


class Mix:
    """Chooses the next message: heartbeats, state events, and now and then an alarm."""

    def __init__(
        self,
        devices: list[SimDevice],
        alarm_share: float = 0.01,
        state_share: float = 0.09,
        seed: int | None = None,
    ) -> None:
        self.devices = devices
        self.alarm_share = alarm_share
        self.state_share = state_share
        self.rng = random.Random(seed)
        self.restores: list[tuple[float, Message]] = []
        # Zones number the alarms; a run of its own seed never repeats another run's (device, zone).
        self.zone = (seed or 0) * 1_000_000

    def next(self) -> Message:
        now = time.monotonic()
        if self.restores and self.restores[0][0] <= now:
            return self.restores.pop(0)[1]
        device = self.rng.choice(self.devices)
        roll = self.rng.random()
        if roll < self.alarm_share:
            return self.alarm(device, now)
        if roll < self.alarm_share + self.state_share:
            return self.state(device)
        return Message(device, "heartbeat")

    def alarm(self, device: SimDevice, now: float) -> Message:
        """An alarm of the device, restored a little later (a forced door stays as it is)."""
        kind, code = ALARM[device.kind]
        self.zone += 1
        zone = str(self.zone)
        if kind != "door":
            restore_code = "BA" if device.protocol == "dc09" else code
            self.restores.append(
                (now + self.rng.uniform(5, 20), Message(device, "restore", restore_code, zone))
            )
            self.restores.sort(key=lambda r: r[0])
        return Message(device, kind, code, zone)

    def state(self, device: SimDevice) -> Message:
        kind, code = STATE.get(device.kind, ("status", "ok"))
        return Message(device, kind, code)


class Rounds(Mix):
    """Every device heard from once a round, as real devices keep their heartbeat; between
    them now and then a state event or an alarm (each restored a little later)."""

    def __init__(self, devices: list[SimDevice], **kwargs: Any) -> None:
        super().__init__(devices, **kwargs)
        self.turn = 0
        self.alarmable = [d for d in devices if d.kind in ALARM]

    def next(self) -> Message:
        now = time.monotonic()
        if self.restores and self.restores[0][0] <= now:
            return self.restores.pop(0)[1]
        roll = self.rng.random()
        if roll < self.alarm_share and self.alarmable:
            return self.alarm(self.rng.choice(self.alarmable), now)
        if roll < self.alarm_share + self.state_share:
            return self.state(self.rng.choice(self.devices))
        device = self.devices[self.turn % len(self.devices)]
        self.turn += 1
        return Message(device, "heartbeat")


def rounds_rate(devices: int, every_s: float) -> float:
    """Messages a second that hear from each device once every `every_s` seconds."""
    return max(0.5, devices / every_s)


def sia_frame(message: Message, sequence: int) -> bytes:
    account = message.device.account or "0"
    stamp = timestamp()
    if message.kind == "heartbeat":
        return frame(f'"NULL"{sequence % 10000:04d}R0L0#{account}[]')
    code = {"burglary": "BA", "restore": "BR", "open_close": "OP"}.get(message.kind, "RP")
    zone = message.zone or "0"
    return frame(
        f'"SIA-DCS"{sequence % 10000:04d}R0L0#{account}[#{account}|Nri{zone}/{code}01]{stamp}'
    )


@dataclass
class Counts:
    mqtt: int = 0
    http: int = 0
    dc09: int = 0
    skipped: int = 0
    errors: int = 0
    last_error: str | None = None


class Channels:
    """The three ways in, each as a device would use it."""

    def __init__(self, *, url: str, mqtt_url: str | None, sia: str | None) -> None:
        self.url = url.rstrip("/")
        self.counts = Counts()
        self.http = httpx.Client(timeout=10, trust_env=False)
        self.mqtt: mqtt.Client | None = None
        if mqtt_url:
            parsed = urlparse(mqtt_url)
            self.mqtt = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=f"pingan-sim-{uuid.uuid4().hex[:6]}",
                protocol=mqtt.MQTTv5,
            )
            self.mqtt.max_inflight_messages_set(1000)
            self.mqtt.max_queued_messages_set(0)
            self.mqtt.connect(parsed.hostname or "127.0.0.1", parsed.port or 1883, keepalive=30)
            self.mqtt.loop_start()
        self.sia: socket.socket | None = None
        self.sia_addr: tuple[str, int] | None = None
        if sia:
            host, _, port = sia.rpartition(":")
            self.sia_addr = (host or "127.0.0.1", int(port))
        self._seq = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=HTTP_AT_ONCE, thread_name_prefix="sim-http")
        self._in_flight = threading.BoundedSemaphore(HTTP_AT_ONCE * 4)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self.mqtt is not None:
            self.mqtt.loop_stop()
            self.mqtt.disconnect()
        if self.sia is not None:
            self.sia.close()
        self.http.close()

    def send(self, message: Message) -> None:
        try:
            protocol = message.device.protocol
            if protocol == "mqtt" and self.mqtt is not None:
                kind = "heartbeat" if message.kind == "heartbeat" else "event"
                self.mqtt.publish(
                    topics.device_topic(message.device.code, kind), message.json(), qos=1
                )
                self.counts.mqtt += 1
            elif protocol == "dc09" and self.sia_addr is not None:
                self._send_sia(message)
                self.counts.dc09 += 1
            elif protocol in ("mqtt", "dc09"):
                self.counts.skipped += 1
            elif message.device.token:
                # Devices post on their own, side by side: a few at once, never a backlog.
                self._in_flight.acquire()
                self._pool.submit(self._post, message)
        except (OSError, httpx.HTTPError) as exc:
            self._failed(exc)
            if self.sia is not None and message.device.protocol == "dc09":
                self.sia.close()
                self.sia = None

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            self.counts.errors += 1
            self.counts.last_error = f"{type(exc).__name__}: {exc}"

    def _post(self, message: Message) -> None:
        try:
            self.http.post(
                f"{self.url}/api/v1/ingest/events",
                content=message.json(),
                headers={
                    "Authorization": f"Bearer {message.device.token}",
                    "Content-Type": "application/json",
                },
            ).raise_for_status()
            with self._lock:
                self.counts.http += 1
        except httpx.HTTPError as exc:
            self._failed(exc)
        finally:
            self._in_flight.release()

    def _send_sia(self, message: Message) -> None:
        with self._lock:
            if self.sia is None:
                assert self.sia_addr is not None
                self.sia = socket.create_connection(self.sia_addr, timeout=5)
            self._seq += 1
            self.sia.sendall(sia_frame(message, self._seq))
            answer = b""
            while not answer.endswith(b"\r"):
                chunk = self.sia.recv(256)
                if not chunk:
                    raise ConnectionError("the receiver hung up")
                answer += chunk
            if b"ACK" not in answer:
                raise OSError(f"DC-09 answer {answer!r}")


def run(
    channels: Channels,
    mix: Mix,
    *,
    rate: float,
    duration: float | None,
    progress: Callable[[Counts], None] | None = None,
    alive: Callable[[], bool] | None = None,
    say: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Counts:
    """Send at `rate` messages a second for `duration` seconds (forever when None). When the
    platform stops answering (a restart, a slow moment), wait for it — saying so, with pauses
    doubling to a minute — and go on where it left off."""
    start = paced_from = last_report = time.monotonic()
    sent = 0  # since paced_from
    while duration is None or time.monotonic() - start < duration:
        pause = paced_from + sent / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        channels.send(mix.next())
        sent += 1
        now = time.monotonic()
        if now - last_report >= 5:
            last_report = now
            if progress:
                progress(channels.counts)
            if alive is not None and not alive():
                wait = 1.0
                while not alive():
                    if say:
                        say(
                            f"平台未响应，{wait:.0f} 秒后重试 the platform does not answer; retrying in {wait:.0f} s"
                        )
                    sleep(wait)
                    wait = min(60.0, wait * 2)
                if say:
                    say("平台已恢复，继续发送 the platform answers again; sending on")
                paced_from, sent = time.monotonic(), 0  # no burst to catch up
    return channels.counts
