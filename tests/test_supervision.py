"""Long-lived workers are supervised: each one is killed or broken here and watched coming back;
a part down for over a minute raises "platform component down" on the street's desk, cleared when
it is back; the simulator waits out a platform that stops answering."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from pingan import sim
from pingan.config import Settings
from pingan.db.base import utcnow
from pingan.devices.service import DeviceInfo
from pingan.faces.analysis import FaceWorkers
from pingan.health import Component
from pingan.ingest import video
from pingan.ingest.mqtt import MqttAdapter
from pingan.ingest.video import CameraStream
from pingan.localbroker import free_port
from pingan.workers import Workers
from tests.conftest import INTERNALS, Backend, World
from tests.faces.test_engine import photo


def test_the_face_pool_comes_back_after_a_worker_is_killed() -> None:
    picture = photo("chen_yanxi/1.jpg")
    workers = FaceWorkers("onnx", None, 1)
    try:
        workers.start()
        [pid] = workers.pids()
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.5)
        assert workers.analyse(picture).faces == 1  # on a new pool
        assert workers.health.restarts == 1 and workers.health.up
        assert workers.pids() != [pid]
        assert "BrokenProcessPool" in (workers.health.last_error or "")
    finally:
        workers.close()


def _camera() -> CameraStream:
    device = DeviceInfo(
        id=1,
        code="cam-1",
        name="东门摄像机",
        kind="camera",
        protocol="http",
        node_id=1,
        path="/1/",
        location=None,
        is_exit=False,
        enabled=True,
        sia_account=None,
        sia_key=None,
        sia_key_hex=True,
    )
    return CameraStream(
        device,
        "rtsp://127.0.0.1:1/none",
        faces=None,
        factory=None,
        pipeline=None,
        fps=2,  # type: ignore[arg-type]
    )


def test_a_camera_stream_that_fails_is_started_again_with_back_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(video, "FIRST_PAUSE_S", 0.01)
    camera = _camera()
    attempts: list[float] = []
    pauses: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            pauses.append(timeout or 0.0)
            return super().wait(timeout)

    camera.stop = Stop()

    def run() -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise OSError("stream lost")
        camera.health.succeeded()
        camera.stop.set()

    monkeypatch.setattr(camera, "run", run)
    thread = threading.Thread(target=camera.supervise)
    thread.start()
    thread.join(timeout=5)
    assert len(attempts) == 4 and camera.health.restarts == 3 and camera.health.up
    assert camera.health.last_error == "OSError: stream lost"
    assert pauses == [0.01, 0.02, 0.04, 0.08]  # the pause doubles (the last one finds it closed)


def test_the_mqtt_worker_survives_its_errors_and_a_dead_thread_is_started_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    settings = Settings(
        var_dir=tmp_path, mqtt_url=f"mqtt://127.0.0.1:{free_port()}", run_workers=False
    )
    adapter = MqttAdapter(settings, None, None)  # type: ignore[arg-type]
    calls: list[int] = []

    def once() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in a batch")
        time.sleep(0.01)

    monkeypatch.setattr(adapter, "_work_once", once)
    adapter.start()
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(calls) >= 3  # the loop went on after the error
        assert "a bug in a batch" in (adapter.health.last_error or "")
        # A worker thread found dead is started again by the supervision round.
        adapter._stop.set()
        assert adapter._worker is not None
        adapter._worker.join(timeout=5)
        adapter._stop.clear()
        adapter.ensure_worker()
        assert adapter._worker.is_alive() and adapter.health.restarts == 1
    finally:
        adapter.stop()


def test_a_part_down_for_a_minute_raises_an_alarm_that_clears_when_it_is_back(
    backend: Backend, client: TestClient, world: World
) -> None:
    world.session.commit()
    app = backend.app
    workers = Workers(
        app.state.settings, app.state.sessionmaker, app.state.runtime, app.state.engine
    )
    part = Component("dc09-test")
    part.failed("address already in use", state="down")
    workers.loops["receiver"] = part
    workers.watch_components()
    assert client.get("/api/v1/alarms", headers=world.auth("street_admin")).json()["total"] == 0
    part.down_since = utcnow() - timedelta(seconds=61)
    workers.watch_components()
    workers.watch_components()  # once, however many rounds see it
    [alarm] = client.get("/api/v1/alarms", headers=world.auth("street_admin")).json()["items"]
    assert alarm["title"] == "平台组件故障" and "address already in use" in alarm["subject"]
    assert alarm["node_id"] == world.nodes["street"] and alarm["priority"] == 2
    # A community's desk does not see the platform's own troubles.
    assert client.get("/api/v1/alarms", headers=world.auth("gh_admin")).json()["total"] == 0
    metrics = client.get("/metrics", headers=INTERNALS).text
    assert 'pingan_component_up{component="loop:receiver"} 0.0' in metrics
    part.succeeded()
    workers.watch_components()
    after = client.get(f"/api/v1/alarms/{alarm['id']}", headers=world.auth("street_admin")).json()
    assert after["restored"] is True and after["state"] == "closed"
    assert (
        'pingan_component_up{component="loop:receiver"} 1.0'
        in client.get("/metrics", headers=INTERNALS).text
    )


class _Channels:
    def __init__(self) -> None:
        self.counts = sim.Counts()

    def send(self, _message: Any) -> None:
        self.counts.http += 1


def test_the_simulator_waits_out_a_platform_that_stops_answering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = iter([False, False, False])  # a restart: three looks without an answer
    said: list[str] = []
    slept: list[float] = []
    clock = [0.0]
    monkeypatch.setattr(sim.time, "monotonic", lambda: clock[0])

    def fake_sleep(seconds: float) -> None:
        clock[0] += max(seconds, 0.0)

    monkeypatch.setattr(sim.time, "sleep", fake_sleep)

    def alive() -> bool:
        clock[0] += 0.1
        return next(answers, True)

    def pause(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    channels = _Channels()
    counts = sim.run(
        channels,  # type: ignore[arg-type]
        sim.Mix([sim.SimDevice(id=1, code="sim-0000", kind="smoke_detector", protocol="http")]),
        rate=10,
        duration=30,
        alive=alive,
        say=said.append,
        sleep=pause,
    )
    assert slept == [1.0, 2.0]  # waited, doubling, instead of giving up
    assert any("retrying in 1 s" in s for s in said) and "sending on" in said[-1]
    assert counts.http > 200  # and went on sending to the end
