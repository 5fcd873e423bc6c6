"""Devices of every site: what they are, where, how they report, and whether they are alive."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Index, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, Sealed, TimestampMixin, UTCDateTime
from pingan.i18n import N_


class DeviceKind(enum.StrEnum):
    camera = "camera"  # 摄像机
    face_terminal = "face_terminal"  # 人脸识别终端
    access_controller = "access_controller"  # 门禁控制器
    intrusion_panel = "intrusion_panel"  # 入侵报警主机
    smoke_detector = "smoke_detector"  # 烟感
    gas_detector = "gas_detector"  # 燃气探测器
    hydrant_pressure = "hydrant_pressure"  # 消防栓水压
    ebike_charger = "ebike_charger"  # 电动车充电监测
    panic_button = "panic_button"  # 一键报警
    guard_console = "guard_console"  # 门岗值守台


KIND_LABEL: dict[DeviceKind, str] = {
    DeviceKind.camera: N_("摄像机"),
    DeviceKind.face_terminal: N_("人脸识别终端"),
    DeviceKind.access_controller: N_("门禁控制器"),
    DeviceKind.intrusion_panel: N_("入侵报警主机"),
    DeviceKind.smoke_detector: N_("烟感探测器"),
    DeviceKind.gas_detector: N_("燃气探测器"),
    DeviceKind.hydrant_pressure: N_("消防栓水压监测"),
    DeviceKind.ebike_charger: N_("电动车充电监测"),
    DeviceKind.panic_button: N_("一键报警"),
    DeviceKind.guard_console: N_("门岗值守台"),
}


class Protocol(enum.StrEnum):
    mqtt = "mqtt"
    http = "http"
    dc09 = "dc09"


class DeviceStatus(enum.StrEnum):
    unknown = "unknown"
    online = "online"
    offline = "offline"


# Supervision defaults: MQTT/HTTP heartbeat every 60 s, offline after 3 missed (as GB/T 28181);
# DC-09 panels offline after their report interval + 30 s (as Home Assistant's SIA integration).
HEARTBEAT_S = 60
MISSED_HEARTBEATS = 3
DC09_REPORT_S = 300
DC09_GRACE_S = 30


def default_supervision_s(protocol: Protocol) -> int:
    if protocol == Protocol.dc09:
        return DC09_REPORT_S + DC09_GRACE_S
    return HEARTBEAT_S * MISSED_HEARTBEATS


class Device(TimestampMixin, Base):
    __tablename__ = "devices"
    __audited__ = True
    # Secrets never enter the audit log; liveness changes are events, not edits.
    __audit_exclude__ = frozenset(
        {
            "http_token_hash",
            "sia_key",
            "stream_url",  # may carry the camera's password
            "status",
            "last_seen_at",
            "status_changed_at",
            "updated_at",
        }
    )
    __table_args__ = (Index("ix_devices_status", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)  # MQTT user name and topic part
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[DeviceKind] = mapped_column(Enum(DeviceKind, native_enum=False, length=32))
    protocol: Mapped[Protocol] = mapped_column(Enum(Protocol, native_enum=False, length=8))
    node_id: Mapped[int] = mapped_column(
        ForeignKey("territory_nodes.id", ondelete="RESTRICT"), index=True
    )
    vendor: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(100))  # 东门岗, 3栋1单元大堂 …
    is_exit: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )  # a gate out
    stream_url: Mapped[str | None] = mapped_column(Sealed)  # rtsp://user:pass@… of a camera
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    supervision_s: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    http_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    sia_account: Mapped[str | None] = mapped_column(String(16), unique=True)
    sia_key: Mapped[str | None] = mapped_column(Sealed)  # DC-09 AES key, sealed at rest
    sia_key_hex: Mapped[bool] = mapped_column(Boolean, default=True)
    # Plaintext frames must carry a timestamp (so the replay window applies); None: yes when the
    # account has a key (its frames must be encrypted anyway), no otherwise.
    sia_require_timestamp: Mapped[bool | None] = mapped_column(Boolean)
    # A face door: its target share of strangers let in (None: PINGAN_FACE_FPIR), and a second
    # factor asked with the face ("card" or "pin") where its gallery is too large for face alone.
    face_fpir: Mapped[float | None] = mapped_column(Float)
    face_second_factor: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[DeviceStatus] = mapped_column(
        Enum(DeviceStatus, native_enum=False, length=8), default=DeviceStatus.unknown
    )
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def audit_scope_node_id(self) -> int | None:
        return self.node_id
