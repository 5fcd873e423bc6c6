"""A face terminal sends its snapshot over MQTT, through a real broker, to a running platform,
and gets its door's answer on its decision topic."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from pingan.ingest import topics
from pingan.ingest.mqtt import MqttAdapter, Received
from tests.conftest import Backend, World, add_device, settings_for
from tests.faces.test_engine import photo
from tests.live import Broker, Live, client, make_live


@pytest.fixture()
def platform(tmp_path: Path) -> Iterator[tuple[Live, Broker]]:
    live = make_live(settings_for("sqlite", tmp_path))
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    live.env.update(PINGAN_MQTT_URL=broker.url, PINGAN_SIA_PORT="0")
    live.add_device("lxy-face-1", kind="face_terminal", protocol="mqtt", name="东门人脸机")
    live.serve()
    until = time.monotonic() + 15
    while not live.get("/healthz")["workers"]["mqtt"]["connected"] and time.monotonic() < until:
        time.sleep(0.1)
    yield live, broker
    live.stop()
    broker.stop()


def test_a_door_asks_over_mqtt(platform: tuple[Live, Broker]) -> None:
    live, broker = platform
    base = f"http://127.0.0.1:{live.port}"
    h = {"Authorization": f"Bearer {live.token()}"}
    person = httpx.post(
        f"{base}/api/v1/people", json={"node_id": live.nodes["site"], "name": "陈燕西"}, headers=h
    ).json()["id"]
    r = httpx.post(
        f"{base}/api/v1/people/{person}/face-consents",
        json={
            "node_id": live.nodes["site"],
            "purpose": "door_access",
            "central_storage": True,
            "method": "paper",
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    r = httpx.post(
        f"{base}/api/v1/people/{person}/face-templates",
        files=[("photos", ("1.jpg", photo("chen_yanxi/1.jpg"), "image/jpeg"))],
        headers=h,
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["templates"] == 1, r.text

    answers: queue.Queue[dict[str, object]] = queue.Queue()
    terminal = client(broker, "lxy-face-1")
    terminal.on_message = lambda _c, _u, msg: answers.put(json.loads(msg.payload))
    terminal.subscribe(topics.device_topic("lxy-face-1", "decision"), qos=1)
    time.sleep(0.3)

    def ask(name: str, liveness: str | None) -> dict[str, object]:
        props = Properties(PacketTypes.PUBLISH)
        if liveness:
            props.UserProperty = [("liveness", liveness)]
        terminal.publish(
            topics.device_topic("lxy-face-1", "snapshot"), photo(name), qos=1, properties=props
        )
        return answers.get(timeout=30)

    granted = ask("chen_yanxi/2.jpg", "passed")
    assert granted["decision"] == "grant" and granted["name"] == "陈**"
    assert ask("chen_yanxi/2.jpg", None)["reason"] == "liveness_unknown"
    assert ask("kim_ji_won/1.jpg", "passed")["reason"] == "unknown"
    # Not an image: kept with its reason, the terminal's link stays up.
    terminal.publish(topics.device_topic("lxy-face-1", "snapshot"), b"not a jpeg", qos=1)
    until = time.monotonic() + 10
    letters: list[str] = []
    while time.monotonic() < until and not letters:
        time.sleep(0.2)
        found = httpx.get(f"{base}/api/v1/dead-letters", headers=h).json()["items"]
        letters = [letter["reason_key"] for letter in found]
    assert letters == ["bad_image"]
    assert ask("chen_yanxi/2.jpg", "passed")["decision"] == "grant"
    terminal.disconnect()


def test_a_door_hears_its_decision_only_once_it_is_committed(
    backend: Backend, client: TestClient, world: World
) -> None:
    """The decision is published after the transaction that records it: a commit that fails
    sends nothing (the terminal, unacknowledged, asks again), one that succeeds sends it."""
    add_device(world, "gh-face-mqtt", node="gh_site", kind="face_terminal", protocol="mqtt")
    world.session.commit()
    app = backend.app
    settings = app.state.settings.model_copy(update={"mqtt_url": "mqtt://127.0.0.1:1"})
    adapter = MqttAdapter(
        settings, app.state.sessionmaker, app.state.runtime.pipeline, faces=app.state.faces
    )
    published: list[tuple[str, dict[str, object]]] = []
    adapter.client = SimpleNamespace(  # type: ignore[assignment]
        publish=lambda topic, payload, qos: published.append((topic, json.loads(payload)))
    )
    item = Received(
        topics.device_topic("gh-face-mqtt", "snapshot"), photo("kim_ji_won/1.jpg"), 1, 1, 0, True
    )

    class CommitFails(Session):
        def commit(self) -> None:
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    adapter.factory = sessionmaker(class_=CommitFails, **app.state.sessionmaker.kw)
    with pytest.raises(OperationalError):
        adapter.process([item])
    assert published == []
    adapter.factory = app.state.sessionmaker
    adapter.process([item])
    [(topic, answer)] = published
    assert topic == topics.device_topic("gh-face-mqtt", "decision")
    assert answer["decision"] == "deny" and answer["reason"] == "unknown"
