"""The demo's faces: residents of a few compounds who consented and enrolled, ninety days of
their comings and goings at the face terminals, recorded through the face services, and a
camera at 柳欣苑's gate showing a looped clip.

No face photo ships with pingan, so a demo face is a drawn likeness and its template a vector
of the installed engine's length: a resident's sighting is their template with noise (above the
door's threshold), a stranger's a vector of no one's. The consent, the gallery, the open-set
rule, the door's decision and the log are the platform's own."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.alarms import service as alarm_service
from pingan.alarms.models import Alarm
from pingan.alarms.rules import RuleBook
from pingan.auth.principal import Principal
from pingan.devices.models import Device, DeviceKind
from pingan.devices.service import DeviceInfo, info_by_id
from pingan.faces import service as face_service
from pingan.faces.analysis import Analysis
from pingan.faces.calibration import shipped
from pingan.faces.gallery import Gallery
from pingan.faces.models import ConsentMethod, ConsentPurpose
from pingan.faces.schemas import ConsentIn
from pingan.faces.service import Watching
from pingan.faces.vault import Vault
from pingan.ingest.video import LOOP
from pingan.territory.models import NodeKind, Person, TerritoryNode

ENGINES = {"onnx": ("arcface:", 512), "dlib": ("dlib:", 128)}  # a setting's engine: id, length
SITES = 4  # compounds with enrolled residents: 柳欣苑 first
ENROLLED = 40  # residents of each who consented (adults: no guardian needed)
PASSES = 12  # sightings a day at each compound's terminals, on average
STRANGERS = 0.12  # of them, faces of no one enrolled
SAME = 0.8  # noise that keeps a resident's sighting at ≈ 0.78 cosine of their template


@dataclass(frozen=True)
class Enrolled:
    person_id: int
    vector: np.ndarray


def engine_of(face_engine: str) -> tuple[str, int]:
    """The shipped engine id and template length for the `face_engine` setting."""
    prefix, dim = ENGINES[face_engine]
    return next(k for k in shipped() if k.startswith(prefix)), dim


def _unit(rng: np.random.Generator, dim: int) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def likeness(seed: int) -> bytes:
    """A drawn face (112 px, as an aligned crop is): what the log and the person page show."""
    rng = random.Random(seed)
    img = np.full((112, 112, 3), (rng.randint(170, 230),) * 3, np.uint8)
    skin = (rng.randint(140, 190), rng.randint(170, 210), rng.randint(200, 235))
    hair = (rng.randint(10, 60),) * 3
    cv2.ellipse(img, (56, 122), (46, 30), 0, 180, 360, (rng.randint(60, 200), 90, 60), -1)
    cv2.ellipse(img, (56, 54), (30, 38), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (56, 36), (32, 22), 0, 180, 360, hair, -1)
    for x in (44, 68):
        cv2.circle(img, (x, 54), 3, (40, 40, 40), -1)
    cv2.ellipse(img, (56, 74), (9, 4), 0, 0, 180, (60, 60, 150), 2)
    ok, jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return jpeg.tobytes()


def _analysis(vector: np.ndarray, crop: bytes) -> Analysis:
    return Analysis(
        faces=1,
        others_large=False,
        score=0.9,
        box=(30, 20, 82, 100),
        eye_distance=72.0,
        sharpness=180.0,
        vector=vector.astype(np.float32).tobytes(),
        crop=crop,
    )


def _adult(person: Person, on: date) -> bool:
    born = person.birth_date
    return born is None or (on.year - born.year) >= 18


def enrol(
    session: Session,
    *,
    actor: Principal,
    vault: Vault,
    engine: tuple[str, int],
    site: TerritoryNode,
    given: datetime,
    seed: int,
) -> list[Enrolled]:
    """Residents of a compound who gave their consent on paper and had their face enrolled."""
    engine_id, dim = engine
    rng = np.random.default_rng(seed)
    people = session.scalars(
        select(Person)
        .join(TerritoryNode, TerritoryNode.id == Person.node_id)
        .where(TerritoryNode.path.startswith(site.path), TerritoryNode.kind == NodeKind.household)
        .order_by(Person.id)
    ).all()
    enrolled = []
    for person in [p for p in people if _adult(p, given.date())][:ENROLLED]:
        face_service.record_consent(
            session,
            actor=actor,
            person=person,
            data=ConsentIn(
                node_id=site.id,
                purpose=ConsentPurpose.door_access,
                central_storage=True,
                method=ConsentMethod.paper,
                given_at=given,
            ),
        )
        vector = _unit(rng, dim)
        [result] = face_service.enrol(
            session,
            actor=actor,
            person=person,
            photos=[("demo.jpg", _analysis(vector, likeness(person.id)))],
            engine_id=engine_id,
            vault=vault,
        )
        assert result.accepted, result.reason
        enrolled.append(Enrolled(person.id, vector))
    return enrolled


@dataclass
class Doors:
    """A compound's face terminals and the residents they know."""

    devices: list[DeviceInfo]
    enrolled: list[Enrolled]


