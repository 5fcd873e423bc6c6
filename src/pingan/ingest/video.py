"""Camera streams: an RTSP URL (or a video file: once through for tests, or round and round as
`loop:/path/file.mp4`, the demo's camera) sampled at a configured rate; faces
are tracked across frames so that one person passing makes one recognition, and a track that did
not move naturally (a photo held up) never opens a door."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator

import cv2
from prometheus_client import Gauge
from sqlalchemy.orm import Session, sessionmaker

from pingan.db.engine import READONLY, unit_of_work
from pingan.devices.service import DeviceInfo
from pingan.events.pipeline import Pipeline
from pingan.faces import service as face_service
from pingan.faces.analysis import Analysis
from pingan.faces.identification import DEFAULT_FPIR, MATCH, Identified, consensus
from pingan.faces.runtime import FaceRuntime
from pingan.faces.tracker import Track, Tracker
from pingan.health import Component

log = logging.getLogger("pingan.video")
MIN_EYE_DISTANCE = 24.0  # px: smaller faces in a camera frame are not recognisable
RECONNECT_S = 5.0
LOOP = "loop:"  # a video file played round and round, as a camera that never ends


def _live(url: str) -> bool:
    """Paced by our clock and never over: a camera (rtsp://, http:// …) or a looped file."""
    return "://" in url or url.startswith(LOOP)


def frames(url: str, fps: float, stop: threading.Event) -> Iterator[tuple[int, bytes]]:
    """JPEG frames sampled at `fps`: by the stream's own clock for a file, by ours when live."""
    interval_ms = 1000.0 / fps
    number = 0
    source, looped = url.removeprefix(LOOP), url.startswith(LOOP)
    while not stop.is_set():
        capture = cv2.VideoCapture(source)
        if not capture.isOpened():
            if "://" not in url:
                raise OSError(f"cannot open video {url}")
            log.warning("camera %s: cannot connect; retrying", url.split("@")[-1])
            stop.wait(RECONNECT_S)
            continue
        next_ms = 0.0
        started = time.monotonic()
        read = 0
        try:
            while not stop.is_set():
                ok, frame = capture.read()
                if not ok:
                    break
                read += 1
                at = (
                    (time.monotonic() - started) * 1000
                    if "://" in url
                    else capture.get(cv2.CAP_PROP_POS_MSEC)
                )
                if at + 1e-6 < next_ms:
                    continue
                next_ms = at + interval_ms
                if looped:  # played as fast as a camera would show it
                    stop.wait(max(0.0, at / 1000 - (time.monotonic() - started)))
                number += 1
                done, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                if done:
                    yield number, jpeg.tobytes()
        finally:
            capture.release()
        if looped and read:
            continue  # from the start again
        if looped:
            raise OSError(f"video {source} has no frames")
        if not _live(url):
            return  # a file ends; a camera is reconnected
        stop.wait(RECONNECT_S)


FIRST_PAUSE_S = 1.0  # before a failed stream is started again; doubling to MAX_PAUSE_S
MAX_PAUSE_S = 60.0


class CameraStream:
    """One camera, sampled in a thread of its own. Each face of a track is identified on every
    frame; the track is decided once `frames_needed` frames agree (identification.consensus),
    then recorded once. A stream that fails is started again after a pause that doubles up to
    a minute; its state is on /healthz."""

    def __init__(
        self,
        device: DeviceInfo,
        url: str,
        *,
        faces: FaceRuntime,
        factory: sessionmaker[Session],
        pipeline: Pipeline,
        fps: float,
        frames_needed: int = 3,
        fpir: float = DEFAULT_FPIR,
        repeat_s: float = 0.0,
        on_report: Callable[[face_service.Outcome], None] | None = None,
    ) -> None:
        self.device, self.url, self.faces = device, url, faces
        self.factory, self.pipeline, self.fps = factory, pipeline, fps
        self.frames_needed = frames_needed
        self.fpir = face_service.door_fpir(device, fpir)
        self.on_report = on_report
        # A known person passing the same camera again within repeat_s is not recorded again
        # (doors always decide): no more sightings kept than a visit needs.
        self.repeat_s = 0.0 if device.kind in face_service.DOORS else repeat_s
        self.last_seen: dict[int, float] = {}
        self.stop = threading.Event()
        self.tracker = Tracker()
        self.frames = 0
        self.thread: threading.Thread | None = None
        self.health = Component(f"camera:{device.code}")

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self.supervise, name=f"camera-{self.device.code}", daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
        self.health.stopped()

    def supervise(self) -> None:
        """Run the stream; when it fails, wait (1 s, doubling to 60 s) and run it again."""
        pause = FIRST_PAUSE_S
        while not self.stop.is_set():
            try:
                self.run()
                if not _live(self.url):
                    self.health.stopped()
                    return  # a file has ended
            except Exception as exc:  # recorded and retried, never the end of the camera
                self.health.failed(exc)
                log.exception(
                    "camera %s failed; starting it again in %.0f s", self.device.code, pause
                )
            if self.stop.wait(pause):
                return
            self.health.restarted()
            pause = min(MAX_PAUSE_S, pause * 2)

    def run(self) -> None:
        for number, jpeg in frames(self.url, self.fps, self.stop):
            self.frames = number
            faces = self.faces.workers.analyse_frame(jpeg, MIN_EYE_DISTANCE)
            for track in self.tracker.update(number, faces):
                if track.reported:
                    continue
                track.votes.append(self.identify(track.last))
                decided = consensus(track.votes, self.frames_needed)
                if decided is not None:
                    track.reported = True
                    self.report(track, decided)
            self.health.succeeded()

    def identify(self, face: Analysis) -> Identified:
        engine_id = self.faces.engine_id()
        with unit_of_work(self.factory, actor=f"device:{self.device.code}") as session:
            session.connection(execution_options={READONLY: True})
            return face_service.identify_at(
                session,
                device=self.device,
                analysis=face,
                engine_id=engine_id,
                gallery=self.faces.gallery(engine_id, len(face.as_array()) or 512),
                vault=self.faces.vault(),
                rule=face_service.rule_for(session, engine_id=engine_id),
                fpir=self.fpir,
            )

    def report(self, track: Track, decided: Identified) -> None:
        if decided.outcome == MATCH and decided.person_id is not None and self.repeat_s:
            now = time.monotonic()
            last = self.last_seen.get(decided.person_id)
            if last is not None and now - last < self.repeat_s:
                return
            self.last_seen[decided.person_id] = now
        engine_id = self.faces.engine_id()
        dim = len(track.best.as_array())
        with unit_of_work(self.factory, actor=f"device:{self.device.code}") as session:
            outcome = face_service.recognise(
                session,
                device=self.device,
                analysis=track.best,
                engine_id=engine_id,
                gallery=self.faces.gallery(engine_id, dim),
                vault=self.faces.vault(),
                liveness=track.moving,  # a stream's liveness: natural movement across frames
                watching=self.faces.watching(engine_id, dim),
                fpir=self.fpir,
                identified=decided,
            )
            items = face_service.events_for(self.device, outcome, "camera")
            if items:
                self.pipeline.process(session, items)
        if self.on_report is not None:
            self.on_report(outcome)


LIVE_FPS = 3.0


LIVE_VIEWS = Gauge("pingan_live_views", "Camera streams open for someone watching them now")


def live_view(url: str, stop: threading.Event, fps: float = LIVE_FPS) -> Generator[bytes]:
    """A camera's picture as multipart JPEG (MJPEG), a few frames a second: the stream is opened
    only while someone watches, and closed when they leave (LIVE_VIEWS counts the open ones)."""
    LIVE_VIEWS.inc()
    try:
        for _number, jpeg in frames(url, fps, stop):
            yield b"--frame\r\nContent-Type: image/jpeg\r\n\r\n" + jpeg + b"\r\n"
            if not _live(url):
                time.sleep(1.0 / fps)  # a file plays at the pace of a camera
    finally:
        LIVE_VIEWS.dec()
