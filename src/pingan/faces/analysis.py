"""What a photo holds, worked out away from the web loop: the faces found, the largest one's
template, and the figures of the quality gate. Runs in worker processes (one engine each)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np

from pingan.errors import PinganError
from pingan.faces.engine import (
    ARCFACE_FILE,
    SCRFD_FILE,
    Engine,
    EngineError,
    Face,
    Image,
    OnnxEngine,
    align,
    decode_image,
)
from pingan.health import DOWN, Component
from pingan.i18n import N_

log = logging.getLogger("pingan.faces")
T = TypeVar("T")

MIN_EYE_DISTANCE = 60.0  # px, as the face terminals of the big vendors ask for enrolment photos
MIN_SHARPNESS = 100.0  # variance of the Laplacian of the aligned face
MAX_YAW = 0.45  # nose offset from the eyes' midpoint, in eye distances (about 45°)
OTHER_FACE_SHARE = 0.2  # a second face this large beside the first makes a photo ambiguous


@dataclass(frozen=True)
class Analysis:
    faces: int  # how many faces were found
    others_large: bool  # another face large enough to confuse whose photo it is
    score: float = 0.0
    box: tuple[float, float, float, float] = (0, 0, 0, 0)
    eye_distance: float = 0.0
    sharpness: float = 0.0
    yaw: float = 0.0
    vector: bytes = b""  # float32, unit length
    crop: bytes = b""  # the aligned face, JPEG
    landmarks: tuple[float, ...] = ()  # 5 × (x, y) in the image, for tracking

    def refusal(self) -> tuple[str, str] | None:
        """Why this photo cannot be enrolled (a reason key and its words), or None."""
        if self.faces == 0:
            return "no_face", N_("照片中没有找到人脸")
        if self.others_large:
            return "several_faces", N_("照片中有多张人脸，请只拍本人")
        if self.eye_distance < MIN_EYE_DISTANCE:
            return "too_small", N_("人脸太小（双眼间距不足 60 像素），请靠近拍摄")
        if self.sharpness < MIN_SHARPNESS:
            return "blurred", N_("照片太模糊，请对焦后重拍")
        if abs(self.yaw) > MAX_YAW:
            return "turned", N_("脸部偏转过大，请正对镜头")
        return None

    def as_array(self) -> np.ndarray:
        return np.frombuffer(self.vector, dtype=np.float32)


def analyse_with(engine: Engine, data: bytes) -> Analysis:
    image = decode_image(data)
    faces = engine.detect(image)
    if not faces:
        return Analysis(faces=0, others_large=False)
    others = any(f.area >= OTHER_FACE_SHARE * faces[0].area for f in faces[1:])
    return _describe(engine, image, faces[0], len(faces), others)


def analyse_frame_with(engine: Engine, image: Image, min_eye_distance: float) -> list[Analysis]:
    """Every face of a video frame large enough to recognise, each with its template."""
    faces = [f for f in engine.detect(image) if f.eye_distance >= min_eye_distance]
    return [_describe(engine, image, f, len(faces), False) for f in faces]


def _describe(engine: Engine, image: Image, face: Face, count: int, others: bool) -> Analysis:
    crop = align(image, face)
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    middle = (face.landmarks[0] + face.landmarks[1]) / 2
    ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return Analysis(
        faces=count,
        others_large=others,
        score=face.score,
        box=face.box,
        eye_distance=face.eye_distance,
        sharpness=float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        yaw=float((face.landmarks[2][0] - middle[0]) / max(face.eye_distance, 1e-6)),
        vector=engine.embed(image, face).tobytes(),
        crop=jpeg.tobytes() if ok else b"",
        landmarks=tuple(float(v) for v in face.landmarks.reshape(-1)),
    )


def make_engine(kind: str, model_dir: Path | None) -> Engine:
    if kind == "dlib":
        from pingan.faces.dlib_engine import DlibEngine

        return DlibEngine()
    if model_dir is not None and not (model_dir / ARCFACE_FILE).is_file():
        # A folder of one's own: its ArcFace-format recogniser, whatever its file is called.
        own = sorted(p.name for p in model_dir.glob("*.onnx") if p.name != SCRFD_FILE)
        if len(own) != 1:
            raise EngineError(
                f"{model_dir}: expected {SCRFD_FILE} and one ArcFace-format .onnx model, "
                f"found {', '.join(own) or 'none'}"
            )
        return OnnxEngine(model_dir=model_dir, recogniser=own[0])
    return OnnxEngine(model_dir=model_dir)


# --- worker processes -----------------------------------------------------------------------------

_engine: Engine | None = None


def _start(kind: str, model_dir: str | None) -> None:
    global _engine
    _engine = make_engine(kind, Path(model_dir) if model_dir else None)


def _analyse(data: bytes) -> Analysis:
    assert _engine is not None
    return analyse_with(_engine, data)


def _analyse_frame(data: bytes, min_eye_distance: float) -> list[Analysis]:
    assert _engine is not None
    return analyse_frame_with(_engine, decode_image(data), min_eye_distance)


def _engine_id() -> str:
    assert _engine is not None
    return _engine.id


class FaceWorkersDown(PinganError):
    """The face workers failed on this photo twice, each time taking a worker down."""

    status = 503
    key = "face_workers_down"


class FaceWorkers:
    """A pool of processes, each with its own engine: detection and embedding never hold up the
    web loop, and a crash in native code takes a worker, not the platform. A pool that lost a
    worker is broken for every later call, so it is replaced at once and the call tried again
    on the new pool; a photo that breaks the new pool too is refused."""

    def __init__(self, kind: str, model_dir: Path | None, workers: int) -> None:
        self.kind, self.model_dir, self.workers = kind, model_dir, workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.engine_id: str | None = None
        self.health = Component("face_workers")

    def start(self) -> str:
        """Start the workers (their engines load once) and say which engine they run."""
        self._ensure()
        assert self.engine_id is not None
        return self.engine_id

    def _ensure(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start,
                    initargs=(self.kind, str(self.model_dir) if self.model_dir else None),
                )
                try:
                    self.engine_id = pool.submit(_engine_id).result()
                except BaseException as exc:
                    pool.shutdown(wait=False, cancel_futures=True)
                    self.health.failed(exc, state=DOWN)
                    raise
                self._pool = pool
                self.health.succeeded()
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor, exc: BaseException) -> None:
        """Drop a pool that lost a worker (once, however many calls saw it break)."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
                self.health.failed(exc)
                self.health.restarted()
                log.warning("face workers: a worker died (%s); starting a new pool", exc)
        broken.shutdown(wait=False, cancel_futures=True)

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in (1, 2):
            pool = self._ensure()
            try:
                result = pool.submit(fn, *args).result()
            except BrokenProcessPool as exc:
                self._replace(pool, exc)
                if attempt == 2:
                    raise FaceWorkersDown(reason=str(exc) or type(exc).__name__) from exc
                continue
            self.health.succeeded()
            return result
        raise AssertionError("unreachable")

    def analyse(self, data: bytes) -> Analysis:
        return self._call(_analyse, data)

    def analyse_frame(self, jpeg: bytes, min_eye_distance: float) -> list[Analysis]:
        return self._call(_analyse_frame, jpeg, min_eye_distance)

    async def analyse_async(self, data: bytes) -> Analysis:
        """analyse, awaited without a thread waiting on it (the shared threads serve the
        periodic jobs and DC-09): the same retry on a new pool as _call."""
        for attempt in (1, 2):
            pool = await asyncio.to_thread(self._ensure)
            try:
                result = await asyncio.wrap_future(pool.submit(_analyse, data))
            except BrokenProcessPool as exc:
                await asyncio.to_thread(self._replace, pool, exc)
                if attempt == 2:
                    raise FaceWorkersDown(reason=str(exc) or type(exc).__name__) from exc
                continue
            self.health.succeeded()
            return result
        raise AssertionError("unreachable")

    def pids(self) -> list[int]:
        """The worker processes' ids (for tests and diagnostics)."""
        pool = self._pool
        return sorted(getattr(pool, "_processes", {}) or {}) if pool is not None else []

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        self.health.stopped()
