"""`pingan bench faces`: how fast the engine detects and embeds, how fast and how well the gallery
searches as it grows (exact, and the approximate index), and how much memory it takes."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def faces(photos: Path, sizes: list[int], progress: Callable[[str], None]) -> dict[str, Any]:
    progress("engine: onnx")
    result: dict[str, Any] = {"engines": [engine_speed("onnx", photos)]}
    try:
        progress("engine: dlib")
        result["engines"].append(engine_speed("dlib", photos, limit=20))
    except Exception as exc:  # the alternative engine is an optional install
        result["engines"].append({"engine": "dlib", "error": str(exc)})
    progress("gallery: " + ", ".join(str(s) for s in sizes))
    result["gallery"] = gallery_speed(sizes)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result
