"""The platform as a whole, in its own process, on real channels: the simulator's traffic
arrives through MQTT, HTTP and DC-09; a corpus of malformed messages is refused or kept, and the
platform keeps serving."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pingan.db.engine import make_engine
from pingan.events.models import DeadLetter, Event
from pingan.ingest import topics
from pingan.ingest.sia import frame
from tests.conftest import BACKENDS, drop_pg_schema, require_pg, settings_for
from tests.live import Broker, Live, client, free_port, make_live, publish_all


@pytest.fixture(params=BACKENDS)
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Live, Broker]]:
    if request.param == "postgresql":
        require_pg()
    settings = settings_for(request.param, tmp_path)
    live = make_live(settings)
    (tmp_path / "broker").mkdir()
    broker = Broker(tmp_path / "broker")
    broker.start()
    live.sia_port = free_port()
    live.env.update(
        PINGAN_MQTT_URL=broker.url,
        PINGAN_MQTT_CLIENT_ID=f"pingan-{request.param}",
        PINGAN_SIA_PORT=str(live.sia_port),
        PINGAN_SIA_HOST="127.0.0.1",
    )
    yield live, broker
    live.stop()
    broker.stop()
    if settings.database_schema:
        drop_pg_schema(settings.database_schema)


def counts(live: Live) -> dict[str, int]:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        rows = s.execute(select(Event.channel, func.count()).group_by(Event.channel)).all()
    engine.dispose()
    return {channel: int(n) for channel, n in rows}


def letters(live: Live) -> list[tuple[str, str]]:
    engine = make_engine(live.settings)
    with Session(engine) as s:
        rows = s.execute(
            select(DeadLetter.channel, DeadLetter.reason_key).order_by(DeadLetter.id)
        ).all()
    engine.dispose()
    return [(c, r) for c, r in rows]


def test_simulated_devices_report_through_every_channel(platform: tuple[Live, Broker]) -> None:
    live, broker = platform
    live.serve()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pingan.cli",
            "simulate",
            "--devices",
            "20",
            "--rate",
            "40",
            "--duration",
            "4",
            "--url",
            f"http://127.0.0.1:{live.port}",
            "--mqtt",
            broker.url,
            "--sia",
            f"127.0.0.1:{live.sia_port}",
        ],
        env=live.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "errors 0" in result.stdout, result.stdout
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and set(counts(live)) < {"mqtt", "http", "dc09"}:
        time.sleep(0.2)
    got = counts(live)
    assert got["mqtt"] > 0 and got["http"] > 0 and got["dc09"] > 0, got
    assert letters(live) == []


def test_malformed_corpus_is_refused_or_kept_and_the_platform_keeps_serving(
    platform: tuple[Live, Broker],
) -> None:
    live, broker = platform
    live.add_device("lxy-smoke-1", protocol="mqtt")
    live.add_device("lxy-panel-1", kind="intrusion_panel", protocol="dc09", sia_account="1234")
    live.serve()
    base = f"http://127.0.0.1:{live.port}"
    # HTTP: no token, bad token, and (with a token) bad JSON, wrong types, an unknown field.
    assert httpx.post(f"{base}/api/v1/ingest/events", json={"kind": "fire"}).status_code == 401
    assert (
        httpx.post(
            f"{base}/api/v1/ingest/events",
            json={"kind": "fire"},
            headers={"Authorization": "Bearer pd_nope"},
        ).status_code
        == 401
    )
    # MQTT: broken JSON, a schema violation, an unknown device, a topic outside the scheme is not
    # even subscribed (the broker does not deliver it), a bad status.
    pub = client(broker, "corpus")
    smoke = topics.device_topic("lxy-smoke-1", "event")
    until = time.monotonic() + 15
    while not live.get("/healthz")["workers"]["mqtt"]["connected"] and time.monotonic() < until:
        time.sleep(0.1)
    publish_all(
        pub,
        [
            (smoke, b"\xff\xfe"),
            (smoke, b'{"kind": 5}'),
            (smoke, b"[]"),
            (topics.device_topic("ghost", "event"), b'{"kind": "fire"}'),
            (topics.device_topic("lxy-smoke-1", "status"), b"maybe"),
        ],
    )
    # DC-09: garbage, a bad CRC, an unknown account, an unsupported message.
    good = frame(
        f'"SIA-DCS"0001R0L0#1234[#1234|Nri1/BA01]{time.strftime("_%H:%M:%S,%m-%d-%Y", time.gmtime())}'
    )
    with socket.create_connection(("127.0.0.1", live.sia_port), timeout=5) as sock:
        sock.settimeout(1)
        for raw in (
            b"hello\r",
            b"\n0000" + good[5:],
            frame('"SIA-DCS"0002R0L0#BEEF[#BEEF|NBA01]'),
            frame('"XYZ"0003R0L0#1234[]'),
        ):
            sock.sendall(raw)
            with contextlib.suppress(TimeoutError):  # some get an answer, some deliberately none
                sock.recv(256)
        sock.sendall(good)
        assert b'"ACK"' in sock.recv(256)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(letters(live)) < 9:
        time.sleep(0.2)
    kept = letters(live)
    # Requests without a valid token are counted, never stored.
    metrics = httpx.get(f"{base}/metrics").text
    assert 'pingan_device_requests_unauthenticated_total{reason="no_device_token"} 1.0' in metrics
    assert 'pingan_device_requests_unauthenticated_total{reason="unknown_token"} 1.0' in metrics
    assert sorted(kept) == sorted(
        [
            ("mqtt", "bad_json"),
            ("mqtt", "schema"),
            ("mqtt", "schema"),
            ("mqtt", "unknown_device"),
            ("mqtt", "schema"),
            ("dc09", "bad_frame"),
            ("dc09", "bad_crc"),
            ("dc09", "unknown_account"),
            ("dc09", "unsupported"),
        ]
    ), kept
    # … and it still serves: the good panel message was stored, the API answers.
    assert counts(live).get("dc09") == 1
    assert live.get("/healthz")["status"] == "ok"
    publish_all(pub, [(smoke, json.dumps({"event_id": "ok-1", "kind": "heartbeat"}).encode())])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and counts(live).get("mqtt") != 1:
        time.sleep(0.2)
    assert counts(live).get("mqtt") == 1
    pub.loop_stop()
    pub.disconnect()