def setup(
    session: Session,
    *,
    actor: Principal,
    vault: Vault,
    face_engine: str,
    sites: list[TerritoryNode],
    given: datetime,
) -> tuple[list[Doors], tuple[str, int]]:
    engine = engine_of(face_engine)
    doors = []
    for n, site in enumerate(sites[:SITES]):
        terminals = [
            info
            for d in session.scalars(
                select(Device).where(
                    Device.node_id == site.id, Device.kind == DeviceKind.face_terminal.value
                )
            )
            if (info := info_by_id(session, device_id=d.id)) is not None
        ]
        if terminals:
            enrolled = enrol(
                session, actor=actor, vault=vault, engine=engine, site=site, given=given, seed=n
            )
            doors.append(Doors(terminals, enrolled))
    return doors, engine


def day(
    session: Session,
    *,
    doors: list[Doors],
    engine: tuple[str, int],
    vault: Vault,
    gallery: Gallery,
    midnight: datetime,
    now: datetime,
    rng: random.Random,
    count: Callable[[str], None],
) -> None:
    """One day of residents and strangers at the terminals: mostly mornings and evenings."""
    engine_id, dim = engine
    noise = np.random.default_rng(rng.randrange(2**32))
    for place in doors:
        for _n in range(max(0, round(rng.gauss(PASSES, 3)))):
            hour = rng.choice((7, 7, 8, 8, 9, 12, 17, 18, 18, 19, 20, 21, 22, 23))
            at = midnight + timedelta(hours=(hour - 8) % 24, seconds=rng.uniform(0, 3600))
            if at >= now:
                continue
            if rng.random() < STRANGERS or not place.enrolled:
                vector, crop = _unit(noise, dim), likeness(rng.randrange(10**6, 2 * 10**6))
            else:
                who = rng.choice(place.enrolled)
                seen = who.vector + SAME * _unit(noise, dim)
                vector, crop = seen / np.linalg.norm(seen), likeness(who.person_id)
            outcome = face_service.recognise(
                session,
                device=rng.choice(place.devices),
                analysis=_analysis(vector, crop),
                engine_id=engine_id,
                gallery=gallery,
                vault=vault,
                liveness=True,
                at=at,
            )
            count(outcome.decision.value)


VIDEO_S = 12  # the demo camera's clip, played round and round
VIDEO_FPS = 10


def walker(seed: int) -> np.ndarray:
    """Someone seen from behind, walking away from the camera: a drawn figure with no face, so
    that a clip played round and round does not bring the same face back every few seconds."""
    rng = random.Random(seed)
    img = np.full((112, 112, 3), (92, 98, 104), np.uint8)
    coat = (rng.randint(60, 200), rng.randint(60, 140), rng.randint(40, 120))
    cv2.ellipse(img, (56, 122), (46, 30), 0, 180, 360, coat, -1)
    cv2.ellipse(img, (56, 54), (30, 38), 0, 0, 360, (rng.randint(10, 60),) * 3, -1)
    return img


