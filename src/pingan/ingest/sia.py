"""SIA DC-09 receiver for intrusion and fire panels, over TCP and UDP.

pysiaalarm parses, decrypts and builds acknowledgements; the server around it is ours, because
its own one answers before the event is stored and cannot frame a stream. Here a frame ends at
CR; CRC and length are checked; the event is committed; only then does the panel get its ACK.

Answers, as DC-09 says: ACK for a valid message; NAK (with our time) for an unknown account or a
timestamp outside the window; DUH for a message we do not support; nothing for a bad CRC or
length, so that the panel sends it again. Whatever is not ACKed is kept as a dead letter.

An account with a key takes encrypted frames only (a plaintext one is NAKed: it can only be
forged or replayed), and an account that requires timestamps (by default, those with a key)
refuses frames without one, link tests included, so the replay window applies to everything it
takes. A TCP connection silent for PINGAN_SIA_IDLE_S is closed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pysiaalarm.account import SIAAccount
from pysiaalarm.errors import EventFormatError, NoAccountError
from pysiaalarm.event import SIAEvent
from sqlalchemy.orm import Session, sessionmaker

from pingan.config import Settings
from pingan.db.base import utcnow
from pingan.db.engine import unit_of_work
from pingan.devices import service as device_service
from pingan.devices.service import DeviceInfo
from pingan.events.models import DeadLetter
from pingan.events.pipeline import Incoming, Pipeline, dead_letter
from pingan.health import Component

log = logging.getLogger("pingan.ingest.sia")
CHANNEL = "dc09"
MAX_FRAME = 2048
WINDOW = (40, 20)  # seconds before and after our time that a message's timestamp may be

_ACCOUNT = re.compile(r'"[0-9]{4}(?:R[0-9A-Fa-f]{1,6})?L[0-9A-Fa-f]{1,6}#([0-9A-Fa-f]{3,16})\[')
_HEADER = re.compile(r'"(\*?[A-Z-]+)"([0-9]{4})(R[0-9A-Fa-f]{1,6})?(L[0-9A-Fa-f]{1,6})')


def crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def frame(body: str) -> bytes:
    raw = body.encode("ascii")
    return f"\n{crc16_arc(raw):04X}{len(raw):04X}".encode() + raw + b"\r"


def timestamp() -> str:
    """The DC-09 timestamp of now, as a message ends with it: _HH:MM:SS,MM-DD-YYYY (UTC)."""
    return datetime.now(UTC).strftime("_%H:%M:%S,%m-%d-%Y")


def nak(account: str | None = None) -> bytes:
    """Sequence 0000 and our time, so the panel can correct its clock (account echoed, or 0)."""
    return frame(f'"NAK"0000R0L0#{account or "0"}[]{timestamp()}')


def duh(sequence: str, receiver: str, line: str, account: str | None) -> bytes:
    return frame(f'"DUH"{sequence}{receiver}{line}#{account or ""}[]')


# SIA event codes → our event kinds. A second letter R (or H, J) restores what A (or T) raised.
FAMILY = {
    "B": "burglary",
    "F": "fire",
    "K": "fire",
    "S": "fire",
    "P": "panic",
    "H": "panic",
    "Q": "panic",
    "M": "medical",
    "G": "gas",
    "T": "tamper",
    "W": "sensor",
}
OPEN_CLOSE = {"OP", "CL", "OA", "CA", "OR", "CR", "OG", "CG"}
TESTS = {"RP", "RX", "TX", "TS", "TE", "RS"}
TROUBLE = {"YT", "AT", "YM", "YP", "YS", "YC", "XT", "ET", "BT", "FT", "PT", "TT", "LT", "NT"}
TROUBLE_RESTORE = {
    "YR": "YT",
    "AR": "AT",
    "YQ": "YP",
    "XR": "XT",
    "ER": "ET",
    "BJ": "BT",
    "FJ": "FT",
    "PJ": "PT",
    "TJ": "TT",
    "LR": "LT",
    "NR": "NT",
}


def classify(code: str) -> tuple[str, str]:
    """(kind, code) for an SIA code; a restore carries the code of what it restores."""
    code = code.upper()
    if code in OPEN_CLOSE:
        return "open_close", code
    if code in TESTS:
        return "test", code
    if code in TROUBLE:
        return "trouble", code
    if code in TROUBLE_RESTORE:
        return "restore", TROUBLE_RESTORE[code]
    family = FAMILY.get(code[0])
    if family is not None:
        if code[1] in "RH":
            return "restore", f"{code[0]}A"
        if code[1] == "J":
            return "restore", f"{code[0]}T"
        if code[1] == "T":
            return "trouble", code
        return family, code
    return "other", code


@dataclass
class Answer:
    reply: bytes | None  # None: no answer (bad CRC or length: the panel retries)
    outcome: str


def _account(device: DeviceInfo) -> SIAAccount:
    account = SIAAccount(device.sia_account or "", None, WINDOW)
    if device.sia_key:
        # pysiaalarm keys are ASCII; DC-09 keys are hex. Support both, per account.
        account.key = device.sia_key
        account.key_b = (
            bytes.fromhex(device.sia_key) if device.sia_key_hex else device.sia_key.encode()
        )
    return account


def _sender_id(event: SIAEvent, text: str, received: datetime) -> str:
    """Same account (the device), sequence and timestamp: a retry, stored once."""
    if isinstance(event.timestamp, datetime):
        return f"{event.sequence}-{event.timestamp:%Y%m%d%H%M%S}"
    bucket = int(received.timestamp() // 600)
    return f"{event.sequence}-{hashlib.sha1(text[8:].encode()).hexdigest()[:12]}-{bucket}"


def parse_frame(
    session: Session, raw: bytes, *, check_window: bool = True
) -> tuple[Answer, DeviceInfo | None, list[Incoming], str | None]:
    """Everything about one frame but storing it: the answer, the device, the events, and the
    dead-letter reason key when there is one."""
    text = raw.strip(b"\n\r").decode("ascii", "replace")
    if len(text) < 12 or not re.fullmatch(r"[0-9A-Fa-f]{8}", text[:8]):
        return Answer(None, "no CRC and length header"), None, [], "bad_frame"
    body = text[8:]
    if int(text[:4], 16) != crc16_arc(body.encode("ascii", "replace")):
        return Answer(None, "bad CRC"), None, [], "bad_crc"
    if int(text[4:8], 16) != len(body):
        return (
            Answer(None, f"length {int(text[4:8], 16)} stated, {len(body)} sent"),
            None,
            [],
            "bad_length",
        )
    header = _HEADER.match(body)
    if header is None:
        return Answer(duh("0000", "R0", "L0", None), "unreadable header"), None, [], "unsupported"
    msg_type, sequence, receiver, line = (
        header.group(1),
        header.group(2),
        header.group(3) or "R0",
        header.group(4),
    )
    found = _ACCOUNT.search(body)
    account_id = found.group(1).upper() if found else None
    device = device_service.info_by_account(session, account=account_id) if account_id else None
    if device is None or not device.enabled:
        why = (
            f"unknown account {account_id}" if device is None else f"account {account_id} disabled"
        )
        return Answer(nak(account_id), why), device, [], "unknown_account"
    encrypted = msg_type.startswith("*")
    if device.sia_key and not encrypted:
        # A keyed account speaks only encrypted: a plaintext frame is a forgery or a replay.
        return (
            Answer(nak(account_id), f"plaintext frame for account {account_id}, which has a key"),
            device,
            [],
            "plaintext",
        )
    accounts = {device.sia_account or "": _account(device)}
    try:
        event = SIAEvent.from_line(text, accounts)
    except NoAccountError:
        return (
            Answer(nak(account_id), "encrypted, but the account has no key"),
            device,
            [],
            "no_key",
        )
    except (EventFormatError, ValueError) as exc:
        return (
            Answer(duh(sequence, receiver, line, account_id), f"unsupported: {exc}"),
            device,
            [],
            "unsupported",
        )
    require_time = (
        device.sia_require_timestamp
        if device.sia_require_timestamp is not None
        else bool(device.sia_key)
    )
    stamped = isinstance(event.timestamp, datetime)
    if (event.encrypted or require_time) and not stamped:
        # Link tests too: a replayed NULL must not bring a cut panel back online.
        why = "encrypted message" if event.encrypted else f"account {account_id} requires a"
        return (
            Answer(nak(account_id), f"{why} without timestamp"),
            device,
            [],
            "timestamp",
        )
    if check_window and stamped and not event.valid_timestamp:
        return (
            Answer(nak(account_id), f"timestamp {event.timestamp} outside the window"),
            device,
            [],
            "timestamp",
        )
    if msg_type.lstrip("*") != "NULL" and not event.code:
        return (
            Answer(duh(sequence, receiver, line, account_id), "no event code"),
            device,
            [],
            "unsupported",
        )
    received = utcnow()
    if msg_type.lstrip("*") == "NULL" or not event.code:
        kind, code = "heartbeat", "NULL"
    else:
        kind, code = classify(event.code)
    item = Incoming(
        device=device,
        channel=CHANNEL,
        kind=kind,
        code=code,
        zone=event.ri or None,
        occurred_at=event.timestamp if isinstance(event.timestamp, datetime) else None,
        sender_id=_sender_id(event, text, received),
        payload={
            "sia_code": event.code,
            "sia_type": event.sia_code.type if event.sia_code else None,
            "message_type": msg_type,
            "sequence": event.sequence,
            "message": event.message,
            "partition": event.partition,
        },
        received_at=received,
    )
    reply = (
        event.create_response()
        if msg_type.lstrip("*") != "NULL"
        else frame(f'"ACK"{sequence}{receiver}{line}#{account_id}[]')
    )
    return Answer(reply, "ok"), device, [item], None


def reparse(session: Session, letter: DeadLetter) -> list[Incoming]:
    """A DC-09 dead letter parsed again; the replay window no longer applies (a person chose)."""
    answer, _device, items, reason = parse_frame(session, letter.raw, check_window=False)
    if reason is not None:
        raise ValueError(answer.outcome)
    return items


@dataclass
class SiaCounters:
    frames: int = 0
    acked: int = 0
    naked: int = 0
    duh: int = 0
    silent: int = 0
    idle_closed: int = 0


@dataclass
class SiaReceiver:
    settings: Settings
    factory: sessionmaker[Session]
    pipeline: Pipeline
    counters: SiaCounters = field(default_factory=SiaCounters)
    last_error: str | None = None
    component: Component = field(default_factory=lambda: Component("dc09"))
    _tcp: asyncio.Server | None = None
    _udp: asyncio.DatagramTransport | None = None
    port: int = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tcp = await asyncio.start_server(
            self._serve, self.settings.sia_host, self.settings.sia_port, limit=MAX_FRAME
        )
        self.port = self._tcp.sockets[0].getsockname()[1]
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.settings.sia_host, self.port)
        )
        self._udp = transport
        self.component.succeeded()
        log.info("DC-09: listening on %s:%s (TCP and UDP)", self.settings.sia_host, self.port)

    async def stop(self) -> None:
        self.component.stopped()
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def health(self) -> dict[str, Any]:
        return {"port": self.port, "last_error": self.last_error, **vars(self.counters)}

    def handle(self, raw: bytes, peer: str) -> bytes | None:
        """One frame: parse, store (or keep as a dead letter), commit — then the answer."""
        self.counters.frames += 1
        with unit_of_work(self.factory, actor="system:dc09") as session:
            answer, device, items, reason = parse_frame(session, raw)
            if reason is None:
                self.pipeline.process(session, items)
            else:
                dead_letter(
                    session,
                    channel=CHANNEL,
                    raw=raw,
                    reason_key=reason,
                    reason=answer.outcome,
                    source=peer,
                    device_id=device.id if device else None,
                )
        reply = answer.reply
        if reply is None:
            self.counters.silent += 1
        elif b'"ACK"' in reply or b'"*ACK"' in reply:
            self.counters.acked += 1
        elif b'"NAK"' in reply:
            self.counters.naked += 1
        else:
            self.counters.duh += 1
        return reply

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = "{}:{}".format(*writer.get_extra_info("peername")[:2])
        try:
            while True:
                try:
                    raw = await asyncio.wait_for(
                        reader.readuntil(b"\r"), timeout=self.settings.sia_idle_s
                    )
                except TimeoutError:
                    self.counters.idle_closed += 1
                    return  # silent too long: closed, so idle connections cannot pile up
                except asyncio.IncompleteReadError:
                    return
                except asyncio.LimitOverrunError:
                    # No CR within a frame's length: not DC-09. Keep what came and hang up.
                    junk = await reader.read(MAX_FRAME)
                    await asyncio.to_thread(self._keep_junk, junk, peer)
                    return
                try:
                    reply = await asyncio.to_thread(self.handle, raw, peer)
                    self.component.succeeded()
                except Exception as exc:  # not stored: no answer, so the panel sends it again
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self.component.failed(exc)
                    log.exception("DC-09: storing a frame from %s failed", peer)
                    continue
                if reply is not None:
                    writer.write(reply)
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            return  # the panel hung up, or we are shutting down
        finally:
            writer.close()

    def _keep_junk(self, raw: bytes, peer: str) -> None:
        with unit_of_work(self.factory, actor="system:dc09") as session:
            dead_letter(
                session,
                channel=CHANNEL,
                raw=raw[:MAX_FRAME],
                reason_key="bad_frame",
                reason=f"no frame end within {MAX_FRAME} bytes",
                source=peer,
            )


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, receiver: SiaReceiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        asyncio.get_running_loop().create_task(self._answer(data, addr))

    async def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        peer = f"{addr[0]}:{addr[1]}"
        for raw in [f for f in data.split(b"\r") if f.strip()]:
            try:
                reply = await asyncio.to_thread(self.receiver.handle, raw + b"\r", peer)
            except Exception as exc:
                self.receiver.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("DC-09: storing a datagram from %s failed", peer)
                continue
            if reply is not None and self.transport is not None:
                self.transport.sendto(reply, addr)
