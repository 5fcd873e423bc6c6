"""A camera stream (a video file here, an RTSP URL in the field): one person passing makes one
recognition; a photo held still in front of the camera does not open the door; the live view
plays only while watched."""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.models import AuditEntry
from pingan.db.base import configure_secrets
from pingan.db.engine import make_engine
from pingan.devices.models import Device
from pingan.devices.service import info_by_id
from pingan.events.models import Event
from pingan.faces.engine import decode_image
from pingan.faces.models import Recognition
from pingan.faces.tracker import Tracker
from pingan.ingest.video import LIVE_VIEWS, LOOP, CameraStream, frames
from tests.conftest import Backend, World, add_device, settings_for
from tests.faces.test_engine import photo
from tests.faces.test_faces_api import consent, enrol
from tests.live import make_live


def video(path: Path, *, turning: bool, seconds: float = 4, fps: int = 8) -> str:
    """The same person's photo as a video: still, or turning the head a little (a live face)."""
    image = decode_image(photo("chen_yanxi/2.jpg"))
    height, width = image.shape[:2]
    scale = 640 / width
    image = cv2.resize(image, (640, int(height * scale)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (640, image.shape[0]))
    for t in range(int(seconds * fps)):
        frame = image
        if turning:  # narrower and wider, as a head turning left and right
            k = 1 - 0.15 * abs(math.sin(t / 2))
            matrix = np.float32([[k, 0, (1 - k) * 320], [0, 1, 0]])
            frame = cv2.warpAffine(image, matrix, (640, image.shape[0]))
        writer.write(frame)
    writer.release()
    return str(path)


def camera_on(
    backend: Backend, world: World, key: str, url: str, repeat_s: float = 0.0
) -> CameraStream:
    """The device `key` sampling `url` at 4 frames a second, with the app's faces and pipeline."""
    device = info_by_id(world.session, device_id=world.devices[key])
    assert device is not None
    app = backend.app
    return CameraStream(
        device,
        url,
        faces=app.state.faces,
        factory=app.state.sessionmaker,
        pipeline=app.state.runtime.pipeline,
        fps=4,
        repeat_s=repeat_s,
    )


def run_camera(backend: Backend, world: World, key: str, url: str) -> CameraStream:
    camera = camera_on(backend, world, key, url)
    camera.run()  # a file ends by itself
    return camera


def test_one_recognition_per_passing_person_and_no_door_for_a_still_photo(
    client: TestClient, world: World, backend: Backend, tmp_path: Path
) -> None:
    add_device(world, "gh-gate-cam", node="gh_site", kind="face_terminal", name="东门人脸摄像机")
    person = world.people["gh"]
    consent(client, world, person)
    assert enrol(client, world, person, "chen_yanxi/1.jpg").status_code == 200

    camera = run_camera(backend, world, "gh-gate-cam", video(tmp_path / "still.avi", turning=False))
    assert camera.frames >= 12  # 4 s sampled at 4 frames a second
    [still] = world.session.scalars(select(Recognition)).all()
    assert (still.person_id, still.decision, still.reason) == (person, "deny", "liveness_failed")

    run_camera(backend, world, "gh-gate-cam", video(tmp_path / "live.avi", turning=True))
    rows = world.session.scalars(select(Recognition).order_by(Recognition.id)).all()
    assert len(rows) == 2  # one person passing: one recognition
    assert (rows[1].person_id, rows[1].decision, rows[1].liveness) == (person, "grant", True)
    codes = [
        e.code
        for e in world.session.scalars(select(Event).where(Event.kind == "door").order_by(Event.id))
    ]
    assert codes == ["access_denied", "access_granted"]


def _open_views() -> float:
    return sum(s.value for m in LIVE_VIEWS.collect() for s in m.samples)


def test_live_view_only_while_watched_and_audited(
    client: TestClient, world: World, tmp_path: Path
) -> None:
    add_device(world, "gh-cam", node="gh_site", kind="camera", protocol="mqtt", name="东门摄像机")
    device = world.session.get(Device, world.devices["gh-cam"])
    assert device is not None
    device.stream_url = video(tmp_path / "cam.avi", turning=True, seconds=2)
    world.session.flush()
    with client.stream(
        "GET", f"/api/v1/devices/{device.id}/live.mjpg", headers=world.auth("gh_operator")
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith(
            "multipart/x-mixed-replace"
        )
        first = next(r.iter_bytes())
        assert b"Content-Type: image/jpeg" in first
        assert _open_views() == 1  # opened for this viewer (closing it: the test below)
    r = client.get(f"/api/v1/devices/{device.id}/live.mjpg", headers=world.auth("hg_admin"))
    assert r.status_code == 404
    watched = world.session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "devices", AuditEntry.action == "view")
    ).all()
    assert [w.entity_id for w in watched] == [str(device.id)]
    listed = client.get(f"/api/v1/devices/{device.id}", headers=world.auth("gh_operator")).json()
    assert listed["has_stream"] and "stream_url" not in listed


