"""Faces: consent, templates (encrypted), other ways in (cards, PINs), recognitions.

Face data is sensitive personal information (PIPL art. 28–29): a template is stored only under a
consent of its own, encrypted at rest; withdrawing the consent or moving out deletes it at once.
The audit log records that templates were made or deleted, never the face data itself.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pingan.db.base import Base, TimestampMixin, UTCDateTime, utcnow
from pingan.i18n import N_


class ConsentMethod(enum.StrEnum):
    paper = "paper"  # 纸质签字
    online = "online"  # 居民本人线上确认
    terminal = "terminal"  # 在人脸终端上确认


METHOD_LABEL: dict[ConsentMethod, str] = {
    ConsentMethod.paper: N_("纸质签字"),
    ConsentMethod.online: N_("本人线上确认"),
    ConsentMethod.terminal: N_("终端上确认"),
}


class ConsentPurpose(enum.StrEnum):
    """What a person agrees their face may be used for: each purpose is a consent of its own."""

    door_access = "door_access"  # the site's doors open to their face
    care = "care"  # the care and dementia list: told where they were seen


PURPOSE_LABEL: dict[ConsentPurpose, str] = {
    ConsentPurpose.door_access: N_("小区门禁人脸通行"),
    ConsentPurpose.care: N_("关爱与防走失识别"),
}


class FaceConsent(TimestampMixin, Base):
    """A person's separate consent to face recognition, for one purpose within one scope."""

    __tablename__ = "face_consents"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))  # where face access applies: a site, usually
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(ConsentPurpose, native_enum=False, length=32)
    )
    # The 2025 rules keep face data on the device unless the person separately agrees otherwise.
    central_storage: Mapped[bool] = mapped_column(Boolean, default=False)
    method: Mapped[ConsentMethod] = mapped_column(Enum(ConsentMethod, native_enum=False, length=16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[str] = mapped_column(String(100))
    guardian_name: Mapped[str | None] = mapped_column(String(50))  # required under 14
    guardian_relation: Mapped[str | None] = mapped_column(String(20))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(100))
    withdraw_reason: Mapped[str | None] = mapped_column(String(200))

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class FaceTemplate(Base):
    """One enrolment photo's embedding; vector and face crop are encrypted with the face key."""

    __tablename__ = "face_templates"
    __audited__ = True
    __audit_exclude__ = frozenset({"vector", "photo"})  # that it exists, never what it is

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("face_consents.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(255))  # the consent's scope, for the gallery
    # The person's home (household) when enrolled: a resident's template opens the doors on the
    # way home only; one whose home lies outside the consent's scope (staff) opens all its doors.
    home_path: Mapped[str | None] = mapped_column(String(255))
    engine: Mapped[str] = mapped_column(String(64))  # templates of two engines are never compared
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    photo: Mapped[bytes] = mapped_column(LargeBinary)  # the aligned face, JPEG, encrypted
    quality: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100))

    def audit_scope_node_id(self) -> int | None:
        return None


class FaceEngineCalibration(Base):
    """An engine's measured rule (open-set thresholds by gallery size, margin, genuine scores;
    `threshold` is one comparison's at FAR 0.1 %), stored with the templates."""

    __tablename__ = "face_engines"

    engine: Mapped[str] = mapped_column(String(64), primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    target_far: Mapped[float] = mapped_column(Float)
    tar: Mapped[float] = mapped_column(Float)  # true-accept rate at the threshold
    genuine_pairs: Mapped[int] = mapped_column(Integer)
    impostor_pairs: Mapped[int] = mapped_column(Integer)
    calibrated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(200))
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # identification.Rule


class GalleryChange(Base):
    """Templates added and removed, in order: every process's index follows this log."""

    __tablename__ = "face_gallery_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gallery: Mapped[str] = mapped_column(String(8), default="people")  # people | watch
    template_id: Mapped[int] = mapped_column(Integer)
    added: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CredentialKind(enum.StrEnum):
    card = "card"  # 门禁卡
    pin = "pin"  # 密码


