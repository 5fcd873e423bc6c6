"""Accept thresholds, measured: genuine and impostor pairs of a labelled photo folder
(`<identity>/<photo>`), the threshold at a target false-accept rate, and the true-accept rate
there. Each engine's figures ship in calibration.json and are stored with the templates."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from pingan.faces.analysis import analyse_with
from pingan.faces.engine import Engine

TARGET_FAR = 0.001
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


@dataclass(frozen=True)
class Calibration:
    engine: str
    threshold: float
    target_far: float
    tar: float
    genuine_pairs: int
    impostor_pairs: int
    source: str


def labelled_photos(folder: Path) -> list[tuple[str, Path]]:
    """(identity, photo) for every photo in a folder per person; folders starting with _ skipped."""
    return [
        (person.name, photo)
        for person in sorted(folder.iterdir())
        if person.is_dir() and not person.name.startswith("_")
        for photo in sorted(person.iterdir())
        if photo.suffix.lower() in IMAGE_SUFFIXES
    ]


def calibrate(
    engine: Engine,
    folder: Path,
    *,
    target_far: float = TARGET_FAR,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    photos = labelled_photos(folder)
    names: list[str] = []
    vectors: list[np.ndarray] = []
    for n, (identity, path) in enumerate(photos, 1):
        analysis = analyse_with(engine, path.read_bytes())
        if analysis.faces:
            names.append(identity)
            vectors.append(analysis.as_array())
        if progress:
            progress(n, len(photos))
    if len(set(names)) < 2:
        raise ValueError(f"{folder}: needs photos of at least two people, several of each")
    matrix = np.stack(vectors)
    scores = matrix @ matrix.T
    same = np.equal.outer(np.array(names), np.array(names))
    upper = np.triu(np.ones_like(same, dtype=bool), k=1)
    genuine, impostor = scores[same & upper], scores[~same & upper]
    threshold = float(np.quantile(impostor, 1 - target_far))
    return Calibration(
        engine=engine.id,
        threshold=round(threshold, 4),
        target_far=target_far,
        tar=round(float((genuine > threshold).mean()), 4),
        genuine_pairs=int(genuine.size),
        impostor_pairs=int(impostor.size),
        source=folder.name,
    )


def shipped() -> dict[str, Calibration]:
    data = json.loads(resources.files("pingan.faces").joinpath("calibration.json").read_text())
    return {engine: Calibration(**values) for engine, values in data.items()}


def to_json(calibrations: dict[str, Calibration]) -> str:
    return json.dumps({k: asdict(v) for k, v in calibrations.items()}, ensure_ascii=False, indent=2)