def gate_video(path: Path, *, seconds: int = VIDEO_S, fps: int = VIDEO_FPS) -> Path:
    """A compound's gate as a camera sees it, drawn: people walking through, the time in the
    corner as a camera prints it. Made at set-up (no video ships with pingan)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = (640, 360)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    if not writer.isOpened():
        raise OSError(f"cannot write {path}: this OpenCV cannot write Motion JPEG")
    rng = random.Random(7)
    walkers = [(rng.uniform(0, 1), rng.choice((-1, 1)), rng.randrange(10**6)) for _ in range(3)]
    faces = {seed: walker(seed) for *_, seed in walkers}
    for n in range(seconds * fps):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[:] = (92, 98, 104)
        cv2.rectangle(img, (0, 250), (640, 360), (70, 74, 78), -1)  # the road
        cv2.rectangle(img, (220, 60), (420, 250), (40, 44, 48), 3)  # the gate
        cv2.putText(img, "DEMO", (560, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 200, 255), 2)
        clock = f"CAM01  {n // fps:02d}s"
        cv2.putText(img, clock, (12, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (255, 255, 255), 2)
        for start, way, seed in walkers:
            x = int(((start + way * n / (seconds * fps)) % 1.0) * 700) - 60
            face = faces[seed]
            if 0 <= x <= size[0] - face.shape[1]:
                img[140 : 140 + face.shape[0], x : x + face.shape[1]] = face
        writer.write(img)
    writer.release()
    return path


def camera(session: Session, *, site: TerritoryNode, video: Path) -> Device | None:
    """The site's first camera shows the clip, looped: its live view and stream sampling run.
    (The API takes camera URLs only; a local file is the demo's, set here.)"""
    device = session.scalars(
        select(Device)
        .where(Device.node_id == site.id, Device.kind == DeviceKind.camera.value)
        .order_by(Device.id)
    ).first()
    if device is not None:
        device.stream_url = f"{LOOP}{video}"
        session.flush()
    return device


def night_stranger(
    session: Session,
    *,
    place: Doors,
    engine: tuple[str, int],
    vault: Vault,
    gallery: Gallery,
    rules: RuleBook,
    at: datetime,
    seed: int,
) -> Alarm | None:
    """An unenrolled face at a compound's terminals three times in a night: the watch's rule
    for recurring strangers (faces.watch) raises its alarm, as the pipeline would."""
    engine_id, dim = engine
    noise = np.random.default_rng(seed)
    face = _unit(noise, dim)
    watching = Watching(
        gallery=Gallery(engine_id, dim, vault, "watch"),
        night_hours=(22, 6),
        stranger_count=3,
        stranger_window=timedelta(minutes=120),
    )
    alarm = None
    for n in range(3):
        seen = face + SAME * _unit(noise, dim)
        device = place.devices[n % len(place.devices)]
        when = at + timedelta(minutes=14 * n)
        outcome = face_service.recognise(
            session,
            device=device,
            analysis=_analysis(seen / np.linalg.norm(seen), likeness(seed)),
            engine_id=engine_id,
            gallery=gallery,
            vault=vault,
            liveness=True,
            watching=watching,
            at=when,
        )
        for alert in outcome.alerts:
            found = rules.match(kind="face", code=alert.code, device_kind=device.kind)
            if found and alarm is None:
                alarm = alarm_service.open_alarm(
                    session,
                    rules=rules,
                    rule=found[0],
                    subject=device.name,
                    node_id=device.node_id,
                    path=device.path,
                    key=alarm_service.dedupe_key(device.id, found[0].id, alert.zone),
                    at=when,
                    device_id=device.id,
                    zone=alert.zone,
                )
    return alarm
