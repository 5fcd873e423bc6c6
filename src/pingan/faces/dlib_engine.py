"""The permissively licensed alternative: dlib (`dlib-bin`) with the CC0 models of
`face-recognition-models` — HOG detection, 5-point alignment, a 128-D ResNet embedding.

Its weakness, measured on our labelled photos: on East Asian faces it accepts far fewer genuine
pairs than the ArcFace default at the same false-accept rate, so use it only where the licence
of InsightFace's weights rules the default out. Pitfalls met: `face_recognition_models` imports
`pkg_resources`, which setuptools 81 and later no longer ship, so its folder is found with
`importlib.util.find_spec` and the package is never imported; dlib descriptors are not unit
length; HOG reports weak false faces (score under about 0.3) on badges and patterns; the
68-point landmark model's training data forbids commercial use, so only the 5-point one is used.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pingan.faces.engine import EngineError, Face, Image, Vector, normalise

HOG_MIN_SCORE = 0.3
SHAPE_FILE = "shape_predictor_5_face_landmarks.dat"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"


def _models() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError(
            "the dlib face models are not installed: pip install dlib-bin face-recognition-models"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibEngine:
    dim = 128
    id = "dlib:resnet_v1"

    def __init__(self, *, upsample: int = 1) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise EngineError("dlib is not installed: pip install dlib-bin") from exc
        folder = _models()
        for name in (SHAPE_FILE, RESNET_FILE):
            if not (folder / name).is_file():
                raise EngineError(f"dlib model {name} not found in {folder}")
        self._dlib: Any = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(folder / SHAPE_FILE))
        self._resnet = dlib.face_recognition_model_v1(str(folder / RESNET_FILE))
        self.upsample = upsample

    def detect(self, image: Image) -> list[Face]:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        found, scores, _kinds = self._detector.run(rgb, self.upsample, 0.0)
        faces = []
        for rect, score in zip(found, scores, strict=True):
            if score < HOG_MIN_SCORE:
                continue  # badges, patterns
            shape = self._shape(rgb, rect)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
            eyes = sorted([points[0:2].mean(axis=0), points[2:4].mean(axis=0)], key=lambda p: p[0])
            nose = points[4]
            # No mouth points in the 5-point model: placed where a frontal face has them.
            across = (eyes[1] - eyes[0]) * 0.4
            down = np.array([-across[1], across[0]]) * 1.1
            landmarks = np.array(
                [eyes[0], eyes[1], nose, nose - across + down, nose + across + down],
                dtype=np.float32,
            )
            faces.append(
                Face(
                    box=(
                        float(rect.left()),
                        float(rect.top()),
                        float(rect.right()),
                        float(rect.bottom()),
                    ),
                    score=float(score),
                    landmarks=landmarks,
                )
            )
        return sorted(faces, key=lambda f: -f.area)

    def embed(self, image: Image, face: Face) -> Vector:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        x1, y1, x2, y2 = (round(v) for v in face.box)
        shape = self._shape(rgb, self._dlib.rectangle(x1, y1, x2, y2))
        descriptor = self._resnet.compute_face_descriptor(rgb, shape, 0)
        return normalise(np.asarray(descriptor, dtype=np.float32))
