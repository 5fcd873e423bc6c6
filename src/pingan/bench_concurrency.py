"""`pingan bench concurrency`: does the platform keep answering while it is used as a centre uses
it? For each database: a fresh database, a Mosquitto of its own and `pingan serve` as its own
process (workers and face engine running), then for SECONDS at once:
- HTTP ingest: 20 device events a second from 20 devices, each with its own token;
- a log-in every second (the real password hash cost);
- five readers of the alarm list (open desk pages), each reading it every second;
- a face enrolment every 5 s and a door snapshot every second (labelled photos), and now and then
  a "decompression bomb" snapshot (a few KB of PNG that decodes to 20,000 × 20,000 pixels), which
  must be refused at once;
- /healthz twice a second.
Each stream runs in a process of its own, so that the clients do not slow each other down and
the latencies are the server's. Printed per stream: requests, p50 / p99 / max latency, answers
≥ 500 and requests that failed (time-outs, refused connections)."""

from __future__ import annotations

import multiprocessing as mp
import statistics
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM
from pingan.bench import Platform
from pingan.devices import service as device_service
from pingan.devices.models import DeviceKind, Protocol
from pingan.devices.schemas import DeviceCreate
from pingan.faces import service as face_service
from pingan.faces.calibration import labelled_photos
from pingan.faces.models import ConsentMethod, ConsentPurpose
from pingan.faces.schemas import ConsentIn
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, TerritoryNode
from pingan.territory.schemas import PersonCreate

Progress = Callable[[str], None]
INGEST_DEVICES = 20
INGEST_PER_S = 20.0
READERS = 5
READ_EVERY_S = 1.0
ENROL_EVERY_S = 5.0
DOOR_EVERY_S = 1.0
BOMB_EVERY_S = 10.0
HEALTH_EVERY_S = 0.5
LOGIN_EVERY_S = 1.0
TIMEOUT_S = 30.0


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG of about 50 KB (one bit a pixel) that decodes to 1.2 GB of colour pixels."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


