"""The face engines on the labelled photos in ../shared/data/faces (read from there, never
copied): detection, the quality gate, calibration, and loading with no network."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from pingan.faces.analysis import Analysis, analyse_with, make_engine
from pingan.faces.calibration import shipped
from pingan.faces.dlib_engine import DlibEngine
from pingan.faces.engine import EngineError, OnnxEngine, decode_image, model_file
from tests.conftest import require_faces


def photo(name: str) -> bytes:
    return (require_faces() / name).read_bytes()


@pytest.fixture(scope="module")
def onnx() -> OnnxEngine:
    return OnnxEngine()


def test_the_engine_loads_with_the_network_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    engine = OnnxEngine()
    faces = engine.detect(decode_image(photo("chen_yanxi/1.jpg")))
    assert len(faces) == 1 and engine.id == "arcface:w600k_mbf" and engine.dim == 512


def test_a_model_file_that_is_not_the_shipped_one_is_refused(tmp_path: Path) -> None:
    for name in ("scrfd_500m_bnkps.onnx", "w600k_mbf.onnx"):
        shutil.copy(model_file(name, None, None), tmp_path / name)
    OnnxEngine(model_dir=tmp_path)  # the same files from another folder load
    # A recogniser of one's own, under its own name, is taken too (checked by its shape only).
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(tmp_path / "scrfd_500m_bnkps.onnx", own / "scrfd_500m_bnkps.onnx")
    shutil.copy(tmp_path / "w600k_mbf.onnx", own / "my_arcface_r50.onnx")
    engine = make_engine("onnx", own)
    assert engine.id == "arcface:my_arcface_r50" and engine.dim == 512
    data = bytearray((tmp_path / "w600k_mbf.onnx").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "w600k_mbf.onnx").write_bytes(bytes(data))
    with pytest.raises(EngineError, match="not the expected file"):
        OnnxEngine(model_dir=tmp_path)


def test_detection_landmarks_and_the_same_person(onnx: OnnxEngine) -> None:
    image = decode_image(photo("chen_yanxi/1.jpg"))
    [face] = onnx.detect(image)
    left, right, nose, mouth_left, mouth_right = face.landmarks
    assert left[0] < nose[0] < right[0] and nose[1] < (mouth_left[1] + mouth_right[1]) / 2
    assert face.eye_distance > 250
    same = analyse_with(onnx, photo("chen_yanxi/3.jpg")).as_array()
    other = analyse_with(onnx, photo("kim_ji_won/1.jpg")).as_array()
    mine = onnx.embed(image, face)
    assert abs(float(np.linalg.norm(mine)) - 1) < 1e-4
    assert float(mine @ same) > 0.4 > float(mine @ other)
    # A tight crop (the face fills the frame) is found too.
    assert onnx.detect(decode_image(photo("bbt_amy/1.png")))
    assert onnx.detect(decode_image(photo("_no_face/1.jpg"))) == []
    assert len(onnx.detect(decode_image(photo("_multi/1.jpg")))) == 2


def test_quality_gate_says_why(onnx: OnnxEngine) -> None:
    def why(data: bytes) -> str | None:
        refusal = analyse_with(onnx, data).refusal()
        return refusal[0] if refusal else None

    assert why(photo("chen_yanxi/1.jpg")) is None
    assert why(photo("_no_face/2.jpg")) == "no_face"
    assert why(photo("_multi/3.jpg")) == "several_faces"
    assert why(photo("chen_yanxi/4.jpg")) == "too_small"
    image = decode_image(photo("chen_yanxi/1.jpg"))
    ok, blurred = cv2.imencode(".jpg", cv2.GaussianBlur(image, (61, 61), 0))
    assert ok and why(blurred.tobytes()) == "blurred"
    turned = Analysis(faces=1, others_large=False, eye_distance=90, sharpness=500, yaw=0.6)
    assert turned.refusal() is not None and turned.refusal()[0] == "turned"  # type: ignore[index]
    with pytest.raises(ValueError, match="not a JPEG"):
        decode_image(b"GIF89a not an image we take")
    # WebP and PNG with an alpha channel are read as well.
    assert why(photo("scarlett/3.webp")) is None


def test_dlib_alternative_engine() -> None:
    engine = DlibEngine()
    image = decode_image(photo("chen_yanxi/1.jpg"))
    [face] = engine.detect(image)
    assert engine.id == "dlib:resnet_v1" and face.eye_distance > 200
    mine = engine.embed(image, face)
    assert abs(float(np.linalg.norm(mine)) - 1) < 1e-4  # dlib's own are not unit length
    same = analyse_with(engine, photo("chen_yanxi/3.jpg")).as_array()
    other = analyse_with(engine, photo("kim_ji_won/1.jpg")).as_array()
    assert float(mine @ same) > float(mine @ other)
    assert engine.detect(decode_image(photo("_no_face/1.jpg"))) == []
    tar = {k: rule.extra["tar_at_far_1e-3"] for k, rule in shipped().items()}
    assert tar[engine.id] < tar["arcface:w600k_mbf"]  # its weakness, stated
