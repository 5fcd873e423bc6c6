"""Background work of a running platform: ingestion (MQTT, DC-09), path supervision and
escalation. Started and stopped with the web application; each reports its state on /healthz."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from pingan.alarms import service as alarm_service
from pingan.alarms.notify.channels import Sender
from pingan.alarms.notify.feed import Feed
from pingan.alarms.notify.outbox import deliver_due
from pingan.config import Settings
from pingan.db.base import utcnow
from pingan.db.engine import READONLY, unit_of_work
from pingan.devices import supervision
from pingan.devices.models import Device
from pingan.devices.service import info_by_id
from pingan.events import service as event_service
from pingan.faces import retention, watch
from pingan.faces.runtime import FaceRuntime
from pingan.health import DOWN_ALARM_S, Component
from pingan.incidents import service as incident_service
from pingan.ingest.mqtt import MqttAdapter
from pingan.ingest.video import CameraStream
from pingan.patrol import dispatch
from pingan.patrol import service as patrol_service
from pingan.runtime import Runtime
from pingan.targets import service as target_service

log = logging.getLogger("pingan.workers")

# Advisory lock keys: with several processes on PostgreSQL, one runs each periodic job at a time.
LOCK_SUPERVISION = 7_100_001
LOCK_ESCALATION = 7_100_002
LOCK_RETENTION = 7_100_003
LOCK_CARE = 7_100_004
LOCK_DISPATCH = 7_100_005
LOCK_INCIDENTS = 7_100_006
LOCK_TARGETS = 7_100_007
LOCK_CAMERA = 7_200_000  # + the camera's id
COMPONENTS_S = 5.0  # how often the parts' health is looked at


COMPONENT_UP = Gauge(
    "pingan_component_up", "1 while a long-lived part of the platform is running", ["component"]
)
COMPONENT_RESTARTS = Gauge(
    "pingan_component_restarts", "Times a part of the platform was started again", ["component"]
)


@dataclass
class Workers:
    settings: Settings
    factory: sessionmaker[Session]
    runtime: Runtime
    engine: Engine
    faces: FaceRuntime | None = None
    cameras: dict[int, CameraStream] = field(default_factory=dict)
    _lock_connection: Connection | None = None
    mqtt: MqttAdapter | None = None
    sia: Any = None
    feed: Feed | None = None
    sender: Sender | None = None
    loops: dict[str, Component] = field(default_factory=dict)
    alarmed: set[str] = field(default_factory=set)  # components whose "down" alarm is open
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        # Live pages are served by every process, workers or not; the feed reads what is
        # committed, through connections of its own.
        self.feed = Feed(sessionmaker(bind=self.engine, expire_on_commit=False))
        self.feed.start()
        if not self.settings.run_workers:
            return
        self.sender = Sender(self.settings)
        self._every("supervision", self.settings.supervision_interval_s, self.supervise)
        self._every("escalation", self.settings.escalation_interval_s, self.escalate)
        self._every("incident-limits", 60, self.incident_limits)
        self._every("notify", self.settings.notify_interval_s, self.notify)
        self._every("face-retention", 3600, self.purge_faces)
        self._every("dead-letters", 3600, self.purge_dead_letters)
        self._every("care-list", self.settings.care_interval_s, self.care_list)
        self._every("dispatch", 2, self.dispatch)
        self._every("targets", 3600, self.record_targets)
        self._every("components", COMPONENTS_S, self.watch_components)
        if self.faces is not None:
            self._every("cameras", 60, self.follow_cameras)
            # The engines load now, not on the first face at a door.
            self._tasks.append(
                asyncio.create_task(self._start_faces(self.faces), name="pingan-face-workers")
            )
        if self.engine.dialect.name == "sqlite":
            self._every("checkpoint", 1.0, self.checkpoint)
        if self.settings.mqtt_url:
            self.mqtt = MqttAdapter(
                self.settings, self.factory, self.runtime.pipeline, faces=self.faces
            )
            self.mqtt.start()
        else:
            log.warning("MQTT: no broker configured (PINGAN_MQTT_URL); MQTT devices cannot report")
        if self.settings.sia_port:
            from pingan.ingest.sia import SiaReceiver

            self.sia = SiaReceiver(self.settings, self.factory, self.runtime.pipeline)
            await self.sia.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.feed is not None:
            await asyncio.to_thread(self.feed.stop)
        if self.sender is not None:
            self.sender.close()
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.stop)
        if self.sia is not None:
            await self.sia.stop()
        for camera in self.cameras.values():
            await asyncio.to_thread(camera.close)
        if self._lock_connection is not None:
            self._lock_connection.close()  # the camera locks go with it

    async def _start_faces(self, faces: FaceRuntime) -> None:
        try:
            await asyncio.to_thread(faces.workers.start)
        except Exception:  # recorded on the component; the next face call tries again
            log.exception("face workers did not start")

    def _every(self, name: str, interval: float, job: Callable[[], None]) -> None:
        state = self.loops.setdefault(name, Component(name))

        async def loop() -> None:
            while True:
                try:
                    await asyncio.to_thread(job)
                    state.succeeded()
                except Exception as exc:  # recorded for /healthz, and tried again next round
                    state.failed(exc)
                    log.exception("%s failed", name)
                await asyncio.sleep(interval)

        self._tasks.append(asyncio.create_task(loop(), name=f"pingan-{name}"))

    def _locked(self, session: Session, key: int) -> bool:
        if session.get_bind().dialect.name != "postgresql":
            return True
        return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}))

    def supervise(self) -> None:
        with unit_of_work(self.factory, actor="system:supervision") as session:
            if self._locked(session, LOCK_SUPERVISION):
                follow = supervision.check(session)
                if follow:
                    self.runtime.pipeline.process(session, follow)

    def escalate(self) -> None:
        with unit_of_work(self.factory, actor="system:escalation") as session:
            if self._locked(session, LOCK_ESCALATION):
                alarm_service.escalate_due(session, rules=self.runtime.rules)

    def incident_limits(self) -> None:
        """Grid incidents near their time limit remind their handler; past it they go to the
        community's desk, then the street's."""
        with unit_of_work(self.factory, actor="system:incidents") as session:
            if self._locked(session, LOCK_INCIDENTS):
                incident_service.tick(session, rules=self.runtime.rules)

    def purge_faces(self) -> None:
        """Face snapshots and unknown faces past their retention period go (hourly)."""
        with unit_of_work(self.factory, actor="system:retention") as session:
            if self._locked(session, LOCK_RETENTION):
                watch.end_expired(session)
                retention.purge(
                    session,
                    snapshot_days=self.settings.face_snapshot_days,
                    unknown_days=self.settings.face_unknown_days,
                )

    def purge_dead_letters(self) -> None:
        with unit_of_work(self.factory, actor="system:retention") as session:
            if self._locked(session, LOCK_RETENTION + 10):
                event_service.purge_dead_letters(
                    session, older_than_days=self.settings.dead_letter_days
                )

    def dispatch(self) -> None:
        """Tasks of alarms ended at the desk are cancelled; alarms of `dispatch: true` rules go to
        the nearest responder; offers nobody accepted in time go to the next; patrol runs left
        open past their end close and report what they missed."""
        rules = self.runtime.rules
        with unit_of_work(self.factory, actor="system:dispatch") as session:
            if self._locked(session, LOCK_DISPATCH):
                dispatch.cancel_ended(session)
                dispatch.auto_dispatch(session, rules=rules)
                dispatch.pass_on_overdue(session, rules=rules)
                patrol_service.close_overdue(session, rules=rules)

    def record_targets(self) -> None:
        """Today's reading of each computed target (hourly): the trend of what cannot look back."""
        with unit_of_work(self.factory, actor="system:targets") as session:
            if self._locked(session, LOCK_TARGETS):
                target_service.record_all(session)

    def care_list(self) -> None:
        """Welfare checks for care-list people not seen for their N days."""
        with unit_of_work(self.factory, actor="system:care") as session:
            if self._locked(session, LOCK_CARE):
                alerts = watch.not_seen(session)
                if alerts:
                    self.runtime.pipeline.process(session, [a.incoming("system") for a in alerts])

    def follow_cameras(self) -> None:
        """Sample every enabled camera with a stream URL; start new ones, stop removed ones.
        Only one process samples a camera: on PostgreSQL, the one holding its advisory lock."""
        assert self.faces is not None
        with unit_of_work(self.factory, actor="system:cameras") as session:
            wanted = {
                device.id: device.stream_url
                for device in session.scalars(
                    select(Device).where(Device.enabled, Device.stream_url.is_not(None))
                )
                if device.stream_url and (device.id in self.cameras or self._camera_lock(device.id))
            }
            infos = {i: info_by_id(session, device_id=i) for i in wanted}
        for device_id in list(self.cameras):
            if device_id not in wanted:
                self.cameras.pop(device_id).close()
                if self._lock_connection is not None:
                    self._lock_connection.execute(
                        text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_CAMERA + device_id}
                    )
                    self._lock_connection.commit()
        for device_id, url in wanted.items():
            info = infos[device_id]
            if device_id not in self.cameras and info is not None and url is not None:
                camera = CameraStream(
                    info,
                    url,
                    faces=self.faces,
                    factory=self.factory,
                    pipeline=self.runtime.pipeline,
                    fps=self.settings.face_sample_fps,
                    frames_needed=self.settings.face_frames,
                    fpir=self.settings.face_fpir,
                    repeat_s=60.0 * self.settings.face_camera_repeat_min,
                )
                camera.start()
                self.cameras[device_id] = camera

    def _camera_lock(self, device_id: int) -> bool:
        """Held on a connection of its own for as long as this process samples the camera."""
        if self.engine.dialect.name != "postgresql":
            return True
        if self._lock_connection is None:
            self._lock_connection = self.engine.connect()
        locked = self._lock_connection.scalar(
            text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_CAMERA + device_id}
        )
        self._lock_connection.commit()
        return bool(locked)

    def checkpoint(self) -> None:
        """Move the SQLite WAL into the database without blocking writers (PASSIVE)."""
        with self.engine.connect().execution_options(**{READONLY: True}) as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def notify(self) -> None:
        assert self.sender is not None
        deliver_due(
            self.factory,
            sender=self.sender,
            rules=self.runtime.rules,
            public_url=self.settings.public_url,
        )

    def components(self) -> dict[str, Component]:
        """Every long-lived part this process runs, by name."""
        found: dict[str, Component] = {f"loop:{k}": v for k, v in self.loops.items()}
        if self.faces is not None and self.settings.run_workers:
            found["face_workers"] = self.faces.workers.health
        for camera in self.cameras.values():
            found[camera.health.name] = camera.health
        if self.mqtt is not None:
            found["mqtt"] = self.mqtt.health
        if self.sia is not None:
            found["dc09"] = self.sia.component
        return found

    def watch_components(self) -> None:
        """A part down for over a minute raises "platform component down" on the street's desk;
        it clears when the part is back. The MQTT worker thread, if it died, is started again."""
        if self.mqtt is not None:
            self.mqtt.ensure_worker()
        if self.faces is not None and self.faces.workers.health.state in ("restarting", "down"):
            try:  # a pool that lost a worker is rebuilt now, not on the next face
                self.faces.workers.start()
            except Exception:  # recorded on the component; tried again next round
                log.exception("face workers did not start again")
        now = utcnow()
        parts = self.components()
        for name, part in parts.items():
            COMPONENT_UP.labels(name).set(1 if part.up else 0)
            COMPONENT_RESTARTS.labels(name).set(part.restarts)
        down = {n for n, p in parts.items() if p.down_for_s(now) > DOWN_ALARM_S}
        back = self.alarmed - down
        fresh = down - self.alarmed
        if not fresh and not back:
            return
        with unit_of_work(self.factory, actor="system:components") as session:
            for name in sorted(fresh):
                part = parts[name]
                alarm_service.open_platform_alarm(
                    session,
                    rules=self.runtime.rules,
                    kind="platform",
                    code="component_down",
                    key=f"platform:{name}",
                    subject=f"{name}: {part.last_error or part.state}",
                    at=now,
                )
            for name in sorted(back):
                alarm_service.restore_by_key(
                    session, rules=self.runtime.rules, key=f"platform:{name}", at=now
                )
        self.alarmed = (self.alarmed | fresh) - back

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"running": self.settings.run_workers}
        out["loops"] = {k: v.as_dict() for k, v in self.loops.items()}
        out["components_down"] = sorted(
            n for n, p in self.components().items() if not p.up and p.state != "stopped"
        )
        if self.mqtt is not None:
            st = self.mqtt.status
            out["mqtt"] = {
                "connected": st.connected,
                "last_error": st.last_error,
                "worker": self.mqtt.health.as_dict(),
                # Mosquitto does not publish its configuration: the warning stays until it can.
                "broker_settings": "unverified: the broker's queue and persistence settings "
                "cannot be read over MQTT; see docs/devices.md (Broker settings)",
                **vars(st.counters),
            }
        else:
            out["mqtt"] = {"configured": False}
        if self.sia is not None:
            out["sia"] = self.sia.health()
        else:
            out["sia"] = {"configured": False}
        if self.faces is not None:
            out["face_workers"] = self.faces.workers.health.as_dict()
        if self.cameras:
            out["cameras"] = {
                str(device_id): camera.health.as_dict()
                for device_id, camera in self.cameras.items()
            }
        if self.feed is not None:
            out["feed"] = {"subscribers": len(self.feed.subscribers), "cursor": self.feed.cursor}
        out["rules"] = {
            "file": str(self.runtime.rules.path or "(built in)"),
            "error": self.runtime.rules.error,
        }
        return out
