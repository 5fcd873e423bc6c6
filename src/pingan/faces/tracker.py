"""One person passing a camera makes one recognition, not thirty: faces of consecutive sampled
frames are joined into tracks (by overlap, then by likeness), and a track is reported once.

A track also says whether the face moved naturally: a living face shifts and turns a little
from frame to frame, while a photo held still in front of the camera does not. A door opened
from a camera stream requires that movement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pingan.faces.analysis import Analysis
from pingan.faces.identification import Identified

MAX_MISSING = 4  # sampled frames a track survives without its face
MOVEMENT = 0.01  # change of the face's own shape, frame to frame, that counts as alive


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Track:
    id: int
    last: Analysis
    best: Analysis
    last_frame: int
    hits: int = 1
    reported: bool = False
    moves: list[float] = field(default_factory=list)
    votes: list[Identified] = field(default_factory=list)  # each frame's identification

    @property
    def moving(self) -> bool:
        return bool(self.moves) and float(np.median(self.moves)) >= MOVEMENT


def _shape(face: Analysis) -> np.ndarray:
    """The landmarks with position, size and roll taken out: what changes only when a face
    turns or moves its features, not when a photo of it is moved about."""
    points = np.array(face.landmarks, dtype=np.float64).reshape(5, 2)
    middle = (points[0] + points[1]) / 2
    across = points[1] - points[0]
    length = float(np.hypot(*across)) or 1.0
    cos, sin = across / length
    rotate = np.array([[cos, sin], [-sin, cos]])
    shape: np.ndarray = ((points - middle) @ rotate.T) / length
    return shape


def _movement(a: Analysis, b: Analysis) -> float:
    return float(np.abs(_shape(a) - _shape(b)).mean())


class Tracker:
    def __init__(self, *, max_missing: int = MAX_MISSING) -> None:
        self.max_missing = max_missing
        self.tracks: list[Track] = []
        self._next = 1

    def update(self, frame: int, faces: list[Analysis]) -> list[Track]:
        """Join this frame's faces to the tracks; return the tracks seen in this frame (each
        is decided by its frames' votes, see identification.consensus)."""
        free = list(self.tracks)
        for face in sorted(faces, key=lambda f: -f.eye_distance):
            vector = face.as_array()
            best, best_score = None, 0.0
            for track in free:
                overlap = _iou(track.last.box, face.box)
                alike = float(track.last.as_array() @ vector)
                score = overlap + alike
                if (overlap >= 0.2 or alike >= 0.5) and score > best_score:
                    best, best_score = track, score
            if best is None:
                self.tracks.append(Track(self._next, face, face, frame))
                self._next += 1
                continue
            free.remove(best)
            best.moves.append(_movement(best.last, face))
            best.last, best.last_frame, best.hits = face, frame, best.hits + 1
            if face.eye_distance * (1 + face.sharpness / 1000) > best.best.eye_distance * (
                1 + best.best.sharpness / 1000
            ):
                best.best = face
        self.tracks = [t for t in self.tracks if frame - t.last_frame <= self.max_missing]
        return [t for t in self.tracks if t.last_frame == frame]
