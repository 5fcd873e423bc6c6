"""With nobody at the desk, in a running platform on real channels: a panic button pressed over
MQTT raises an alarm whose rule says `dispatch: true`; the platform's own worker offers it to the
responder on duty, whose phone page is closed, so an SMS to their number is queued as well."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.alarms.models import Notification
from pingan.db.engine import make_engine
from pingan.ingest import topics
from tests.live import Broker, Live, client, publish_all
from tests.test_live_platform import platform
from tests.web.test_phone import _patrol

__all__ = ["platform"]  # fixture


def test_a_panic_is_dispatched_by_the_platform_itself(platform: tuple[Live, Broker]) -> None:
    live, broker = platform
    _patrol(live)
    live.add_device("lxy-panic-1", kind="panic_button", protocol="mqtt", name="一键报警")
    live.serve()
    base = f"http://127.0.0.1:{live.port}"
    with httpx.Client(base_url=base, timeout=10) as http:
        login = http.post(
            "/api/v1/auth/login", json={"username": "lxy_volunteer", "password": "volunteer-pw-1"}
        )
        phone = {"Authorization": f"Bearer {login.json()['token']}"}
        # The phone's last position: at the compound.
        http.post("/api/v1/patrol/position", json={"lon": 103.792, "lat": 30.682}, headers=phone)
        until = time.monotonic() + 15
        while not http.get("/healthz").json()["workers"]["mqtt"]["connected"]:
            assert time.monotonic() < until, "the platform did not connect to the broker"
            time.sleep(0.1)
        button = client(broker, "lxy-panic-1")
        pressed = time.monotonic()
        publish_all(button, [(topics.device_topic("lxy-panic-1", "event"), b'{"kind": "panic"}')])
        tasks: list[dict[str, object]] = []
        while not tasks and time.monotonic() - pressed < 15:
            tasks = http.get("/api/v1/patrol/my-tasks", headers=phone).json()
            time.sleep(0.2)
        button.disconnect()
    assert tasks and tasks[0]["state"] == "offered", tasks
    assert tasks[0]["title"] == "紧急求助"
    engine = make_engine(live.settings)
    with Session(engine) as s:
        sms = s.scalars(select(Notification).where(Notification.event == "task.offered")).all()
    engine.dispose()
    assert [(n.channel, n.recipient) for n in sms] == [("contact_sms", "13800000009")]
