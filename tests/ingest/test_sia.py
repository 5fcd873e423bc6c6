"""SIA DC-09 receiver over real TCP and UDP sockets: frames, answers, storage, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from siadc09 import account as sia_account
from siadc09 import message as sia_message
from siadc09 import siadcs
from sqlalchemy.orm import Session

from pingan.ingest.sia import SiaReceiver, classify, crc16_arc, frame
from tests.conftest import Backend, World, add_device

KEY = "00112233445566778899AABBCCDDEEFF"


def stamp(at: datetime | None = None) -> str:
    return (at or datetime.now(UTC)).strftime("_%H:%M:%S,%m-%d-%Y")


def dcs(seq: int, content: str, account: str = "1234", at: datetime | None = None) -> bytes:
    return frame(f'"SIA-DCS"{seq:04d}R0L0#{account}[#{account}|N{content}]{stamp(at)}')


def test_crc_matches_the_reference_frame() -> None:
    ref = b'\n7C72003B"SIA-DCS"0001R0L0#1234[#1234|Nri1/BA01]_22:11:27,11-25-2026\r'
    body = ref[9:-1]
    assert f"{crc16_arc(body):04X}" == "7C72" and f"{len(body):04X}" == "003B"


@pytest.mark.parametrize(
    ("code", "kind", "normal"),
    [
        ("BA", "burglary", "BA"),
        ("BR", "restore", "BA"),
        ("FA", "fire", "FA"),
        ("FH", "restore", "FA"),
        ("PA", "panic", "PA"),
        ("TA", "tamper", "TA"),
        ("YT", "trouble", "YT"),
        ("YR", "restore", "YT"),
        ("OP", "open_close", "OP"),
        ("RP", "test", "RP"),
        ("ZZ", "other", "ZZ"),
    ],
)
def test_codes(code: str, kind: str, normal: str) -> None:
    assert classify(code) == (kind, normal)


Talk = Callable[..., Awaitable[Any]]


@pytest.fixture()
def panel(world: World) -> World:
    add_device(
        world,
        "gh-panel",
        node="gh_site",
        kind="intrusion_panel",
        protocol="dc09",
        sia_account="1234",
        name="光华苑报警主机",
    )
    add_device(
        world,
        "gh-panel-enc",
        node="gh_site",
        kind="intrusion_panel",
        protocol="dc09",
        sia_account="5678",
        sia_key=KEY,
        name="加密主机",
    )
    return world


def run(backend: Backend, scenario: Callable[[SiaReceiver], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        settings = backend.settings.model_copy(update={"sia_port": 0, "sia_host": "127.0.0.1"})
        receiver = SiaReceiver(
            settings, backend.app.state.sessionmaker, backend.app.state.runtime.pipeline
        )
        settings.sia_port = 0
        await receiver.start()
        try:
            return await scenario(receiver)
        finally:
            await receiver.stop()

    return asyncio.run(main())


async def tcp(
    receiver: SiaReceiver, *chunks: bytes, answers: int = 1, timeout: float = 3
) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
    for chunk in chunks:
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0.05)
    out = []
    try:
        for _ in range(answers):
            out.append(await asyncio.wait_for(reader.readuntil(b"\r"), timeout))
    except (TimeoutError, asyncio.IncompleteReadError):
        pass  # no answer, or the receiver hung up
    writer.close()
    return out


def alarms(client: TestClient, world: World) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/alarms", headers=world.auth("gh_admin")).json()["items"])


def letters(client: TestClient, world: World) -> list[dict[str, Any]]:
    return list(
        client.get("/api/v1/dead-letters", headers=world.auth("street_admin")).json()["items"]
    )


def test_event_is_stored_then_acked_once(
    backend: Backend, client: TestClient, panel: World, db: Session
) -> None:
    msg = dcs(1, "ri1/BA01")
    answers = run(backend, lambda r: tcp(r, msg))
    ack = sia_message.parse_frame(answers[0])
    assert ack.idtoken == "ACK" and ack.seq == 1
    again = run(backend, lambda r: tcp(r, msg))  # the panel did not hear us and sends it again
    assert b'"ACK"' in again[0]
    [alarm] = alarms(client, panel)
    assert (
        alarm["category"] == "intrusion"
        and alarm["priority"] == 1
        and alarm["zone"] == "1"
        and alarm["count"] == 1
    )
    run(backend, lambda r: tcp(r, dcs(2, "ri1/BR01")))
    [alarm] = alarms(client, panel)
    assert alarm["restored"] is True and alarm["state"] == "raised"
    events = client.get(
        "/api/v1/events",
        params={"device_id": panel.devices["gh-panel"]},
        headers=panel.auth("gh_admin"),
    ).json()
    assert [e["kind"] for e in events["items"]] == ["restore", "burglary"]
    assert events["items"][1]["payload"]["sia_code"] == "BA"


def test_contact_id_and_null_supervision(
    backend: Backend, client: TestClient, panel: World
) -> None:
    cid = frame(f'"ADM-CID"0003R0L0#1234[#1234|1130 01 015]{stamp()}')
    null = frame('"NULL"0004R0L0#1234[]')
    answers = run(backend, lambda r: tcp(r, cid, null, answers=2))
    assert len(answers) == 2 and all(b'"ACK"' in a for a in answers)
    [alarm] = alarms(client, panel)
    assert alarm["category"] == "intrusion" and alarm["zone"] == "015"
    device = client.get(
        f"/api/v1/devices/{panel.devices['gh-panel']}", headers=panel.auth("gh_admin")
    ).json()
    assert device["status"] == "online"


def test_framing_two_in_one_read_and_one_split(
    backend: Backend, client: TestClient, panel: World
) -> None:
    a, b, c = dcs(5, "ri2/FA01"), dcs(6, "ri3/FA01"), dcs(7, "ri4/FA01")
    answers = run(backend, lambda r: tcp(r, a + b, c[:20], c[20:], answers=3))
    assert [sia_message.parse_frame(x).seq for x in answers] == [5, 6, 7]
    assert len(alarms(client, panel)) == 3


def test_encrypted_message_with_hex_key(backend: Backend, client: TestClient, panel: World) -> None:
    acct = sia_account.Account(acct=0x5678, key=KEY)
    data = siadcs.parse_siadcs(b"#5678|Nri9/PA01")
    msg = sia_message.EventMessage(
        acct, {"idtoken": "SIA-DCS", "seqno": 11, "data": data, "timestamp": datetime.now(UTC)}
    ).encode()
    answers = run(backend, lambda r: tcp(r, msg))
    assert answers and b'"*ACK"' in answers[0]
    assert [a["category"] for a in alarms(client, panel)] == ["panic"]


def test_refusals(backend: Backend, client: TestClient, panel: World) -> None:
    good = dcs(21, "ri1/BA01")
    bad_crc = b"\n0000" + good[5:]
    unknown = dcs(22, "ri1/BA01", account="ABCD")
    stale = dcs(23, "ri1/BA01", at=datetime.now(UTC) - timedelta(minutes=5))
    odd = frame('"FOO"0024R0L0#1234[]')
    short = good[:5] + b"0001" + good[9:]

    async def scenario(r: SiaReceiver) -> list[list[bytes]]:
        return [await tcp(r, m, timeout=1) for m in (bad_crc, unknown, stale, odd, short)]

    silent, nak1, nak2, duh, silent2 = run(backend, scenario)
    assert silent == [] and silent2 == []
    assert b'"NAK"' in nak1[0] and b'"NAK"' in nak2[0]
    parsed = sia_message.parse_frame(nak1[0])
    assert (
        parsed.idtoken == "NAK" and abs((parsed.timestamp - datetime.now(UTC)).total_seconds()) < 60
    )
    assert b'"DUH"' in duh[0]
    assert alarms(client, panel) == []
    reasons = [x["reason_key"] for x in letters(client, panel)]
    assert sorted(reasons) == sorted(
        ["bad_crc", "unknown_account", "timestamp", "unsupported", "bad_length"]
    )
    # The stale one can be replayed by a person: it is then stored.
    stale_letter = next(x for x in letters(client, panel) if x["reason_key"] == "timestamp")
    r = client.post(
        f"/api/v1/dead-letters/{stale_letter['id']}/replay", headers=panel.auth("gh_admin")
    )
    assert r.json()["replay_result"] == "stored 1, duplicate 0"


async def udp(receiver: SiaReceiver, message: bytes) -> bytes:
    """One datagram to the receiver, and its answer."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, remote_addr=("127.0.0.1", receiver.port)
    )
    transport.sendto(message)
    try:
        return await asyncio.wait_for(got, 3)
    finally:
        transport.close()


