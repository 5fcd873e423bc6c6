"""Watchlists, whose legal basis is public safety rather than consent.

- Blocked list (布控): a wanted or banned person, entered only by the police liaison, each entry
  with its legal basis, case reference and expiry → a P1 alarm with the snapshot when seen.
- Care list (独居老人): an elderly person living alone not seen for N days → a welfare-check
  alarm for the grid officer.
- Dementia list (防走失): a person with dementia seen at an exit gate → an alarm for the guard,
  naming the family to call.
- Strangers: the same unknown face seen K times within T at night → an alert. Unknown faces are
  never named, and kept only as long as the retention settings allow.

Each becomes a `face` event on the pipeline, and the alarm rules raise the alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, utcnow
from pingan.devices.models import Device
from pingan.devices.service import DeviceInfo, info_by_id
from pingan.errors import Conflict, Invalid, NotFound
from pingan.events.pipeline import Incoming
from pingan.faces.analysis import Analysis
from pingan.faces.gallery import Gallery
from pingan.faces.identification import Rule
from pingan.faces.models import (
    GalleryChange,
    Recognition,
    WatchEntry,
    WatchKind,
    WatchTemplate,
)
from pingan.faces.schemas import PhotoResult, WatchIn
from pingan.faces.vault import Vault
from pingan.i18n import N_, phrase
from pingan.territory import service as territory_service
from pingan.territory.models import NodeKind, Person, TerritoryNode, ancestor_path

MAX_BLOCKED_DAYS = 366
PERM: dict[WatchKind, Perm] = {
    WatchKind.blocked: Perm.watch_blocked,
    WatchKind.care: Perm.watch_care,
    WatchKind.dementia: Perm.watch_care,
}


@dataclass(frozen=True)
class Alert:
    """A watchlist hit, on its way to the pipeline as a `face` event of this code."""

    device: DeviceInfo
    code: str  # blocked | dementia_exit | stranger | not_seen
    zone: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def incoming(self, channel: str) -> Incoming:
        return Incoming(
            device=self.device,
            channel=channel,
            kind="face",
            code=self.code,
            zone=self.zone,
            payload=self.payload,
        )


# --- entries ------------------------------------------------------------------------------------


def add(session: Session, *, actor: Principal, data: WatchIn) -> WatchEntry:
    node = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    actor.require(PERM[data.kind], node.path, node.name)
    now = utcnow()
    if data.kind == WatchKind.blocked:
        missing = [
            name
            for name in ("subject", "legal_basis", "case_ref", "expires_at")
            if not getattr(data, name)
        ]
        if missing:
            raise Invalid("watch_blocked_fields", field=missing[0], fields="、".join(missing))
        assert data.expires_at is not None
        if not now < data.expires_at <= now + timedelta(days=MAX_BLOCKED_DAYS):
            raise Invalid("watch_expiry", field="expires_at", days=MAX_BLOCKED_DAYS)
    else:
        if data.person_id is None:
            raise Invalid("watch_person", field="person_id")
        person = territory_service.get_person_visible_or_raise(
            session, actor=actor, person_id=data.person_id
        )
        home = session.get(TerritoryNode, person.node_id)
        if home is None or not home.path.startswith(node.path):
            raise Invalid("consent_scope", field="node_id", name=node.name)
    entry = WatchEntry(
        kind=data.kind,
        node_id=node.id,
        path=node.path,
        person_id=data.person_id if data.kind != WatchKind.blocked else None,
        subject=data.subject,
        legal_basis=data.legal_basis,
        case_ref=data.case_ref,
        expires_at=data.expires_at,
        not_seen_days=(data.not_seen_days or 3) if data.kind == WatchKind.care else None,
        contact=data.contact,
        contact_phone=data.contact_phone,
        created_by=actor.actor,
    )
    session.add(entry)
    session.flush()
    return entry


def visible_or_raise(session: Session, *, actor: Principal, entry_id: int) -> WatchEntry:
    entry = session.get(WatchEntry, entry_id)
    what = phrase(N_("名单条目 {n}"), n=entry_id)
    # The blocked list does not exist for those who may not keep it.
    if entry is None or not actor.can(PERM[entry.kind], entry.path):
        raise NotFound(what=what)
    return entry


def entries(session: Session, *, actor: Principal, kind: WatchKind | None) -> list[WatchEntry]:
    kinds = [kind] if kind else list(WatchKind)
    found: list[WatchEntry] = []
    for k in kinds:
        found.extend(
            session.scalars(
                select(WatchEntry)
                .where(WatchEntry.kind == k, actor.filter(WatchEntry.path, PERM[k]))
                .order_by(WatchEntry.id)
            )
        )
    return found


def add_photos(
    session: Session,
    *,
    entry: WatchEntry,
    photos: list[tuple[str, Analysis]],
    engine_id: str,
    vault: Vault,
) -> list[PhotoResult]:
    if entry.kind != WatchKind.blocked:
        raise Conflict("watch_photos", field="kind")
    if entry.ended_at is not None:
        raise Conflict("watch_ended", field="entry")
    results = []
    for name, analysis in photos:
        refusal = analysis.refusal()
        if refusal is not None and refusal[0] != "too_small":  # a case photo is what it is
            results.append(
                PhotoResult(photo=name, accepted=False, reason_key=refusal[0], reason=refusal[1])
            )
            continue
        template = WatchTemplate(
            entry_id=entry.id,
            path=entry.path,
            engine=engine_id,
            vector=vault.seal(analysis.vector),
            photo=vault.seal(analysis.crop),
        )
        session.add(template)
        session.flush()
        session.add(GalleryChange(gallery="watch", template_id=template.id, added=True))
        results.append(PhotoResult(photo=name, accepted=True, template_id=template.id))
    session.flush()
    return results


def end(session: Session, *, entry: WatchEntry, reason: str = "ended") -> None:
    """End an entry: its blocked-list faces are deleted at once."""
    if entry.ended_at is None:
        entry.ended_at = utcnow()
    for template in session.scalars(
        select(WatchTemplate).where(WatchTemplate.entry_id == entry.id)
    ):
        session.delete(template)
        session.add(GalleryChange(gallery="watch", template_id=template.id, added=False))
    session.flush()


def end_expired(session: Session) -> int:
    expired = session.scalars(
        select(WatchEntry).where(
            WatchEntry.kind == WatchKind.blocked,
            WatchEntry.ended_at.is_(None),
            WatchEntry.expires_at < utcnow(),
        )
    ).all()
    for entry in expired:
        end(session, entry=entry)
    return len(expired)


# --- at a sighting ------------------------------------------------------------------------------


def _night(now: datetime, hours: tuple[int, int]) -> bool:
    hour = now.astimezone(SHANGHAI).hour
    start, stop = hours
    return start <= hour < stop if start < stop else hour >= start or hour < stop


def check(
    session: Session,
    *,
    device: DeviceInfo,
    analysis: Analysis,
    person: Person | None,
    recognition: Recognition,
    watch_gallery: Gallery,
    rule: Rule,
    fpir: float,
    vault: Vault,
    night_hours: tuple[int, int],
    stranger_count: int,
    stranger_window: timedelta,
) -> list[Alert]:
    if analysis.faces == 0:
        return []
    now = recognition.at or utcnow()
    alerts: list[Alert] = []
    query = analysis.as_array()
    snapshot = f"/api/v1/faces/recognitions/{recognition.id}/snapshot"
    # The blocked list is searched like a door's gallery: its threshold rises with its size.
    listed, _entries = watch_gallery.size(session, at=device.path, door=False)
    threshold = rule.threshold(listed, fpir)
    for match in watch_gallery.search(session, query, within=device.path, limit=3):
        entry = session.get(WatchEntry, match.person_id)
        if (
            match.score < threshold
            or entry is None
            or entry.ended_at is not None
            or (entry.expires_at is not None and entry.expires_at < now)
        ):
            continue
        recognition.watch_entry_id = entry.id
        alerts.append(
            Alert(
                device,
                "blocked",
                f"w{entry.id}",
                {
                    "entry_id": entry.id,
                    "case_ref": entry.case_ref,
                    "score": round(match.score, 4),
                    "recognition_id": recognition.id,
                    "snapshot": snapshot,
                },
            )
        )
        break
    if person is not None:
        watched = session.scalars(
            select(WatchEntry).where(
                WatchEntry.person_id == person.id, WatchEntry.ended_at.is_(None)
            )
        ).all()
        for entry in watched:
            entry.last_seen_at = now
            if entry.kind == WatchKind.dementia and device.is_exit:
                recognition.watch_entry_id = entry.id
                alerts.append(
                    Alert(
                        device,
                        "dementia_exit",
                        f"w{entry.id}",
                        {
                            "entry_id": entry.id,
                            "contact": entry.contact,
                            "notify_sms": [entry.contact_phone] if entry.contact_phone else [],
                            "recognition_id": recognition.id,
                            "snapshot": snapshot,
                        },
                    )
                )
    elif not alerts and _night(now, night_hours):
        first = _stranger_seen_before(
            session,
            device=device,
            query=query,
            vault=vault,
            rule=rule,
            fpir=fpir,
            since=now - stranger_window,
            exclude=recognition.id,
            needed=stranger_count - 1,
        )
        if first is not None:
            alerts.append(
                Alert(
                    device,
                    "stranger",
                    f"s{first}",  # one alarm for one face: later sightings count on it
                    {"recognition_id": recognition.id, "snapshot": snapshot},
                )
            )
    # The snapshot of a sighting that raised an alarm is shown with the alarm, on the desk.
    recognition.alerted = bool(alerts)
    session.flush()
    return alerts


def _stranger_seen_before(
    session: Session,
    *,
    device: DeviceInfo,
    query: np.ndarray,
    vault: Vault,
    rule: Rule,
    fpir: float,
    since: datetime,
    exclude: int,
    needed: int,
) -> int | None:
    """The first earlier sighting of this unknown face at this site, if it was seen often enough.
    Compared with every unknown sighting of the window: the threshold of that many."""
    site = ancestor_path(device.path, NodeKind.site) or device.path
    rows = session.execute(
        select(Recognition.id, Recognition.vector)
        .where(
            Recognition.person_id.is_(None),
            Recognition.vector.is_not(None),
            Recognition.at >= since,
            Recognition.id != exclude,
            Recognition.path.startswith(site, autoescape=True),
        )
        .order_by(Recognition.id)
    ).all()
    threshold = rule.threshold(len(rows), fpir)
    same = [
        rid
        for rid, blob in rows
        if blob is not None
        and float(np.frombuffer(vault.open(blob), dtype=np.float32) @ query) >= threshold
    ]
    return same[0] if len(same) >= needed else None


def not_seen(session: Session, *, now: datetime | None = None) -> list[Alert]:
    """Care-list people not seen for their N days, once per absence."""
    now = now or utcnow()
    alerts = []
    for entry in session.scalars(
        select(WatchEntry).where(WatchEntry.kind == WatchKind.care, WatchEntry.ended_at.is_(None))
    ):
        last = entry.last_seen_at or entry.created_at
        days = entry.not_seen_days or 3
        if last > now - timedelta(days=days):
            continue
        if entry.last_alerted_at is not None and entry.last_alerted_at >= last:
            continue  # already told for this absence
        device = _device_near(session, entry)
        if device is None:
            continue
        entry.last_alerted_at = now
        alerts.append(
            Alert(
                device,
                "not_seen",
                f"w{entry.id}",
                {"entry_id": entry.id, "person_id": entry.person_id, "days": days},
            )
        )
    session.flush()
    return alerts


def _device_near(session: Session, entry: WatchEntry) -> DeviceInfo | None:
    """A device of the person's own site, to carry the welfare-check alarm to its desks."""
    person = session.get(Person, entry.person_id) if entry.person_id else None
    home = session.get(TerritoryNode, person.node_id) if person else None
    site = ancestor_path(home.path, NodeKind.site) if home else None
    if site is None:
        return None
    device_id = session.scalar(
        select(Device.id)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(Device.enabled, TerritoryNode.path.startswith(site, autoescape=True))
        .order_by(Device.id)
    )
    return info_by_id(session, device_id=device_id) if device_id else None


def seen_by_credential(session: Session, *, person_id: int) -> None:
    """A card or PIN used at a door is a sign of life too."""
    for entry in session.scalars(
        select(WatchEntry).where(WatchEntry.person_id == person_id, WatchEntry.ended_at.is_(None))
    ):
        entry.last_seen_at = utcnow()
