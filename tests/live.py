"""Real parts for end-to-end tests: a Mosquitto broker of the test's own, a database of its own,
and `pingan serve` as a separate process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.config import Settings
from pingan.db import migrate
from pingan.db.engine import make_engine
from pingan.devices import service as device_service
from pingan.devices.schemas import DeviceCreate
from pingan.localbroker import LocalBroker, free_port
from pingan.sim import small_territory

Broker = LocalBroker


def client(
    broker: Broker,
    client_id: str,
    *,
    username: str | None = None,
    password: str | None = None,
    will: tuple[str, bytes] | None = None,
) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username:
        c.username_pw_set(username, password)
    if will:
        c.will_set(will[0], will[1], qos=1, retain=True)
    c.connect("127.0.0.1", broker.port, keepalive=5)
    c.loop_start()
    return c


def publish_all(c: mqtt.Client, messages: list[tuple[str, bytes]]) -> None:
    infos = [c.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(timeout=30)


@dataclass
class Live:
    """A database with a small territory, devices and an admin, ready for a platform to serve."""

    settings: Settings
    env: dict[str, str]
    admin_password: str = "live-admin-password"
    nodes: dict[str, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    sia_port: int = 0
    broker: Broker | None = None

    def session(self) -> Session:
        return Session(make_engine(self.settings))

    def add_device(
        self, code: str, kind: str = "smoke_detector", protocol: str = "mqtt", **extra: Any
    ) -> int:
        engine = make_engine(self.settings)
        with Session(engine) as s:
            s.info["actor"] = "test"
            d = device_service.create(
                s,
                actor=SYSTEM,
                data=DeviceCreate(
                    code=code,
                    name=extra.pop("name", code),
                    kind=kind,
                    protocol=protocol,
                    node_id=self.nodes["site"],
                    **extra,
                ),
            )
            s.commit()
            self.devices[code] = d.id
        engine.dispose()
        return self.devices[code]

    def add_user(self, username: str, role: Role, node: str, password: str, name: str) -> None:
        """An account bound at one of the territory's nodes, for a page to be opened as."""
        engine = make_engine(self.settings)
        with Session(engine) as s:
            s.info["actor"] = "test"
            auth_service.create(
                s,
                actor=SYSTEM,
                data=UserCreate(
                    username=username,
                    display_name=name,
                    password=password,
                    roles=[BindingIn(role=role, node_id=self.nodes[node])],
                ),
            )
            s.commit()
        engine.dispose()

    def serve(self) -> None:
        self.port = free_port()
        log = open(Path(self.settings.var_dir) / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pingan.cli", "serve", "--port", str(self.port)],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/healthz")
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"pingan serve exited: {self.log_tail()}") from None
                time.sleep(0.1)
        raise TimeoutError(f"pingan serve did not start: {self.log_tail()}")

    def log_tail(self) -> str:
        return (Path(self.settings.var_dir) / "serve.log").read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def get(self, path: str, token: str | None = None) -> Any:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            headers={"Authorization": f"Bearer {token}"} if token else {},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def token(self) -> str:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/auth/login",
            method="POST",
            headers={"Content-Type": "application/json"},
            data=json.dumps({"username": "admin", "password": self.admin_password}).encode(),
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return str(json.loads(resp.read())["token"])


def make_live(settings: Settings, *, bare: bool = False) -> Live:
    """A migrated database with a small territory and an admin; bare: nothing in it (a demo's)."""
    engine = make_engine(settings)
    migrate.upgrade(engine)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
    env.update(
        PINGAN_VAR_DIR=str(settings.var_dir),
        PINGAN_DATABASE_URL=settings.database_url,
        PINGAN_ARGON2_TIME_COST="1",
        PINGAN_ARGON2_MEMORY_KIB="1024",
        PINGAN_SUPERVISION_INTERVAL_S="0.5",
        PINGAN_ESCALATION_INTERVAL_S="0.5",
        PINGAN_LOG_LEVEL="INFO",
        PINGAN_DATA_KEY=settings.data_key,
    )
    if settings.database_schema:
        env["PINGAN_DATABASE_SCHEMA"] = settings.database_schema
    live = Live(settings=settings, env=env)
    if bare:
        engine.dispose()
        return live
    with Session(engine) as s:
        s.info["actor"] = "test"
        live.nodes = small_territory(s, actor=SYSTEM)
        auth_service.create(
            s,
            actor=SYSTEM,
            data=UserCreate(
                username="admin",
                display_name="admin",
                password=live.admin_password,
                roles=[BindingIn(role=Role.community_admin, node_id=live.nodes["community"])],
            ),
        )
        s.commit()
    engine.dispose()
    return live
