"""`pingan bench faces`: how fast the engine detects and embeds, how fast and how well the gallery
searches as it grows (exact, and the approximate index), and how much memory it takes."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pingan.faces.analysis import make_engine
from pingan.faces.calibration import labelled_photos
from pingan.faces.engine import decode_image
from pingan.faces.gallery import Gallery
from pingan.faces.vault import Vault, new_key


def _ms(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": round(1000 * statistics.median(ordered), 2),
        "p99": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def engine_speed(kind: str, photos: Path, limit: int = 60) -> dict[str, Any]:
    engine = make_engine(kind, None)
    detect, embed = [], []
    for _identity, path in labelled_photos(photos)[:limit]:
        image = decode_image(path.read_bytes())
        started = time.perf_counter()
        faces = engine.detect(image)
        detect.append(time.perf_counter() - started)
        if faces:
            started = time.perf_counter()
            engine.embed(image, faces[0])
            embed.append(time.perf_counter() - started)
    return {
        "engine": engine.id,
        "photos": len(detect),
        "detect_ms": _ms(detect),
        "embed_ms": _ms(embed),
    }


class _Synthetic(Gallery):
    """A gallery filled in memory, as if loaded: clusters like people with several photos."""

    def fill(self, vectors: np.ndarray, people: np.ndarray, path: str) -> None:
        self._ids = np.arange(len(vectors), dtype=np.int64)
        self._people = people
        self._paths = [path] * len(vectors)
        self._homes = [None] * len(vectors)
        self._matrix = vectors
        self._seen_change, self._seen_at = 0, None
        self._scopes.clear()
        self._blocks.clear()
        self._ann = None


def gallery_speed(sizes: list[int], dim: int = 512, queries: int = 200) -> list[dict[str, Any]]:
    rng = np.random.default_rng(7)
    out = []
    for size in sizes:
        people = size // 4
        centres = rng.standard_normal((people, dim)).astype(np.float32)
        owners = np.repeat(np.arange(people, dtype=np.int64), 4)
        vectors = centres[owners] + 0.6 * rng.standard_normal((size, dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        probe = centres[:queries] + 0.6 * rng.standard_normal((queries, dim)).astype(np.float32)
        probe /= np.linalg.norm(probe, axis=1, keepdims=True)
        row: dict[str, Any] = {"templates": size, "dim": dim}
        for name, ann_min in (("exact", size + 1), ("approximate", 1)):
            if name == "approximate" and size <= 20_000:
                continue  # small scopes are always searched exactly
            gallery = _Synthetic("bench", dim, Vault.from_setting(new_key()), ann_min=ann_min)
            gallery.fill(vectors, owners, "/1/")
            gallery.refresh = lambda _session: None  # type: ignore[method-assign, assignment]
            started = time.perf_counter()
            gallery.search(None, probe[0], within="/1/")  # type: ignore[arg-type]
            first = time.perf_counter() - started
            times, right = [], 0
            for i in range(queries):
                started = time.perf_counter()
                found = gallery.search(None, probe[i], within="/1/", limit=1)  # type: ignore[arg-type]
                times.append(time.perf_counter() - started)
                right += bool(found) and found[0].person_id == i
            row[name] = {
                "search_ms": _ms(times),
                "right_person": round(right / queries, 3),
                "first_search_s": round(first, 2),  # the approximate index is built then
            }
        out.append(row)
    return out


def _frame_with_face(photo: Path, size: tuple[int, int], eyes_px: float = 60.0) -> np.ndarray:
    """A camera frame of the given size with one face, scaled to `eyes_px` between the eyes,
    on a noisy background (so that detection has a whole frame to search)."""
    from pingan.faces.analysis import make_engine

    engine = make_engine("onnx", None)
    image = decode_image(photo.read_bytes())
    face = engine.detect(image)[0]
    scale = eyes_px / face.eye_distance
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    width, height = size
    rng = np.random.default_rng(3)
    frame = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)
    h, w = min(small.shape[0], height), min(small.shape[1], width)
    top, left = (height - h) // 2, (width - w) // 2
    frame[top : top + h, left : left + w] = small[:h, :w]
    return frame


def frame_speed(photos: Path, gallery_size: int = 10_000, repeats: int = 20) -> dict[str, Any]:
    """End to end per frame (detect, align, embed, search the gallery) with one face 60 px
    between the eyes, on one core; and what that means for cameras at 2 frames a second."""
    from pingan.faces.analysis import analyse_frame_with, make_engine

    engine = make_engine("onnx", None)
    people = [p for _i, p in labelled_photos(photos)]
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((gallery_size, engine.dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    gallery = _Synthetic("bench", engine.dim, Vault.from_setting(new_key()))
    gallery.fill(vectors, np.arange(gallery_size, dtype=np.int64) // 4, "/1/")
    gallery.refresh = lambda _session: None  # type: ignore[method-assign, assignment]
    out: dict[str, Any] = {}
    for width, height in ((640, 480), (1920, 1080)):
        frame = _frame_with_face(people[0], (width, height))
        times, found = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            seen = analyse_frame_with(engine, frame, 24.0)
            for face in seen:
                gallery.search(None, face.as_array(), within="/1/", limit=3)  # type: ignore[arg-type]
            times.append(time.perf_counter() - started)
            found += bool(seen)
        out[f"frame_{width}x{height}_ms"] = _ms(times)["p50"]
        out[f"frame_{width}x{height}_face_found"] = found == repeats
    embed_times = []
    for path in people[:40]:
        image = decode_image(path.read_bytes())
        boxes = engine.detect(image)
        if boxes:
            started = time.perf_counter()
            engine.embed(image, boxes[0])
            embed_times.append(time.perf_counter() - started)
    per_frame_s = out["frame_1920x1080_ms"] / 1000
    out["faces_embedded_per_s_per_core"] = round(1 / statistics.median(embed_times), 1)
    out["cameras_per_core_at_2fps"] = int(1 / (2 * per_frame_s)) if per_frame_s else None
    return out


def faces(photos: Path, sizes: list[int], progress: Callable[[str], None]) -> dict[str, Any]:
    """The figures in one JSON: frames end to end, 1:N search by gallery size, memory; the
    engines' detect and embed times and the approximate index's figures in detail."""
    progress("frames: 640x480 and 1920x1080, one face 60 px between the eyes")
    result: dict[str, Any] = frame_speed(photos)
    progress("gallery: " + ", ".join(str(s) for s in sizes))
    detail = gallery_speed(sizes)
    result["search_ms"] = {
        str(row["templates"]): (row.get("approximate") or row["exact"])["search_ms"]["p50"]
        for row in detail
    }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    progress("engine: onnx")
    engines: list[dict[str, Any]] = [engine_speed("onnx", photos)]
    try:
        progress("engine: dlib")
        engines.append(engine_speed("dlib", photos, limit=20))
    except Exception as exc:  # the alternative engine is an optional install
        engines.append({"engine": "dlib", "error": str(exc)})
    result["engines"] = engines
    result["gallery"] = detail
    return result