def test_udp(backend: Backend, client: TestClient, panel: World) -> None:
    assert b'"ACK"' in run(backend, lambda r: udp(r, dcs(31, "ri1/MA01")))
    assert [a["category"] for a in alarms(client, panel)] == ["medical"]


def test_garbage_without_frame_end_is_kept(
    backend: Backend, client: TestClient, panel: World
) -> None:
    run(backend, lambda r: tcp(r, b"x" * 5000, timeout=0.5))
    assert [x["reason_key"] for x in letters(client, panel)] == ["bad_frame"]


def _encrypted(seq: int, content: str, at: datetime | None = None) -> bytes:
    acct = sia_account.Account(acct=0x5678, key=KEY)
    data = siadcs.parse_siadcs(f"#5678|N{content}".encode())
    return sia_message.EventMessage(
        acct,
        {"idtoken": "SIA-DCS", "seqno": seq, "data": data, "timestamp": at or datetime.now(UTC)},
    ).encode()


def test_a_keyed_account_takes_encrypted_frames_only_over_tcp_and_udp(
    backend: Backend, client: TestClient, panel: World
) -> None:
    """A forged plaintext alarm or restore for an account with a key is refused and kept; so is
    a plaintext link test, which would otherwise bring a cut panel back online."""
    forged_alarm = dcs(41, "ri1/BA01", account="5678")
    forged_null = frame('"NULL"0042R0L0#5678[]')

    async def scenario(r: SiaReceiver) -> list[Any]:
        by_udp = await udp(r, dcs(43, "ri1/BA01", account="5678"))
        return [await tcp(r, forged_alarm), await tcp(r, forged_null), by_udp]

    by_tcp, null, by_udp = run(backend, scenario)
    assert b'"NAK"' in by_tcp[0] and b'"NAK"' in null[0] and b'"NAK"' in by_udp
    assert alarms(client, panel) == []
    kept = [x for x in letters(client, panel) if x["reason_key"] == "plaintext"]
    assert len(kept) == 3 and "has a key" in kept[0]["reason"]
    device = client.get(
        f"/api/v1/devices/{panel.devices['gh-panel-enc']}", headers=panel.auth("gh_admin")
    ).json()
    assert device["status"] != "online"
    # The real, encrypted alarm still goes through; a forged plaintext restore cannot close it.
    assert b'"*ACK"' in run(backend, lambda r: tcp(r, _encrypted(44, "ri1/BA01")))[0]
    assert b'"NAK"' in run(backend, lambda r: tcp(r, dcs(45, "ri1/BR01", account="5678")))[0]
    [alarm] = alarms(client, panel)
    assert alarm["restored"] is False


