from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pingan.devices.models import DeviceKind, DeviceStatus, Protocol
from pingan.territory.geo import CRS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeviceFields(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    node_id: int | None = Field(None, description="The site or building the device is in")
    vendor: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=64)
    location: str | None = Field(None, max_length=100, description="Where in the site: 东门岗 …")
    is_exit: bool | None = Field(None, description="At a gate out of the site (watchlists)")
    stream_url: str | None = Field(
        None,
        max_length=500,
        pattern=r"^(rtsp|rtsps|http|https)://\S+$",
        description="A camera's stream (rtsp://user:pass@host/…): sampled for faces; never shown",
    )
    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    crs: CRS = CRS.wgs84
    supervision_s: int | None = Field(
        None, ge=10, le=7 * 86400, description="Offline after this long without any message"
    )
    enabled: bool | None = None
    sia_account: str | None = Field(
        None, pattern=r"^[0-9A-Fa-f]{3,16}$", description="DC-09 account"
    )
    sia_key: str | None = Field(
        None, description="DC-09 AES key: 16/24/32 ASCII characters, or 32/48/64 hex digits"
    )
    sia_key_hex: bool | None = Field(None, description="The key is hexadecimal (as DC-09 says)")
    sia_require_timestamp: bool | None = Field(
        None,
        description="Refuse DC-09 frames without a timestamp (so replays are refused); "
        "default: yes for accounts with a key",
    )
    face_fpir: float | None = Field(
        None,
        gt=0,
        le=0.1,
        description="A face door's target share of strangers matched (default PINGAN_FACE_FPIR)",
    )
    face_second_factor: Literal["card", "pin"] | None = Field(
        None, description="Ask a card or a PIN with the face at this door"
    )


class DeviceCreate(DeviceFields):
    code: str = Field(
        pattern=r"^[A-Za-z0-9_-]{3,64}$", description="Unique; MQTT user name and topic"
    )
    name: str = Field(min_length=1, max_length=100)
    kind: DeviceKind
    protocol: Protocol
    node_id: int

    @model_validator(mode="after")
    def _dc09(self) -> DeviceCreate:
        if self.protocol == Protocol.dc09 and not self.sia_account:
            raise ValueError("sia_account is required for a DC-09 panel")
        return self


class DeviceUpdate(DeviceFields):
    pass


class DeviceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    code: str
    name: str
    kind: DeviceKind
    protocol: Protocol
    node_id: int
    vendor: str | None
    model: str | None
    location: str | None
    is_exit: bool = False
    lon: float | None
    lat: float | None
    supervision_s: int
    enabled: bool
    sia_account: str | None
    has_sia_key: bool = False
    sia_require_timestamp: bool | None = None
    has_http_token: bool = False
    has_stream: bool = False
    stream_host: str | None = Field(
        None, description="Where the stream comes from, without its credentials or path"
    )
    face_fpir: float | None = None
    face_second_factor: str | None = None
    status: DeviceStatus
    last_seen_at: datetime | None
    status_changed_at: datetime | None


class DeviceToken(BaseModel):
    device_id: int
    token: str = Field(description="Shown once: the device sends it as `Authorization: Bearer …`")


class MqttCredentials(BaseModel):
    device_id: int
    username: str = Field(description="The device's code: its MQTT user name")
    password: str = Field(description="Shown once: the platform keeps it nowhere")
    password_line: str = Field(
        description="The line for Mosquitto's password_file (PBKDF2-SHA512), then reload it"
    )
    acl: str = Field(description="The acl_file lines that keep every device to its own topics")
