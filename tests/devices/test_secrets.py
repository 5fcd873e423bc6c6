"""Device secrets at rest: DC-09 AES keys and camera stream URLs (with their passwords) are sealed
under the data key in the database and so in every backup, and never shown back by the API."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from pingan.db import backup, migrate
from pingan.db.base import SEALED_PREFIX, configure_secrets
from pingan.db.engine import make_engine
from pingan.devices.models import Device
from tests.conftest import TEST_DATA_KEY, World, settings_for

KEY = "00112233445566778899AABBCCDDEEFF"
URL = "rtsp://admin:Camera-Pass-77@10.20.3.4:554/Streaming/Channels/101"


def _raw(session: Session, device_id: int) -> tuple[str, str]:
    row = session.execute(
        text("SELECT sia_key, stream_url FROM devices WHERE id = :id"), {"id": device_id}
    ).one()
    return row[0], row[1]


def test_keys_and_stream_urls_are_sealed_and_never_shown(
    client: TestClient, world: World, db: Session
) -> None:
    h = world.auth("gh_admin")
    r = client.post(
        "/api/v1/devices",
        json={
            "code": "gh-cam-panel",
            "name": "东门",
            "kind": "camera",
            "protocol": "dc09",
            "node_id": world.nodes["gh_site"],
            "sia_account": "4321",
            "sia_key": KEY,
            "stream_url": URL,
        },
        headers=h,
    )
    assert r.status_code == 201, r.text
    shown = r.json()
    assert shown["has_sia_key"] and shown["has_stream"]
    assert shown["stream_host"] == "rtsp://10.20.3.4:554"
    assert KEY not in r.text and "Camera-Pass-77" not in r.text and "admin" not in r.text
    listed = client.get("/api/v1/devices", headers=h).text
    assert KEY not in listed and "Camera-Pass-77" not in listed
    key, url = _raw(db, shown["id"])
    assert key.startswith(SEALED_PREFIX) and url.startswith(SEALED_PREFIX)
    assert KEY not in key and "Camera-Pass-77" not in url
    # In Python they open again: the receiver and the camera worker use them as before.
    device = db.get(Device, shown["id"])
    assert device is not None
    db.expire(device)
    assert device.sia_key == KEY and device.stream_url == URL


def test_without_a_data_key_a_secret_is_refused_not_kept_in_the_clear(
    client: TestClient, world: World
) -> None:
    configure_secrets("")
    try:
        r = client.post(
            "/api/v1/devices",
            json={
                "code": "gh-panel-x",
                "name": "主机",
                "kind": "intrusion_panel",
                "protocol": "dc09",
                "node_id": world.nodes["gh_site"],
                "sia_account": "4322",
                "sia_key": KEY,
            },
            headers=world.auth("gh_admin"),
        )
        assert r.status_code == 503 and "PINGAN_DATA_KEY" in r.json()["detail"]
    finally:
        configure_secrets(TEST_DATA_KEY)


def test_the_migration_seals_secrets_stored_before(tmp_path: Path) -> None:
    settings = settings_for("sqlite", tmp_path)
    engine = make_engine(settings)
    migrate.upgrade(engine, "0007")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO territory_nodes (id, kind, parent_id, name, path, created_at, updated_at) "
                "VALUES (1, 'site', NULL, 'x', '/1/', '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO devices (code, name, kind, protocol, node_id, supervision_s, enabled, "
                "sia_key, sia_key_hex, stream_url, status, is_exit, created_at, updated_at) VALUES "
                "('old-1', 'old', 'camera', 'dc09', 1, 330, 1, :k, 1, :u, 'unknown', 0, "
                "'2026-01-01', '2026-01-01')"
            ),
            {"k": KEY, "u": URL},
        )
    configure_secrets(TEST_DATA_KEY)
    migrate.upgrade(engine)
    with Session(engine) as s:
        key, url = _raw(s, 1)
        assert key.startswith(SEALED_PREFIX) and url.startswith(SEALED_PREFIX)
        device = s.get(Device, 1)
        assert device is not None and device.sia_key == KEY and device.stream_url == URL
    # And a backup holds only what the database holds: sealed.
    dest = tmp_path / "backup.db"
    backup.backup(engine, dest)
    engine.dispose()
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("*.db*"))
    assert dest.stat().st_size > 0
    assert KEY.encode() not in stored and b"Camera-Pass-77" not in stored