def test_the_live_view_lets_the_camera_go_when_the_viewer_leaves(tmp_path: Path) -> None:
    """Against a running platform (a real server, so the viewer really hangs up): while watched
    one stream is open; once the viewer leaves, none, long before the video would end."""
    live = make_live(settings_for("sqlite", tmp_path))
    camera = live.add_device("lxy-cam", kind="camera", protocol="mqtt", name="东门摄像机")
    configure_secrets(live.settings.data_key)
    engine = make_engine(live.settings)
    with Session(engine) as s:
        device = s.get(Device, camera)
        assert device is not None
        device.stream_url = video(tmp_path / "cam.avi", turning=True, seconds=60)
        s.commit()
    engine.dispose()
    live.serve()
    try:
        base = f"http://127.0.0.1:{live.port}"

        def views() -> str:
            lines = httpx.get(f"{base}/metrics", timeout=5).text.splitlines()
            return next(line for line in lines if line.startswith("pingan_live_views "))

        headers = {"Authorization": f"Bearer {live.token()}"}
        with httpx.stream("GET", f"{base}/api/v1/devices/{camera}/live.mjpg", headers=headers) as r:
            assert r.status_code == 200
            assert b"image/jpeg" in next(r.iter_bytes())
            assert views() == "pingan_live_views 1.0"
        deadline = time.monotonic() + 15
        while views() != "pingan_live_views 0.0" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert views() == "pingan_live_views 0.0"
    finally:
        live.stop()


def test_a_looped_file_plays_round_and_round_at_a_camera_s_pace(tmp_path: Path) -> None:
    """The demo's camera: `loop:` a video file, read again from the start when it ends, as fast
    as a camera shows it (not as fast as it decodes); a file of no frames is an error."""
    clip = video(tmp_path / "clip.avi", turning=False, seconds=1, fps=8)
    stop = threading.Event()
    started = time.monotonic()
    got = []
    for number, jpeg in frames(f"{LOOP}{clip}", 8, stop):
        assert jpeg[:2] == b"\xff\xd8"
        got.append(number)
        if number == 20:  # two and a half times through an eight-frame clip
            stop.set()
    assert got == list(range(1, 21))
    assert time.monotonic() - started > 1.8  # 20 frames at 8 a second, less the first
    (tmp_path / "empty.avi").write_bytes(b"")
    with pytest.raises(OSError):
        next(frames(f"{LOOP}{tmp_path / 'empty.avi'}", 8, threading.Event()))


def test_a_camera_records_a_known_person_once_a_visit(
    client: TestClient, world: World, backend: Backend, tmp_path: Path
) -> None:
    """A camera that is no door: the resident passing again within the repeat time is not
    recorded again (no more sightings kept than a visit needs); a door decides every time."""
    add_device(world, "gh-cam", node="gh_site", kind="camera", name="大门摄像机")
    person = world.people["gh"]
    consent(client, world, person)
    assert enrol(client, world, person, "chen_yanxi/1.jpg").status_code == 200
    clip = video(tmp_path / "pass.avi", turning=True)
    camera = camera_on(backend, world, "gh-cam", clip, repeat_s=600)
    camera.run()
    world.session.expire_all()
    [seen] = world.session.scalars(select(Recognition)).all()
    assert (seen.person_id, seen.decision, seen.reason) == (person, "seen", "known")
    camera.tracker = Tracker()  # the same resident passing again: a new track
    camera.run()
    world.session.expire_all()
    assert len(world.session.scalars(select(Recognition)).all()) == 1
    add_device(world, "gh-gate-face", node="gh_site", kind="face_terminal", name="东门人脸机")
    gate = camera_on(backend, world, "gh-gate-face", clip, repeat_s=600)
    assert gate.repeat_s == 0  # a door decides at every pass