@dataclass
class Stream:
    name: str
    latencies: list[float] = field(default_factory=list)
    server_errors: int = 0
    failures: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    last_failure: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, started: float, response: httpx.Response | None, error: str | None) -> None:
        with self.lock:
            if response is None:
                self.failures += 1
                self.last_failure = error
                return
            self.latencies.append(time.perf_counter() - started)
            status = str(response.status_code)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if response.status_code >= 500:
                self.server_errors += 1
                self.last_failure = f"{status}: {response.text[:200]}"

    def figures(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        if not ordered:
            return {"requests": 0, "failures": self.failures, "last_failure": self.last_failure}
        return {
            "requests": len(ordered),
            "p50_ms": round(1000 * statistics.median(ordered), 1),
            "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
            "max_ms": round(1000 * ordered[-1], 1),
            "server_errors": self.server_errors,
            "failures": self.failures,
            "statuses": dict(sorted(self.statuses.items())),
            "last_failure": self.last_failure,
        }


@dataclass
class World:
    token: str
    devices: list[str]
    door: str
    people: list[int]
    enrol_photos: list[bytes]
    door_photos: list[bytes]


def _prepare(platform: Platform, photos: Path) -> World:
    _fleet, token = platform.prepare()
    pictures = labelled_photos(photos)
    by_person: dict[str, list[Path]] = {}
    for identity, path in pictures:
        by_person.setdefault(identity, []).append(path)
    chosen = [paths for paths in by_person.values() if len(paths) >= 2][:20]
    if len(chosen) < 2:
        raise ValueError(f"{photos}: needs several people with two photos or more each")
    with Session(platform.engine) as s:
        s.info["actor"] = "bench"
        site = s.query(TerritoryNode).filter(TerritoryNode.kind == NodeKind.site).first()
        assert site is not None
        devices = []
        for n in range(INGEST_DEVICES):
            device = device_service.create(
                s,
                actor=SYSTEM,
                data=DeviceCreate(
                    code=f"load-http-{n:02d}",
                    name=f"负载设备{n}",
                    kind=DeviceKind.smoke_detector,
                    protocol=Protocol.http,
                    node_id=site.id,
                ),
            )
            devices.append(device_service.issue_http_token(s, device=device))
        door = device_service.create(
            s,
            actor=SYSTEM,
            data=DeviceCreate(
                code="load-door",
                name="负载门禁",
                kind=DeviceKind.face_terminal,
                protocol=Protocol.http,
                node_id=site.id,
            ),
        )
        door_token = device_service.issue_http_token(s, device=door)
        people = []
        for n in range(len(chosen)):
            person = territory_service.create_person(
                s, actor=SYSTEM, data=PersonCreate(node_id=site.id, name=f"住户{n}")
            )
            face_service.record_consent(
                s,
                actor=SYSTEM,
                person=person,
                data=ConsentIn(
                    node_id=site.id,
                    purpose=ConsentPurpose.door_access,
                    central_storage=True,
                    method=ConsentMethod.paper,
                ),
            )
            people.append(person.id)
        s.commit()
    return World(
        token=token,
        devices=devices,
        door=door_token,
        people=people,
        enrol_photos=[paths[0].read_bytes() for paths in chosen],
        door_photos=[paths[1].read_bytes() for paths in chosen],
    )


def _paced(
    every: float,
    until: float,
    stop: threading.Event,
    job: Callable[[int], None],
    offset: float = 0.0,
) -> Callable[[], None]:
    def run() -> None:
        n = 0
        start = time.monotonic() + offset
        while time.monotonic() < until and not stop.is_set():
            due = start + n * every
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            job(n)
            n += 1

    return run


def _call(stream: Stream, client: httpx.Client, method: str, url: str, **kwargs: Any) -> None:
    started = time.perf_counter()
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        stream.record(started, None, f"{type(exc).__name__}: {exc}")
        return
    stream.record(started, response, None)


def _jobs(
    name: str, base: str, world: World, until: float, stop: threading.Event, stream: Stream
) -> list[Callable[[], None]]:
    """The request loops of one stream."""
    auth = {"Authorization": f"Bearer {world.token}"}
    door_headers = {
        "Authorization": f"Bearer {world.door}",
        "Content-Type": "image/jpeg",
        "X-Liveness": "passed",
    }

    def client() -> httpx.Client:
        return httpx.Client(base_url=base, timeout=TIMEOUT_S)

    jobs: list[Callable[[], None]] = []
    if name == "ingest":
        # Several senders, so that one slow answer does not slow the rate of the others.
        for k in range(4):
            ingest = client()

            def send(n: int, k: int = k, ingest: httpx.Client = ingest) -> None:
                token = world.devices[(4 * n + k) % len(world.devices)]
                event = {"kind": "heartbeat"} if n % 4 else {"kind": "door", "code": "door_open"}
                _call(
                    stream,
                    ingest,
                    "POST",
                    "/api/v1/ingest/events",
                    json=event,
                    headers={"Authorization": f"Bearer {token}"},
                )

            jobs.append(_paced(4 / INGEST_PER_S, until, stop, send))
    elif name == "login":
        login = client()
        body = {"username": "bench", "password": "bench-password-1"}
        jobs.append(
            _paced(
                LOGIN_EVERY_S,
                until,
                stop,
                lambda _n: _call(stream, login, "POST", "/api/v1/auth/login", json=body),
            )
        )
    elif name == "alarm_list":
        for k in range(READERS):
            reader = client()

            def read(_n: int, reader: httpx.Client = reader) -> None:
                _call(stream, reader, "GET", "/api/v1/alarms?limit=50", headers=auth)

            offset = READ_EVERY_S * k / READERS  # spread over the second
            jobs.append(_paced(READ_EVERY_S, until, stop, read, offset=offset))
    elif name == "enrol":
        enrol = client()

        def enrol_one(n: int) -> None:
            person = world.people[n % len(world.people)]
            photo = world.enrol_photos[n % len(world.enrol_photos)]
            _call(
                stream,
                enrol,
                "POST",
                f"/api/v1/people/{person}/face-templates",
                files=[("photos", ("photo.jpg", photo, "image/jpeg"))],
                headers=auth,
            )

        jobs.append(_paced(ENROL_EVERY_S, until, stop, enrol_one))
    elif name == "door":
        door = client()

        def snapshot(n: int) -> None:
            photo = world.door_photos[n % len(world.door_photos)]
            _call(
                stream,
                door,
                "POST",
                "/api/v1/faces/recognitions",
                content=photo,
                headers=door_headers,
            )

        jobs.append(_paced(DOOR_EVERY_S, until, stop, snapshot))
    elif name == "bomb":
        bomber = client()
        bomb = bomb_png()
        headers = {**door_headers, "Content-Type": "image/png"}
        jobs.append(
            _paced(
                BOMB_EVERY_S,
                until,
                stop,
                lambda _n: _call(
                    stream,
                    bomber,
                    "POST",
                    "/api/v1/faces/recognitions",
                    content=bomb,
                    headers=headers,
                ),
                offset=BOMB_EVERY_S / 2,
            )
        )
    elif name == "healthz":
        health = client()
        jobs.append(
            _paced(HEALTH_EVERY_S, until, stop, lambda _n: _call(stream, health, "GET", "/healthz"))
        )
    return jobs


STREAMS = ("ingest", "login", "alarm_list", "enrol", "door", "bomb", "healthz")


def _stream_process(name: str, base: str, world: World, seconds: float, out: Any) -> None:
    """One stream in a process of its own: a client's threads never slow another stream's."""
    stream = Stream(name)
    stop = threading.Event()
    threads = [
        threading.Thread(target=job, daemon=True)
        for job in _jobs(name, base, world, time.monotonic() + seconds, stop, stream)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 2 * TIMEOUT_S)
    stop.set()
    out.put((name, stream.figures()))


def run_load(platform: Platform, world: World, seconds: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    procs = [
        ctx.Process(target=_stream_process, args=(name, platform.base, world, seconds, out))
        for name in STREAMS
    ]
    for proc in procs:
        proc.start()
    figures = dict(out.get(timeout=seconds + 120) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    return {name: figures[name] for name in STREAMS}


def _write_figures(platform: Platform) -> dict[str, Any]:
    """How long transactions waited for and held SQLite's write turn, from /metrics."""
    samples: dict[str, float] = {}
    for line in httpx.get(f"{platform.base}/metrics", timeout=10).text.splitlines():
        if line.startswith("pingan_sqlite_write_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    out: dict[str, Any] = {}
    for what in ("wait", "hold"):
        count = samples.get(f"pingan_sqlite_write_{what}_seconds_count", 0.0)
        total = samples.get(f"pingan_sqlite_write_{what}_seconds_sum", 0.0)
        over_100ms = count - samples.get(
            f'pingan_sqlite_write_{what}_seconds_bucket{{le="0.1"}}', 0
        )
        out[what] = {
            "transactions": int(count),
            "mean_ms": round(1000 * total / count, 2) if count else None,
            "over_100ms": int(over_100ms),
        }
    return out


def _faces_ready(platform: Platform, timeout: float = 120) -> None:
    """The face engines load at start-up; the load starts once they answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = httpx.get(f"{platform.base}/healthz", timeout=5).json()["workers"]
        if workers.get("face_workers", {}).get("state") == "running":
            return
        time.sleep(0.2)
    raise RuntimeError("the face workers did not start")


def concurrency(
    *, backends: list[str], pg_url: str, photos: Path, seconds: float, progress: Progress
) -> dict[str, Any]:
    out: dict[str, Any] = {"seconds": seconds}
    for backend in backends:
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown backend {backend!r}")
        with tempfile.TemporaryDirectory(prefix=f"pingan-load-{backend}-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing")
                world = _prepare(platform, photos)
                platform.start()
                _faces_ready(platform)
                progress(f"{backend}: mixed load for {seconds:.0f} s")
                figures = run_load(platform, world, seconds)
                figures["server_peak_rss_mb"] = platform.peak_rss_mb()
                figures["sqlite_writes"] = _write_figures(platform) if backend == "sqlite" else None
                out[backend] = figures
            finally:
                platform.stop()
    return out
