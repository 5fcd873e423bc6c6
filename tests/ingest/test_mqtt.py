"""MQTT ingestion through a real Mosquitto: stored once, acknowledged after the commit, dead
letters for what cannot be processed, the last will for offline, and the faults that matter."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from pingan.alarms.models import Alarm
from pingan.db.engine import make_engine
from pingan.devices.models import Device
from pingan.events.models import DeadLetter, Event
from pingan.ingest import topics
from pingan.ingest.mqtt import MqttAdapter
from pingan.runtime import Runtime
from tests.conftest import (
    BACKENDS,
    World,
    add_device,
    drop_pg_schema,
    require_pg,
    settings_for,
)
from tests.live import Broker, Live, client, make_live, publish_all


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    (tmp_path / "broker").mkdir()
    b = Broker(tmp_path / "broker")
    b.start()
    yield b
    b.stop()


@pytest.fixture(params=BACKENDS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Live]:
    if request.param == "postgresql":
        require_pg()
    settings = settings_for(request.param, tmp_path)
    world = make_live(settings)
    world.add_device("lxy-smoke-1", name="1栋烟感")
    world.add_device("lxy-door-1", kind="access_controller", name="东门门禁")
    yield world
    world.stop()
    if settings.database_schema:
        drop_pg_schema(settings.database_schema)


def count(live: Live, model: type, *where: object) -> int:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        n = int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)  # type: ignore[arg-type]
    engine.dispose()
    return n


def until(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def event(i: int, kind: str = "heartbeat", **extra: object) -> bytes:
    return json.dumps({"event_id": f"m{i}", "kind": kind, **extra}).encode()


def adapter_for(live: Live, broker: Broker) -> MqttAdapter:
    settings = live.settings.model_copy(
        update={"mqtt_url": broker.url, "mqtt_client_id": "pingan-test"}
    )
    engine = make_engine(settings)
    return MqttAdapter(
        settings,
        sessionmaker(bind=engine, expire_on_commit=False),
        Runtime.build(settings).pipeline,
    )


def test_messages_are_stored_once_and_bad_ones_kept(live: Live, broker: Broker) -> None:
    adapter = adapter_for(live, broker)
    adapter.start()
    until(lambda: adapter.status.connected, what="the platform's connection")
    device = client(broker, "lxy-smoke-1")
    try:
        smoke = topics.device_topic("lxy-smoke-1", "event")
        msgs = [(smoke, event(i)) for i in range(300)]
        msgs += [(smoke, event(5)), (smoke, event(6))]  # repeats of stored ids
        msgs += [(topics.device_topic("lxy-smoke-1", "heartbeat"), b"")]
        msgs += [(smoke, event(900, "fire", code="smoke", zone="1"))]
        msgs += [
            (smoke, b"{broken"),
            (topics.device_topic("nobody", "event"), event(1)),
            (smoke, json.dumps({"kind": "fire", "colour": "red"}).encode()),
            (topics.device_topic("lxy-smoke-1", "status"), b"sleeping"),
        ]
        publish_all(device, msgs)
        until(lambda: count(live, Event) == 302, what="302 stored events")
        until(lambda: count(live, DeadLetter) == 4, what="4 dead letters")
        assert count(live, Alarm, Alarm.category == "fire") == 1
        engine = make_engine(live.settings)
        with Session(engine) as s:
            reasons = sorted(s.scalars(select(DeadLetter.reason_key)))
            assert reasons == ["bad_json", "schema", "schema", "unknown_device"]
            assert s.scalar(select(Device.status).where(Device.code == "lxy-smoke-1")) == "online"
        engine.dispose()
        until(
            lambda: adapter.status.counters.stored == 302 and adapter.inbox.empty(),
            what="all acknowledged",
        )
    finally:
        device.loop_stop()
        device.disconnect()
        adapter.stop()
    # Everything was acknowledged: a new session of the same name gets nothing again.
    again = adapter_for(live, broker)
    again.start()
    until(lambda: again.status.connected, what="reconnection")
    time.sleep(1)
    again.stop()
    assert again.status.counters.received == 0
    assert count(live, Event) == 302


def test_last_will_marks_offline_and_return_restores(live: Live, broker: Broker) -> None:
    adapter = adapter_for(live, broker)
    adapter.start()
    until(lambda: adapter.status.connected, what="the platform's connection")
    status = topics.device_topic("lxy-door-1", "status")
    door = client(broker, "lxy-door-1", will=(status, b"offline"))
    try:
        publish_all(door, [(status, b"online")])
        until(lambda: count(live, Device, Device.status == "online") == 1, what="online")
        door._sock_close()  # the connection dies without a DISCONNECT: the broker sends the will
        until(
            lambda: count(live, Alarm, Alarm.category == "device", Alarm.is_open.is_(True)) == 1,
            timeout=30,
            what="device offline alarm",
        )
        assert count(live, Device, Device.status == "offline") == 1
        door2 = client(broker, "lxy-door-1b")
        publish_all(door2, [(status, b"online")])
        until(
            lambda: count(live, Alarm, Alarm.category == "device", Alarm.is_open.is_(True)) == 0,
            what="restore",
        )
        door2.loop_stop()
        door2.disconnect()
    finally:
        door.loop_stop()
        adapter.stop()


def test_platform_killed_mid_burst_loses_nothing(live: Live, broker: Broker) -> None:
    """SIGKILL while a burst is flowing, publishing on while it is down: every event once."""
    live.env.update(
        PINGAN_MQTT_URL=broker.url, PINGAN_MQTT_CLIENT_ID="pingan-kill", PINGAN_SIA_PORT="0"
    )
    live.serve()
    until(
        lambda: live.get("/healthz")["workers"]["mqtt"]["connected"],
        what="the platform's connection",
    )
    device = client(broker, "lxy-smoke-1-pub")
    topic = topics.device_topic("lxy-smoke-1", "event")
    try:
        infos = [device.publish(topic, event(i), qos=1) for i in range(3000)]
        until(lambda: count(live, Event) > 200, what="the burst to start landing")
        live.kill()
        infos += [device.publish(topic, event(i), qos=1) for i in range(3000, 4000)]
        for info in infos:
            info.wait_for_publish(timeout=60)
        live.serve()
        until(lambda: count(live, Event) == 4000, timeout=90, what="all 4000 events")
        time.sleep(1)
        assert count(live, Event) == 4000
    finally:
        device.loop_stop()
        device.disconnect()


def test_broker_restart_is_survived(live: Live, broker: Broker) -> None:
    live.env.update(
        PINGAN_MQTT_URL=broker.url, PINGAN_MQTT_CLIENT_ID="pingan-restart", PINGAN_SIA_PORT="0"
    )
    live.serve()
    until(lambda: live.get("/healthz")["workers"]["mqtt"]["connected"], what="connection")
    topic = topics.device_topic("lxy-smoke-1", "event")
    first = client(broker, "pub-1")
    publish_all(first, [(topic, event(i)) for i in range(100)])
    first.loop_stop()
    first.disconnect()
    until(lambda: count(live, Event) == 100, what="the first 100")
    broker.stop()
    until(
        lambda: not live.get("/healthz")["workers"]["mqtt"]["connected"],
        what="the platform to notice",
    )
    assert live.get("/healthz")["workers"]["mqtt"]["last_error"]
    broker.start()
    until(
        lambda: live.get("/healthz")["workers"]["mqtt"]["connected"],
        timeout=60,
        what="reconnection",
    )
    second = client(broker, "pub-2")
    publish_all(second, [(topic, event(i)) for i in range(100, 200)])
    second.loop_stop()
    second.disconnect()
    until(lambda: count(live, Event) == 200, what="all 200")


def test_platform_starts_without_a_broker(live: Live) -> None:
    live.env.update(PINGAN_MQTT_URL="mqtt://127.0.0.1:1", PINGAN_SIA_PORT="0")
    live.serve()
    health = live.get("/healthz")
    assert health["status"] == "ok" and health["workers"]["mqtt"]["connected"] is False
    until(
        lambda: bool(live.get("/healthz")["workers"]["mqtt"]["last_error"]),
        what="the error to show",
    )
    assert live.get("/api/v1/territory/nodes", live.token())["total"] == 3  # and HTTP serves


ACL = topics.broker_acl()  # what the console hands out, as docs/devices.md shows


def test_each_device_may_publish_only_to_its_own_topics(live: Live, tmp_path: Path) -> None:
    """The Mosquitto set-up of docs/devices.md: per-device accounts and the ACL."""
    folder = tmp_path / "secure"
    folder.mkdir()
    secure = Broker(
        folder,
        passwords={"pingan": "platform-pw", "lxy-smoke-1": "smoke-pw", "lxy-door-1": "door-pw"},
        acl=ACL,
    )
    secure.start()
    try:
        settings = live.settings.model_copy(
            update={
                "mqtt_url": secure.url,
                "mqtt_client_id": "pingan-acl",
                "mqtt_username": "pingan",
                "mqtt_password": "platform-pw",
            }
        )
        engine = make_engine(settings)
        adapter = MqttAdapter(
            settings,
            sessionmaker(bind=engine, expire_on_commit=False),
            Runtime.build(settings).pipeline,
        )
        adapter.start()
        until(lambda: adapter.status.connected, what="the platform's login")
        smoke = client(secure, "smoke", username="lxy-smoke-1", password="smoke-pw")
        publish_all(
            smoke,
            [
                (topics.device_topic("lxy-smoke-1", "event"), event(1)),
                (topics.device_topic("lxy-door-1", "event"), event(2, "door", code="door_forced")),
            ],
        )
        until(lambda: count(live, Event) == 1, what="the device's own event")
        time.sleep(1)
        assert count(live, Event) == 1  # the one in another device's name never arrived
        assert count(live, Alarm) == 0
        smoke.loop_stop()
        smoke.disconnect()
        adapter.stop()
        bad = MqttAdapter(
            settings.model_copy(update={"mqtt_password": "wrong", "mqtt_client_id": "pingan-bad"}),
            sessionmaker(bind=engine),
            Runtime.build(settings).pipeline,
        )
        bad.start()
        until(lambda: bool(bad.status.last_error), what="the refusal to show")
        assert bad.status.connected is False and "refused" in (bad.status.last_error or "")
        bad.stop()
    finally:
        secure.stop()


def test_the_console_s_password_line_lets_the_device_in_and_no_one_else(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    """The MQTT password the console hands out, in the line it gives for the password file,
    against a real Mosquitto: the device logs in with its code; a wrong password is refused."""
    device = add_device(world, "gh-smoke-mqtt", node="gh_site", protocol="mqtt")
    device_id = world.devices["gh-smoke-mqtt"]
    r = client.post(f"/api/v1/devices/{device_id}/mqtt-password", headers=world.auth("gh_admin"))
    assert r.status_code == 201, r.text
    given = r.json()
    assert given["username"] == "gh-smoke-mqtt" and device == ""
    assert given["password_line"].startswith("gh-smoke-mqtt:$7$101$")
    assert "pattern write pingan/v1/%u/event" in given["acl"]
    broker = Broker(tmp_path, password_lines=[given["password_line"]], acl=given["acl"])
    broker.start()
    try:
        results: dict[str, Any] = {}
        for name, password in (("right", given["password"]), ("wrong", "not-the-password")):
            c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
            c.username_pw_set("gh-smoke-mqtt", password)
            c.on_connect = lambda _c, _u, _f, code, _p, name=name: results.__setitem__(name, code)
            c.connect("127.0.0.1", broker.port, keepalive=5)
            c.loop_start()
            until(lambda name=name: name in results, what=f"the {name} password's answer")
            c.loop_stop()
            c.disconnect()
        assert not results["right"].is_failure
        assert results["wrong"].is_failure
    finally:
        broker.stop()
    # Only for MQTT devices, and only for those who manage devices.
    add_device(world, "gh-smoke-http", node="gh_site")
    http = world.devices["gh-smoke-http"]
    operator = client.post(
        f"/api/v1/devices/{device_id}/mqtt-password", headers=world.auth("gh_operator")
    )
    assert operator.status_code == 403
    not_mqtt = client.post(f"/api/v1/devices/{http}/mqtt-password", headers=world.auth("gh_admin"))
    assert not_mqtt.status_code == 422 and "MQTT" in not_mqtt.json()["detail"]


def test_a_message_the_pipeline_cannot_take_does_not_block_the_rest(live: Live) -> None:
    from pingan.events.pipeline import Pipeline, Stored
    from pingan.ingest.mqtt import Received

    def poison(_session: Session, events: list[Stored]) -> list[object]:
        if any(e.code == "poison" for e in events):
            raise RuntimeError("cannot take this one")
        return []

    settings = live.settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    runtime = Runtime.build(settings)
    adapter = MqttAdapter(
        settings,
        sessionmaker(bind=make_engine(settings), expire_on_commit=False),
        Pipeline([*runtime.pipeline.consumers, poison]),
    )  # type: ignore[list-item]
    topic = topics.device_topic("lxy-smoke-1", "event")
    batch = [Received(topic, event(i), i, 1, 0) for i in range(5)]
    batch.insert(2, Received(topic, event(99, "sensor", code="poison"), 99, 1, 0))
    assert adapter.store_batch(batch) is True
    assert count(live, Event) == 5
    assert count(live, DeadLetter, DeadLetter.reason_key == "internal") == 1
    assert adapter.status.counters.errors == 1


def test_six_seconds_down_at_200_a_second_loses_nothing(live: Live, broker: Broker) -> None:
    """The broker settings the docs ask for (the tests' broker uses them): a platform down for
    six seconds while devices publish 200 messages a second gets every one, once, when back."""
    from pingan.localbroker import BROKER_SETTINGS

    docs = (Path(__file__).parents[2] / "docs" / "devices.md").read_text()
    assert all(line in docs for line in BROKER_SETTINGS)
    live.env.update(
        PINGAN_MQTT_URL=broker.url, PINGAN_MQTT_CLIENT_ID="pingan-down", PINGAN_SIA_PORT="0"
    )
    live.serve()
    until(
        lambda: live.get("/healthz")["workers"]["mqtt"]["connected"],
        what="the platform's connection",
    )
    assert "unverified" in live.get("/healthz")["workers"]["mqtt"]["broker_settings"]
    device = client(broker, "lxy-smoke-1-pub")
    topic = topics.device_topic("lxy-smoke-1", "event")
    infos = []
    try:
        for i in range(2000):  # ten seconds at 200 a second; the platform away for six of them
            infos.append(device.publish(topic, event(i), qos=1))
            if i == 400:
                live.kill()
            if i == 1600:
                live.serve()
            time.sleep(0.005)
        for info in infos:
            info.wait_for_publish(timeout=60)
        until(lambda: count(live, Event) == 2000, timeout=90, what="all 2000 events")
        time.sleep(1)
        assert count(live, Event) == 2000
    finally:
        device.loop_stop()
        device.disconnect()
