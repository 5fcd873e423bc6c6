"""`pingan bench alarms`: throughput and latency of the alarm pipeline, measured for real.

For each database: a fresh database, a Mosquitto of its own, `pingan serve` as its own process,
MQTT devices publishing the realistic mix from another process. Figures:
- sustained_events_per_s: the highest rate whose events are all committed and evaluated with no
  backlog growing (stepping the rate up until the platform falls behind);
- latency_ms at 200 and 1,000 events/s: from publishing an alarm event to its alarm arriving on a
  page subscribed to the live stream (p50, p99).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session

from pingan.auth import service as auth_service
from pingan.auth.principal import SYSTEM, cli_principal
from pingan.auth.roles import Role
from pingan.auth.schemas import BindingIn, UserCreate
from pingan.config import Settings
from pingan.db import migrate
from pingan.db.engine import make_engine
from pingan.devices.models import Protocol
from pingan.events.models import Event
from pingan.faces.vault import new_key
from pingan.localbroker import LocalBroker, free_port
from pingan.sim import Message, Mix, SimDevice, register, small_territory

DEVICES = 500
SUSTAIN_RATES = (1000, 2000, 3000, 4000, 5000, 6000, 8000, 10000)
LATENCY_RATES = {200: 30.0, 1000: 20.0}  # rate → seconds: enough alarms (1 %) for a p99
Progress = Callable[[str], None]
LAST_LAGS: list[float] = []  # the last latency run's samples in time order, for a closer look


def _publisher(
    url: str, devices: list[tuple[int, str, str]], rate: float, duration: float, out: Any, seed: int
) -> None:
    """A separate process, as devices are: publish the mix at `rate` for `duration` seconds."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from pingan.ingest import topics

    fleet = [SimDevice(id=i, code=c, kind=k, protocol="mqtt") for i, c, k in devices]
    mix = Mix(fleet, seed=seed)
    port = int(url.rsplit(":", 1)[1])
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{seed}", protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(2000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    alarms: list[tuple[int, str, float]] = []
    sent = 0
    start = time.monotonic()
    while time.monotonic() - start < duration:
        due = start + sent / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        msg: Message = mix.next()
        kind = "heartbeat" if msg.kind == "heartbeat" else "event"
        client.publish(topics.device_topic(msg.device.code, kind), msg.json(), qos=1)
        if msg.zone and msg.kind != "restore":  # the mix gives a zone to alarm events only
            alarms.append((msg.device.id, msg.zone, time.time()))
        sent += 1
    elapsed = time.monotonic() - start
    deadline = time.monotonic() + 30
    while client.want_write() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    client.loop_stop()
    client.disconnect()
    out.put({"sent": sent, "elapsed": elapsed, "alarms": alarms})


def crowd(
    platform: Platform,
    token: str,
    people: int,
    seconds: float,
    act: Callable[[httpx.Client, random.Random], bool],
) -> dict[str, Any]:
    """`people` clients acting at once for `seconds`, each call timed: how many a second went
    through, their latency, and how many were refused (`act` says whether a call succeeded)."""
    lags: list[list[float]] = [[] for _ in range(people)]
    errors = [0] * people
    start = threading.Barrier(people + 1)

    def one(n: int) -> None:
        rng = random.Random(n)
        with httpx.Client(
            base_url=platform.base, timeout=60, headers={"Authorization": f"Bearer {token}"}
        ) as http:
            start.wait()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                sent = time.perf_counter()
                ok = act(http, rng)
                lags[n].append((time.perf_counter() - sent) * 1000)
                errors[n] += not ok

    threads = [threading.Thread(target=one, args=(n,)) for n in range(people)]
    for t in threads:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    samples = [lag for person in lags for lag in person]
    return {
        "per_s": round(len(samples) / elapsed, 1),
        "latency_ms": percentiles(samples),
        "errors": sum(errors),
    }