def test_a_replayed_frame_is_refused_where_timestamps_are_required(
    backend: Backend, client: TestClient, panel: World
) -> None:
    """An account that requires timestamps refuses frames without one (link tests included),
    and a stamped frame replayed ten minutes later falls outside the window."""
    r = client.patch(
        f"/api/v1/devices/{panel.devices['gh-panel']}",
        json={"sia_require_timestamp": True},
        headers=panel.auth("gh_admin"),
    )
    assert r.status_code == 200 and r.json()["sia_require_timestamp"] is True
    unstamped = frame('"NULL"0051R0L0#1234[]')
    captured = dcs(52, "ri1/BA01", at=datetime.now(UTC) - timedelta(minutes=10))
    answers = run(backend, lambda r: tcp(r, unstamped, captured, answers=2))
    assert len(answers) == 2 and all(b'"NAK"' in a for a in answers)
    assert sorted(x["reason_key"] for x in letters(client, panel)) == ["timestamp", "timestamp"]
    assert "requires a" in next(
        x["reason"] for x in letters(client, panel) if "NULL" in x["raw_text"]
    )
    assert alarms(client, panel) == []
    # A stamped link test now is taken.
    assert b'"ACK"' in run(backend, lambda r: tcp(r, frame(f'"NULL"0053R0L0#1234[]{stamp()}')))[0]


def test_idle_connections_are_closed(backend: Backend, client: TestClient, panel: World) -> None:
    async def scenario(r: SiaReceiver) -> tuple[int, bytes]:
        r.settings.sia_idle_s = 0.3
        connections = [await asyncio.open_connection("127.0.0.1", r.port) for _ in range(20)]
        await asyncio.sleep(1.0)
        ends = [await asyncio.wait_for(reader.read(10), 2) for reader, _w in connections]
        for _reader, writer in connections:
            writer.close()
        return r.counters.idle_closed, b"".join(ends)

    closed, read = run(backend, scenario)
    assert closed == 20 and read == b""  # each was closed by the receiver (end of stream)