class Credential(TimestampMixin, Base):
    """A way in that is not a face: nobody is refused for declining face recognition."""

    __tablename__ = "access_credentials"
    __audited__ = True
    __audit_exclude__ = frozenset({"secret_hash"})
    __table_args__ = (Index("ix_access_credentials_lookup", "kind", "secret_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))
    kind: Mapped[CredentialKind] = mapped_column(Enum(CredentialKind, native_enum=False, length=8))
    secret_hash: Mapped[str] = mapped_column(String(64))  # HMAC of the card number or PIN
    hint: Mapped[str] = mapped_column(String(32))  # the last digits, to tell cards apart
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by: Mapped[str] = mapped_column(String(100))

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class Decision(enum.StrEnum):
    grant = "grant"
    deny = "deny"
    seen = "seen"  # a camera saw someone: no door to open


# Why a door or camera decided as it did (Recognition.reason), in words.
REASON_LABEL: dict[str, str] = {
    "face": N_("人脸"),
    "known": N_("已登记居民"),
    "unknown": N_("陌生人"),
    "unsure": N_("无法确定"),
    "no_face": N_("未检测到人脸"),
    "liveness_failed": N_("活体检测未通过"),
    "liveness_unknown": N_("无活体检测结果"),
    "face_and_card": N_("人脸 + 门禁卡"),
    "face_and_pin": N_("人脸 + 密码"),
    "second_factor_required": N_("须同时刷卡或输入密码"),
    "second_factor_mismatch": N_("人脸与卡或密码不符"),
    "credential": N_("门禁卡或密码"),
    "unknown_credential": N_("未知的卡或密码"),
    "expired_or_revoked": N_("卡或密码已过期或作废"),
    "pin_locked": N_("密码错误次数过多，暂停密码开门"),
}


class Recognition(Base):
    """A face seen by a terminal or camera: who (or unknown), how sure, where, what was decided."""

    __tablename__ = "face_recognitions"
    __table_args__ = (Index("ix_face_recognitions_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(255))
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL"), index=True
    )
    score: Mapped[float | None] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(64))
    decision: Mapped[Decision] = mapped_column(Enum(Decision, native_enum=False, length=8))
    reason: Mapped[str] = mapped_column(String(32))
    liveness: Mapped[bool | None] = mapped_column(Boolean)
    thumbnail: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted; for search by photo
    note: Mapped[str | None] = mapped_column(Text)
    watch_entry_id: Mapped[int | None] = mapped_column(
        ForeignKey("watch_entries.id", ondelete="SET NULL")
    )
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)  # it raised an alarm


class WatchKind(enum.StrEnum):
    blocked = "blocked"  # 布控: wanted or banned, entered by the police liaison only
    care = "care"  # 关爱: an elderly person living alone, not seen for N days → welfare check
    dementia = "dementia"  # 防走失: a person with dementia seen at an exit gate


WATCH_LABEL: dict[WatchKind, str] = {
    WatchKind.blocked: N_("布控名单"),
    WatchKind.care: N_("独居老人关爱名单"),
    WatchKind.dementia: N_("防走失名单"),
}


class WatchEntry(TimestampMixin, Base):
    """A person on a watchlist. Its legal basis is public safety, not consent: a blocked entry
    names that basis, a case reference and an expiry."""

    __tablename__ = "watch_entries"
    __audited__ = True

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[WatchKind] = mapped_column(Enum(WatchKind, native_enum=False, length=16))
    node_id: Mapped[int] = mapped_column(ForeignKey("territory_nodes.id", ondelete="RESTRICT"))
    path: Mapped[str] = mapped_column(String(255))  # where it applies
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), index=True
    )  # care and dementia lists: a resident, recognised by their own templates
    subject: Mapped[str | None] = mapped_column(String(100))  # blocked: who is sought
    legal_basis: Mapped[str | None] = mapped_column(String(200))
    case_ref: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    not_seen_days: Mapped[int | None] = mapped_column(Integer)  # care list
    contact: Mapped[str | None] = mapped_column(String(100))  # family to tell (dementia list)
    contact_phone: Mapped[str | None] = mapped_column(String(20))  # told by SMS at once
    created_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def audit_scope_node_id(self) -> int | None:
        return self.node_id


class WatchTemplate(Base):
    """A blocked-list face (no consent: the entry's legal basis), encrypted like all face data."""

    __tablename__ = "watch_templates"
    __audited__ = True
    __audit_exclude__ = frozenset({"vector", "photo"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("watch_entries.id", ondelete="CASCADE"), index=True
    )
    path: Mapped[str] = mapped_column(String(255))
    engine: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    photo: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def audit_scope_node_id(self) -> int | None:
        return None


class FaceNegative(Base):
    """An operator's "not this person": a face that must not match this person again."""

    __tablename__ = "face_negatives"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    recognition_id: Mapped[int | None] = mapped_column(
        ForeignKey("face_recognitions.id", ondelete="SET NULL")
    )
    engine: Mapped[str] = mapped_column(String(64))
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    recorded_by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