def page_times(
    platform: Platform, token: str, pages: list[tuple[str, str]], asks: int
) -> dict[str, Any]:
    """Each page (a console page by the session cookie, an /api one by the token) asked `asks`
    times in turn: its time (p50, p99). A page that fails stops the bench, named."""
    out: dict[str, Any] = {}
    with httpx.Client(
        base_url=platform.base, timeout=60, cookies={"pingan_session": token}
    ) as http:
        for name, url in pages:
            times = []
            for _ in range(asks):
                sent = time.perf_counter()
                r = http.get(
                    url,
                    headers={"Authorization": f"Bearer {token}"} if url.startswith("/api") else {},
                )
                times.append((time.perf_counter() - sent) * 1000)
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
            out[name] = percentiles(times)
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    """Median and 99th percentile of latencies, with the number of samples."""
    if not samples:
        return {"p50": float("nan"), "p99": float("nan"), "samples": 0}
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 1),
        "p99": round(p99, 1),
        "samples": len(ordered),
    }


class Platform:
    def __init__(self, backend: str, folder: Path, pg_url: str, progress: Progress) -> None:
        self.backend = backend
        self.folder = folder
        self.progress = progress
        self.schema: str | None = None
        if backend == "sqlite":
            url = f"sqlite:///{folder / 'bench.db'}"
        else:
            self.schema = f"pingan_bench_{os.getpid()}"
            admin = create_engine(pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
                conn.execute(text(f'CREATE SCHEMA "{self.schema}"'))
            admin.dispose()
            url = pg_url
        self.settings = Settings(
            var_dir=folder,
            database_url=url,
            database_schema=self.schema or "",
            run_workers=False,
            sia_port=0,
            data_key=new_key(),
        )
        self.engine = make_engine(self.settings)
        self.pg_url = pg_url
        (folder / "broker").mkdir()
        self.broker = LocalBroker(folder / "broker")
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = free_port()

    def prepare(self) -> tuple[list[SimDevice], str]:
        migrate.upgrade(self.engine)
        with Session(self.engine) as s:
            s.info["actor"] = "bench"
            nodes = small_territory(s, actor=SYSTEM, sites=10)
            fleet = register(s, actor=cli_principal("bench"), count=DEVICES, only=Protocol.mqtt)
            user = auth_service.create(
                s,
                actor=SYSTEM,
                data=UserCreate(
                    username="bench",
                    display_name="bench",
                    password="bench-password-1",
                    roles=[BindingIn(role=Role.street_admin, node_id=nodes["street"])],
                ),
            )
            from datetime import timedelta

            token, _ = auth_service.issue_token(
                s, user=user, kind="api", name="bench", lifetime=timedelta(hours=2)
            )
            s.commit()
        return fleet, token

    def start(self) -> None:
        self.broker.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PINGAN_")}
        env.update(
            PINGAN_DATABASE_URL=self.settings.database_url,
            PINGAN_VAR_DIR=str(self.folder),
            PINGAN_MQTT_URL=self.broker.url,
            PINGAN_MQTT_CLIENT_ID="pingan-bench",
            PINGAN_SIA_PORT="0",
            PINGAN_LOG_LEVEL="WARNING",
            PINGAN_DATA_KEY=self.settings.data_key,
        )
        if self.schema:
            env["PINGAN_DATABASE_SCHEMA"] = self.schema
        log = open(self.folder / "serve.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pingan.cli", "serve", "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"{self.base}/healthz", timeout=2).json()
                if health["workers"].get("mqtt", {}).get("connected"):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"the platform did not start: {(self.folder / 'serve.log').read_text()[-2000:]}"
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stored(self) -> int:
        with Session(self.engine) as s:
            return int(s.scalar(select(func.count(Event.id)).where(Event.channel == "mqtt")) or 0)

    def peak_rss_mb(self) -> float | None:
        if self.proc is None:
            return None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.broker.stop()
        self.engine.dispose()
        if self.schema:
            admin = create_engine(self.pg_url)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


def _publish(
    platform: Platform, fleet: list[SimDevice], rate: float, duration: float, seed: int
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out: Any = ctx.Queue()
    devices = [(d.id, d.code, d.kind) for d in fleet]
    proc = ctx.Process(
        target=_publisher, args=(platform.broker.url, devices, rate, duration, out, seed)
    )
    proc.start()
    result: dict[str, Any] = out.get(timeout=duration + 120)
    proc.join(timeout=30)
    return result


def listen(
    url: str,
    token: str,
    event: str,
    seen: Callable[[Any], None],
    ready: threading.Event,
    stop: threading.Event,
) -> None:
    """Follow a live stream in a thread of its own: `seen` gets each `event`'s data; `ready` is
    set once the stream has said anything."""

    def run() -> None:
        with httpx.stream(
            "GET", url, timeout=None, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            current = None
            for line in resp.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("event:"):
                    current = line.split(":", 1)[1].strip()
                    ready.set()
                elif line.startswith("data:") and current == event:
                    seen(json.loads(line.split(":", 1)[1]))

    threading.Thread(target=run, daemon=True).start()


def _latency(
    platform: Platform, fleet: list[SimDevice], token: str, rate: int, duration: float
) -> dict[str, float]:
    received: dict[tuple[int, str], float] = {}
    ready = threading.Event()
    stop = threading.Event()

    def seen(change: Any) -> None:
        if change["action"] == "raised":
            alarm = change["alarm"]
            received[(alarm["device_id"], alarm["zone"])] = time.time()

    listen(f"{platform.base}/api/v1/alarms/stream", token, "alarm", seen, ready, stop)
    ready.wait(10)
    result = _publish(platform, fleet, rate, duration, seed=rate)
    time.sleep(2)
    stop.set()
    lags = [(received[(d, z)] - t) * 1000 for d, z, t in result["alarms"] if (d, z) in received]
    LAST_LAGS[:] = lags
    lags.sort()
    if not lags:
        return {"p50": float("nan"), "p99": float("nan"), "samples": 0}
    p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))]
    return {
        "p50": round(statistics.median(lags), 1),
        "p99": round(p99, 1),
        "samples": len(lags),
        "missing": len(result["alarms"]) - len(lags),
    }


def _drain(platform: Platform, target: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    stored = platform.stored()
    while stored < target and time.monotonic() < deadline:
        time.sleep(0.25)
        stored = platform.stored()
    return stored


def _sustained(
    platform: Platform, fleet: list[SimDevice], step_s: float, progress: Progress
) -> tuple[int, list[dict[str, Any]]]:
    best = 0
    steps = []
    published = platform.stored()
    for rate in SUSTAIN_RATES:
        before = platform.stored()
        result = _publish(platform, fleet, rate, step_s, seed=rate + 7)
        published += result["sent"]
        actual = result["sent"] / result["elapsed"]
        after_grace = _drain(platform, published, 1.0)
        backlog = published - after_grace
        stored_rate = (after_grace - before) / (result["elapsed"] + 1.0)
        kept_up = backlog <= 0.25 * rate
        publisher_limited = actual < 0.95 * rate
        ok = kept_up and not publisher_limited
        steps.append(
            {
                "target": rate,
                "published_per_s": round(actual),
                "stored_per_s": round(stored_rate),
                "backlog_after_1s": backlog,
                "kept_up": kept_up,
                "publisher_limited": publisher_limited,
            }
        )
        verdict = (
            "ok"
            if ok
            else ("the publisher could not send that fast" if publisher_limited else "behind")
        )
        progress(f"  {rate}/s: published {actual:.0f}/s, backlog {backlog} after 1 s → {verdict}")
        if not ok:
            _drain(platform, published, 120)
            break
        best = rate
    return best, steps


def alarms(
    *, backends: list[str], pg_url: str, step_s: float, progress: Progress
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for backend in backends:
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unknown backend {backend!r}")
        with tempfile.TemporaryDirectory(prefix=f"pingan-bench-{backend}-") as tmp:
            platform = Platform(backend, Path(tmp), pg_url, progress)
            try:
                progress(f"{backend}: preparing {DEVICES} devices")
                fleet, token = platform.prepare()
                platform.start()
                latency = {}
                for rate, seconds in LATENCY_RATES.items():
                    progress(f"{backend}: latency at {rate}/s for {seconds:.0f} s")
                    latency[str(rate)] = _latency(platform, fleet, token, rate, duration=seconds)
                progress(f"{backend}: sustained rate")
                best, steps = _sustained(platform, fleet, step_s, progress)
                last = steps[-1] if steps else {}
                if last.get("publisher_limited"):
                    limited_by = "publisher"  # the platform kept up with all one process could send
                elif not last.get("kept_up", True):
                    limited_by = "platform"
                else:
                    limited_by = "highest step"
                out[backend] = {
                    "sustained_events_per_s": best,
                    "limited_by": limited_by,
                    "latency_ms": latency,
                    "steps": steps,
                    "devices": DEVICES,
                    "server_peak_rss_mb": platform.peak_rss_mb(),
                }
            finally:
                platform.stop()
    return out
