"""MQTT ingestion through the broker, at least once in, exactly once in effect.

Messages arrive with QoS 1 on a persistent session. A worker gathers them for a few
milliseconds, stores them in one transaction through the pipeline, commits, and only then
acknowledges each to the broker (paho-mqtt's manual acknowledgement). A crash before the commit
means the broker delivers again; the event id makes the repeat a no-op.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings
from pingan.db.engine import unit_of_work
from pingan.devices import service as device_service
from pingan.errors import PinganError
from pingan.events.pipeline import Incoming, Pipeline, dead_letter
from pingan.faces import service as face_service
from pingan.faces.analysis import Analysis
from pingan.faces.models import CredentialKind
from pingan.faces.runtime import FaceRuntime
from pingan.health import DOWN, Component
from pingan.ingest import messages, topics

log = logging.getLogger("pingan.ingest.mqtt")
CHANNEL = "mqtt"
MAX_SNAPSHOT = 5 * 1024 * 1024  # as the HTTP snapshot route
SESSION_EXPIRY_S = 7 * 24 * 3600
RECEIVE_MAXIMUM = 2000
DEVICE_CACHE_S = 2.0  # QoS 1 messages the broker may have in flight to us unacknowledged


@dataclass
class Received:
    topic: str
    payload: bytes
    mid: int
    qos: int
    generation: int  # which connection it came on: an ack is only valid on that one
    liveness: bool | None = None  # snapshots: the terminal's own liveness check
    second_factor: tuple[str, str] | None = None  # snapshots: ("card"|"pin", secret) given with it


@dataclass
class Counters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    batches: int = 0
    errors: int = 0


@dataclass
class MqttStatus:
    configured: bool
    connected: bool = False
    last_error: str | None = None
    counters: Counters = field(default_factory=Counters)


class MqttAdapter:
    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        pipeline: Pipeline,
        faces: FaceRuntime | None = None,
    ) -> None:
        self.faces = faces
        self.settings = settings
        self.factory = factory
        self.pipeline = pipeline
        self.url = urlparse(settings.mqtt_url)
        self.status = MqttStatus(configured=True)
        self.inbox: queue.Queue[Received] = queue.Queue(maxsize=100_000)
        self._generation = 0
        self._refused = False
        self._cache: dict[str, device_service.DeviceInfo | None] = {}
        self._cache_at = 0.0
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self.health = Component("mqtt")  # connected and its worker thread storing
        self.client = self._make_client()

    # --- connection ----------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.mqtt_client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.settings.mqtt_username:
            client.username_pw_set(self.settings.mqtt_username, self.settings.mqtt_password or None)
        if self.url.scheme == "mqtts":
            client.tls_set(
                ca_certs=str(self.settings.mqtt_ca_file) if self.settings.mqtt_ca_file else None,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        client.on_message = self._on_message
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        # A shared-group member keeps no session: while it is away its share goes to the others.
        props.SessionExpiryInterval = 0 if self.settings.mqtt_shared else SESSION_EXPIRY_S
        return props

    def start(self) -> None:
        host = self.url.hostname or "127.0.0.1"
        port = self.url.port or (8883 if self.url.scheme == "mqtts" else 1883)
        self.client.connect_async(
            host,
            port,
            keepalive=30,
            clean_start=self.settings.mqtt_shared,
            properties=self._connect_properties(),
        )
        self.client.loop_start()
        self._start_worker()
        log.info("MQTT: connecting to %s:%s as %s", host, port, self.settings.mqtt_client_id)

    def _start_worker(self) -> None:
        self._worker = threading.Thread(target=self._work, name="pingan-mqtt-ingest", daemon=True)
        self._worker.start()

    def ensure_worker(self) -> None:
        """The worker thread found dead (it should never die: see _work) is started again."""
        if self._stop.is_set() or (self._worker is not None and self._worker.is_alive()):
            return
        log.error("MQTT: the ingest worker thread was dead; starting it again")
        self.health.failed("ingest worker thread died")
        self.health.restarted()
        self._start_worker()

    def stop(self) -> None:
        self._stop.set()
        self.health.stopped()
        if self._worker is not None:
            self._worker.join(timeout=10)
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            self.status.connected = False
            self._refused = True
            self.status.last_error = f"broker refused the connection: {reason}"
            log.error("MQTT: %s", self.status.last_error)
            return
        self._generation += 1
        self._refused = False
        self.status.connected = True
        self.status.last_error = None
        client.subscribe([(t, 1) for t in topics.subscriptions(self.settings.mqtt_shared)])
        log.info(
            "MQTT: connected; subscribed to %s",
            ", ".join(topics.subscriptions(self.settings.mqtt_shared)),
        )

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        self.status.connected = False
        self.status.last_error = f"cannot reach the broker at {self.settings.mqtt_url}; retrying"
        log.warning("MQTT: %s", self.status.last_error)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.status.connected = False
        if not self._stop.is_set() and not self._refused:  # a refusal says more than its hang-up
            self.status.last_error = f"disconnected: {reason}; reconnecting"
            log.warning("MQTT: %s", self.status.last_error)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.status.counters.received += 1
        said = dict(getattr(msg.properties, "UserProperty", None) or [])
        liveness = {"passed": True, "failed": False}.get(str(said.get("liveness", "")).lower())
        factor = next(((k, str(said[k])) for k in ("card", "pin") if said.get(k)), None)
        self.inbox.put(
            Received(
                msg.topic, bytes(msg.payload), msg.mid, msg.qos, self._generation, liveness, factor
            )
        )

    # --- the worker ----------------------------------------------------------------------------

    def _gather(self) -> list[Received]:
        try:
            first = self.inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.ingest_batch_ms / 1000
        while len(batch) < self.settings.ingest_batch_max:
            remaining = deadline - time.monotonic()
            try:
                batch.append(
                    self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait()
                )
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        """The worker's loop, guarded: whatever goes wrong is recorded, and the loop goes on
        after a pause (a message it could not take is kept by store_batch)."""
        pause = 0.5
        while not self._stop.is_set():
            try:
                self._work_once()
                pause = 0.5
            except Exception as exc:  # recorded on /healthz; the loop carries on
                self.health.failed(exc)
                self.status.last_error = f"ingest worker: {type(exc).__name__}: {exc}"
                log.exception("MQTT: the ingest worker failed; going on in %.1f s", pause)
                if self._stop.wait(pause):
                    return
                pause = min(pause * 2, 10)

    def _work_once(self) -> None:
        if self.status.connected:
            self.health.succeeded()
        elif self.health.up or self.health.last_error is None:
            self.health.failed(self.status.last_error or "not connected to the broker", state=DOWN)
        batch = self._gather()
        if not batch:
            return
        delay = 0.5
        while not self.store_batch(batch):  # the database is away: keep it, unacknowledged
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, 10)
        for item in batch:
            if item.qos > 0 and item.generation == self._generation:
                self.client.ack(item.mid, item.qos)

    def store_batch(self, batch: list[Received]) -> bool:
        """Store a batch; True once every message is stored or kept as a dead letter, False when
        the database cannot be reached (try again later, nothing acknowledged)."""
        try:
            self.process(batch)
            return True
        except (OperationalError, InterfaceError) as exc:
            self._failed(exc, len(batch))
            return False
        except Exception as exc:  # something in the batch: one at a time, keep the culprit
            self._failed(exc, len(batch))
        for item in batch:
            try:
                self.process([item])
            except (OperationalError, InterfaceError) as exc:
                self._failed(exc, 1)
                return False
            except Exception as exc:
                # A message the pipeline cannot take must not hold up the others.
                with unit_of_work(self.factory, actor="system:mqtt") as session:
                    dead_letter(
                        session,
                        channel=CHANNEL,
                        raw=item.payload,
                        reason_key="internal",
                        reason=f"{type(exc).__name__}: {exc}",
                        source=item.topic,
                    )
                self.status.counters.dead += 1
        return True

    def _failed(self, exc: Exception, size: int) -> None:
        self.status.counters.errors += 1
        self.status.last_error = f"storing failed: {type(exc).__name__}: {exc}"
        log.exception("MQTT: storing a batch of %d failed", size)

    def process(self, batch: list[Received]) -> None:
        """Store a batch in one transaction (dead letters included). Raises if nothing stuck.
        Doors get their decisions once the transaction that records them is committed: a door
        never opens on a decision the platform then failed to keep."""
        decisions: list[tuple[str, str]] = []
        faces = self._analyse_snapshots(batch)  # before the transaction: it may take a while
        with unit_of_work(self.factory, actor="system:mqtt") as session:
            items = self._normalise(session, batch, decisions, faces)
            outcomes = self.pipeline.process(session, items) if items else []
        for topic, answer in decisions:
            self.client.publish(topic, answer, qos=1)
        dup = sum(1 for o in outcomes if o.duplicate)
        self.status.counters.stored += len(outcomes) - dup
        self.status.counters.duplicates += dup
        self.status.counters.batches += 1

    def _devices(self, session: Session, codes: set[str]) -> dict[str, device_service.DeviceInfo]:
        """Device rows for a batch, kept a couple of seconds: an edit (disabling one) takes effect
        within DEVICE_CACHE_S, and the database is not asked the same thing every few ms."""
        now = time.monotonic()
        if now - self._cache_at > DEVICE_CACHE_S:
            self._cache, self._cache_at = {}, now
        missing = codes - self._cache.keys()
        if missing:
            found = device_service.infos_by_codes(session, codes=missing)
            for code in missing:
                self._cache[code] = found.get(code)
        return {code: info for code in codes if (info := self._cache.get(code)) is not None}

    def _analyse_snapshots(self, batch: list[Received]) -> dict[int, Analysis | ValueError]:
        """The faces of the batch's snapshots, by the item's position, worked out by the face
        workers while no transaction is open."""
        found: dict[int, Analysis | ValueError] = {}
        if self.faces is None:
            return found
        for n, item in enumerate(batch):
            where = topics.parse(item.topic)
            if where is not None and where.kind == "snapshot":
                if len(item.payload) > MAX_SNAPSHOT:
                    found[n] = ValueError(f"snapshot of {len(item.payload)} bytes, over 5 MiB")
                    continue
                try:
                    found[n] = self.faces.workers.analyse(item.payload)
                except ValueError as exc:
                    found[n] = exc
        return found

    def _normalise(
        self,
        session: Session,
        batch: list[Received],
        decisions: list[tuple[str, str]],
        faces: dict[int, Analysis | ValueError],
    ) -> list[Incoming]:
        parsed = [(item, topics.parse(item.topic)) for item in batch]
        devices = self._devices(session, {p.code for _i, p in parsed if p})
        items: list[Incoming] = []
        for n, (item, where) in enumerate(parsed):
            try:
                if where is None:
                    raise messages.BadMessage("bad_topic", f"not a pingan topic: {item.topic}")
                device = devices.get(where.code)
                if device is None:
                    raise messages.BadMessage(
                        "unknown_device", f"no device with code {where.code!r}"
                    )
                if not device.enabled:
                    raise messages.BadMessage("disabled", f"device {where.code} is disabled")
                if where.kind == "snapshot":
                    items.extend(self._snapshot(session, device, item, faces.get(n), decisions))
                else:
                    items.extend(_to_items(device, where.kind, item))
            except messages.BadMessage as exc:
                self.status.counters.dead += 1
                dev = devices.get(where.code) if where else None
                dead_letter(
                    session,
                    channel=CHANNEL,
                    raw=item.payload,
                    reason_key=exc.key,
                    reason=exc.reason,
                    source=item.topic,
                    device_id=dev.id if dev else None,
                )
        return items

    def _snapshot(
        self,
        session: Session,
        device: device_service.DeviceInfo,
        item: Received,
        analysis: Analysis | ValueError | None,
        decisions: list[tuple[str, str]],
    ) -> list[Incoming]:
        """A face snapshot (analysed already): recognised now; a door gets its answer on its
        decision topic, once the batch is committed."""
        if self.faces is None or analysis is None:
            raise messages.BadMessage("faces_unavailable", "face recognition is not running here")
        if isinstance(analysis, ValueError):
            raise messages.BadMessage("bad_image", str(analysis)) from analysis
        try:
            vault = self.faces.vault()
        except PinganError as exc:
            raise messages.BadMessage("faces_unavailable", "PINGAN_DATA_KEY is not set") from exc
        engine_id = self.faces.engine_id()
        dim = len(analysis.as_array()) or 512
        outcome = face_service.recognise(
            session,
            device=device,
            analysis=analysis,
            engine_id=engine_id,
            gallery=self.faces.gallery(engine_id, dim),
            vault=vault,
            liveness=item.liveness,
            watching=self.faces.watching(engine_id, dim),
            fpir=self.settings.face_fpir,
            second_factor=face_service.SecondFactor(
                CredentialKind(item.second_factor[0]), item.second_factor[1]
            )
            if item.second_factor
            else None,
        )
        if device.kind in face_service.DOORS:
            answer = {
                "decision": outcome.decision.value,
                "reason": outcome.reason,
                "name": face_service.masked_name(outcome.person.name) if outcome.person else None,
                "recognition_id": outcome.recognition.id if outcome.recognition else None,
            }
            decisions.append((topics.device_topic(device.code, "decision"), json.dumps(answer)))
        return [
            dataclasses.replace(i, channel=CHANNEL)
            for i in face_service.events_for(device, outcome, "face")
        ]


def _stable_id(item: Received) -> str:
    return hashlib.sha1(item.topic.encode() + b"\0" + item.payload).hexdigest()[:24]


def _to_items(device: device_service.DeviceInfo, kind: str, item: Received) -> list[Incoming]:
    if kind == "status":
        state = item.payload.decode("utf-8", "replace").strip().strip('"').lower()
        if state not in ("online", "offline"):
            raise messages.BadMessage(
                "schema", f"status must be online or offline, not {state[:40]!r}"
            )
        return [
            Incoming(
                device=device,
                channel=CHANNEL,
                kind="offline" if state == "offline" else "status",
                code="offline" if state == "offline" else "online",
            )
        ]
    if kind == "heartbeat":
        if not item.payload.strip():
            return [Incoming(device=device, channel=CHANNEL, kind="heartbeat")]
        beats = messages.parse(item.payload)
        return [
            messages.to_incoming(
                device,
                CHANNEL,
                b.model_copy(update={"kind": "heartbeat"}),
                fallback_id=_stable_id(item) if b.time else None,
            )
            for b in beats
        ]
    events = messages.parse(item.payload)
    return [
        messages.to_incoming(
            device, CHANNEL, e, fallback_id=f"{_stable_id(item)}.{i}" if e.time else None
        )
        for i, e in enumerate(events)
    ]
