"""Consent, enrolment, other ways in, and recognition at doors and cameras.

No template without a consent of its own; withdrawing it, or moving out, deletes the person's
templates at once (and the gallery of every process drops them). A face is never the only way
in: the same doors take cards and PINs managed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.db.paging import paginate
from pingan.devices.models import DeviceKind
from pingan.devices.service import DeviceInfo
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.events.models import Event
from pingan.events.pipeline import Incoming
from pingan.faces import watch
from pingan.faces.analysis import Analysis
from pingan.faces.calibration import TARGET_FAR, shipped
from pingan.faces.gallery import Gallery
from pingan.faces.identification import MATCH, UNSURE, Identified, Rule, identify
from pingan.faces.models import (
    Credential,
    CredentialKind,
    Decision,
    FaceConsent,
    FaceEngineCalibration,
    FaceNegative,
    FaceTemplate,
    GalleryChange,
    Recognition,
)
from pingan.faces.schemas import ConsentIn, CredentialIn, PhotoResult
from pingan.faces.vault import Vault
from pingan.i18n import N_, phrase
from pingan.territory import service as territory_service
from pingan.territory.models import Person, TerritoryNode

MAX_TEMPLATES = 5
GUARDIAN_AGE = 14
DOORS = {DeviceKind.face_terminal.value, DeviceKind.access_controller.value}


def _person_path(session: Session, person: Person) -> str:
    node = session.get(TerritoryNode, person.node_id)
    assert node is not None
    return node.path


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


# --- consent ------------------------------------------------------------------------------------


def record_consent(
    session: Session, *, actor: Principal, person: Person, data: ConsentIn
) -> FaceConsent:
    path = _person_path(session, person)
    if actor.person_id == person.id:  # a resident consenting for themselves, on their own page
        scope = session.get(TerritoryNode, data.node_id)
        if scope is None:
            raise NotFound(what=phrase(N_("节点 {n}"), n=data.node_id))
    else:
        actor.require(Perm.faces_enrol, path, phrase(N_("人员 {n}"), n=person.id))
        scope = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    if not path.startswith(scope.path):
        raise Invalid("consent_scope", field="node_id", name=scope.name)
    given = data.given_at or utcnow()
    if (
        person.birth_date
        and _age(person.birth_date, given.date()) < GUARDIAN_AGE
        and not (data.guardian_name and data.guardian_relation)
    ):
        raise Invalid("guardian_required", field="guardian_name")
    consent = FaceConsent(
        person_id=person.id,
        node_id=scope.id,
        path=scope.path,
        purpose=data.purpose,
        central_storage=data.central_storage,
        method=data.method,
        given_at=given,
        recorded_by=actor.actor,
        guardian_name=data.guardian_name,
        guardian_relation=data.guardian_relation,
    )
    session.add(consent)
    session.flush()
    return consent


def consents(session: Session, *, person: Person) -> list[FaceConsent]:
    return list(
        session.scalars(
            select(FaceConsent).where(FaceConsent.person_id == person.id).order_by(FaceConsent.id)
        )
    )


def active_consent(session: Session, *, person_id: int) -> FaceConsent | None:
    return session.scalar(
        select(FaceConsent)
        .where(FaceConsent.person_id == person_id, FaceConsent.withdrawn_at.is_(None))
        .order_by(FaceConsent.id.desc())
    )


def consent_visible_or_raise(session: Session, *, actor: Principal, consent_id: int) -> FaceConsent:
    consent = session.get(FaceConsent, consent_id)
    if consent is None:
        raise NotFound(what=phrase(N_("人脸授权 {n}"), n=consent_id))
    person = session.get(Person, consent.person_id)
    assert person is not None
    if actor.person_id != person.id:  # anyone may withdraw their own consent
        actor.require(
            Perm.faces_enrol,
            _person_path(session, person),
            phrase(N_("人脸授权 {n}"), n=consent_id),
        )
    return consent


def withdraw(
    session: Session, *, consent: FaceConsent, by: str, reason: str | None = None
) -> list[int]:
    """Withdraw a consent: the person's templates under it are deleted now. Returns their ids."""
    if consent.withdrawn_at is not None:
        raise Conflict("consent_withdrawn", field="consent")
    consent.withdrawn_at = utcnow()
    consent.withdrawn_by = by
    consent.withdraw_reason = reason
    return delete_templates(session, person_id=consent.person_id, consent_id=consent.id)


def delete_templates(
    session: Session, *, person_id: int, consent_id: int | None = None
) -> list[int]:
    stmt = select(FaceTemplate).where(FaceTemplate.person_id == person_id)
    if consent_id is not None:
        stmt = stmt.where(FaceTemplate.consent_id == consent_id)
    gone = []
    for template in session.scalars(stmt):
        gone.append(template.id)
        session.delete(template)  # audited as a deletion; vector and photo never enter the log
        session.add(GalleryChange(template_id=template.id, added=False))
    session.flush()
    return gone


@event.listens_for(Session, "before_flush")
def _moving_out(session: Session, _context: Any, _instances: Any) -> None:
    """A person deleted, or moved out of their consent's scope, loses their face data at once."""
    for obj in list(session.deleted):
        if isinstance(obj, Person) and obj.id is not None:
            for template in session.scalars(
                select(FaceTemplate).where(FaceTemplate.person_id == obj.id)
            ):
                session.delete(template)
                session.add(GalleryChange(template_id=template.id, added=False))
    for obj in list(session.dirty):
        if not isinstance(obj, Person) or obj.id is None:
            continue
        if not inspect(obj).attrs.node_id.history.has_changes():
            continue
        node = session.get(TerritoryNode, obj.node_id)
        if node is None:
            continue
        for consent in session.scalars(
            select(FaceConsent).where(
                FaceConsent.person_id == obj.id, FaceConsent.withdrawn_at.is_(None)
            )
        ):
            moved_out = not node.path.startswith(consent.path)
            if moved_out:
                consent.withdrawn_at = utcnow()
                consent.withdrawn_by = "system"
                consent.withdraw_reason = N_("迁出授权范围")
            for template in session.scalars(
                select(FaceTemplate).where(FaceTemplate.consent_id == consent.id)
            ):
                if moved_out:
                    session.delete(template)
                else:  # moved within the scope: the doors on the way to the new home
                    template.home_path = node.path
                session.add(GalleryChange(template_id=template.id, added=not moved_out))


# --- enrolment ----------------------------------------------------------------------------------


def templates(session: Session, *, person_id: int) -> list[FaceTemplate]:
    return list(
        session.scalars(
            select(FaceTemplate)
            .where(FaceTemplate.person_id == person_id)
            .order_by(FaceTemplate.id)
        )
    )


def enrol(
    session: Session,
    *,
    actor: Principal,
    person: Person,
    photos: list[tuple[str, Analysis]],
    engine_id: str,
    vault: Vault,
) -> list[PhotoResult]:
    """Enrol 1–5 photos; each refused photo says why. Needs a consent that lets the platform
    hold the template (the person agreed separately to central storage)."""
    if actor.person_id != person.id:  # residents may enrol their own face
        actor.require(
            Perm.faces_enrol, _person_path(session, person), phrase(N_("人员 {n}"), n=person.id)
        )
    if not 1 <= len(photos) <= MAX_TEMPLATES:
        raise Invalid("photo_count", field="photos", most=MAX_TEMPLATES)
    consent = active_consent(session, person_id=person.id)
    if consent is None:
        raise Conflict("consent_required", field="consent")
    if not consent.central_storage:
        raise Conflict("consent_device_only", field="consent")
    have = len(templates(session, person_id=person.id))
    results = []
    for name, analysis in photos:
        refusal = analysis.refusal()
        if refusal is None and have >= MAX_TEMPLATES:
            refusal = ("too_many", N_("每人最多 5 张人脸照片，请先删除旧的"))
        quality = {
            "eye_distance": round(analysis.eye_distance, 1),
            "sharpness": round(analysis.sharpness, 1),
            "yaw": round(analysis.yaw, 3),
            "score": round(analysis.score, 3),
            "faces": analysis.faces,
        }
        if refusal is not None:
            results.append(
                PhotoResult(
                    photo=name,
                    accepted=False,
                    reason_key=refusal[0],
                    reason=refusal[1],
                    quality=quality,
                )
            )
            continue
        template = FaceTemplate(
            person_id=person.id,
            consent_id=consent.id,
            path=consent.path,
            home_path=_person_path(session, person),
            engine=engine_id,
            vector=vault.seal(analysis.vector),
            photo=vault.seal(analysis.crop),
            quality=quality,
            created_by=actor.actor,
        )
        session.add(template)
        session.flush()
        session.add(GalleryChange(template_id=template.id, added=True))
        have += 1
        results.append(
            PhotoResult(photo=name, accepted=True, template_id=template.id, quality=quality)
        )
    session.flush()
    return results


def rule_for(session: Session, *, engine_id: str) -> Rule:
    """The engine's measured rule: as stored with the templates (`pingan faces calibrate` on a
    deployment's own photos), else as shipped."""
    row = session.get(FaceEngineCalibration, engine_id)
    if row is not None and row.rule:
        return Rule.from_json(row.rule)
    known = shipped().get(engine_id)
    if known is None:
        raise Conflict("engine_uncalibrated", field="engine", engine=engine_id)
    return known


def store_rule(session: Session, *, rule: Rule) -> FaceEngineCalibration:
    row = session.get(FaceEngineCalibration, rule.engine) or FaceEngineCalibration(
        engine=rule.engine
    )
    row.threshold, row.target_far = rule.verification, TARGET_FAR
    row.tar = float(rule.extra.get("tar_at_far_1e-3", 0.0))
    row.genuine_pairs = int(rule.extra.get("genuine_pairs", 0))
    row.impostor_pairs = rule.impostor_pairs
    row.source, row.rule, row.calibrated_at = rule.source, rule.as_json(), utcnow()
    return session.merge(row)


# --- cards and PINs -----------------------------------------------------------------------------


def issue_credential(
    session: Session, *, actor: Principal, person: Person, data: CredentialIn, vault: Vault
) -> Credential:
    path = _person_path(session, person)
    actor.require(Perm.faces_enrol, path, phrase(N_("人员 {n}"), n=person.id))
    scope = territory_service.get_visible_or_raise(session, actor=actor, node_id=data.node_id)
    if not path.startswith(scope.path):
        raise Invalid("consent_scope", field="node_id", name=scope.name)
    digest = vault.digest(data.kind.value, data.secret)
    if data.kind == CredentialKind.card and session.scalar(
        select(Credential.id).where(
            Credential.kind == CredentialKind.card,
            Credential.secret_hash == digest,
            Credential.revoked_at.is_(None),
        )
    ):
        raise Conflict("conflict", field="secret", reason=N_("卡号已发给他人"))
    credential = Credential(
        person_id=person.id,
        node_id=scope.id,
        path=scope.path,
        kind=data.kind,
        secret_hash=digest,
        hint=("****" + data.secret[-4:]) if data.kind == CredentialKind.card else "******",
        expires_at=data.expires_at,
        issued_by=actor.actor,
    )
    session.add(credential)
    session.flush()
    return credential


def credential_visible_or_raise(
    session: Session, *, actor: Principal, credential_id: int
) -> Credential:
    credential = session.get(Credential, credential_id)
    if credential is None:
        raise NotFound(what=phrase(N_("通行凭证 {n}"), n=credential_id))
    actor.require(Perm.faces_enrol, credential.path, phrase(N_("通行凭证 {n}"), n=credential_id))
    return credential


def credentials(session: Session, *, person: Person) -> list[Credential]:
    return list(
        session.scalars(
            select(Credential).where(Credential.person_id == person.id).order_by(Credential.id)
        )
    )


# --- at the door --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    reason: str
    person: Person | None
    score: float | None
    recognition: Recognition | None
    alerts: list[watch.Alert] = field(default_factory=list)
    threshold: float | None = None  # the threshold this was decided by (gallery size, target)
    identified: Identified | None = None


@dataclass(frozen=True)
class Watching:
    """What recognition needs to check the watchlists."""

    gallery: Gallery
    night_hours: tuple[int, int]
    stranger_count: int
    stranger_window: timedelta


@dataclass(frozen=True)
class SecondFactor:
    """A card or PIN a door asked for, given with the face."""

    kind: CredentialKind
    secret: str


def _valid(credential: Credential, now: datetime) -> bool:
    return credential.revoked_at is None and (
        credential.expires_at is None or credential.expires_at > now
    )


def _credential_here(
    session: Session, *, device: DeviceInfo, kind: CredentialKind, secret: str, vault: Vault
) -> tuple[Credential | None, bool]:
    """The valid credential with this secret at this door, and whether one was here at all."""
    now = utcnow()
    found = session.scalars(
        select(Credential).where(
            Credential.kind == kind, Credential.secret_hash == vault.digest(kind.value, secret)
        )
    ).all()
    here = [c for c in found if device.path.startswith(c.path)]
    valid = [c for c in here if _valid(c, now)]
    return (valid[0] if valid else None), bool(here)


PIN_TRIES = 5  # wrong PINs at one door within PIN_WINDOW, then the door refuses PINs a while
PIN_WINDOW = timedelta(minutes=5)


def _pins_refused(session: Session, *, device: DeviceInfo, now: datetime) -> int:
    """Wrong PINs at this door in the last PIN_WINDOW (from its own door events)."""
    rows = session.scalars(
        select(Event.payload).where(
            Event.device_id == device.id,
            Event.kind == "door",
            Event.code == "access_denied",
            Event.received_at > now - PIN_WINDOW,
        )
    ).all()
    return sum(
        1 for p in rows if (p or {}).get("by") == "pin" and (p or {}).get("reason") != "pin_locked"
    )


def verify_credential(
    session: Session, *, device: DeviceInfo, kind: CredentialKind, secret: str, vault: Vault
) -> Outcome:
    """A card or PIN at a door: valid here (its site or a scope above), not revoked, not expired.
    After PIN_TRIES wrong PINs within PIN_WINDOW the door takes no PIN until the window has
    passed (guessing a six-digit PIN then takes years), and says so with a trouble alarm."""
    if kind == CredentialKind.pin:
        wrong = _pins_refused(session, device=device, now=utcnow())
        if wrong >= PIN_TRIES:
            return Outcome(Decision.deny, "pin_locked", None, None, None)
    credential, here = _credential_here(
        session, device=device, kind=kind, secret=secret, vault=vault
    )
    if credential is not None:
        person = session.get(Person, credential.person_id)
        watch.seen_by_credential(session, person_id=credential.person_id)
        return Outcome(Decision.grant, "credential", person, None, None)
    reason = "expired_or_revoked" if here else "unknown_credential"
    return Outcome(Decision.deny, reason, None, None, None)


def door_fpir(device: DeviceInfo, default: float) -> float:
    return device.face_fpir if device.face_fpir is not None else default


def identify_at(
    session: Session,
    *,
    device: DeviceInfo,
    analysis: Analysis,
    engine_id: str,
    gallery: Gallery,
    vault: Vault,
    rule: Rule,
    fpir: float,
) -> Identified:
    """Who this face is among the people this place searches (a door: those it lets in), by the
    open-set rule for that gallery's size; people an operator said a face like this is not are
    passed over."""
    door = device.kind in DOORS
    query = analysis.as_array()
    templates, _people = gallery.size(session, at=device.path, door=door)
    candidates = gallery.search(session, query, within=device.path, limit=3, door=door)
    rejected = frozenset(
        c.person_id
        for c in candidates
        if _rejected(session, vault, engine_id, c.person_id, query, c.score)
    )
    return identify(candidates, templates=templates, rule=rule, fpir=fpir, exclude=rejected)


def _second_factor_holds(
    session: Session,
    *,
    device: DeviceInfo,
    analysis: Analysis,
    engine_id: str,
    vault: Vault,
    rule: Rule,
    factor: SecondFactor | None,
) -> tuple[Person | None, str, float | None]:
    """Face + card or face + PIN: the credential names who it claims to be, and the face is
    checked against that one person's templates (a single comparison, at FAR 0.1 %)."""
    if factor is None:
        return None, "second_factor_required", None
    credential, _here = _credential_here(
        session, device=device, kind=factor.kind, secret=factor.secret, vault=vault
    )
    if credential is None:
        return None, "unknown_credential", None
    query = analysis.as_array()
    scores = [
        float(np.frombuffer(vault.open(t.vector), dtype=np.float32) @ query)
        for t in templates(session, person_id=credential.person_id)
        if t.engine == engine_id
    ]
    best = max(scores) if scores else None
    if best is None or best < rule.verification:
        return None, "second_factor_mismatch", best
    return session.get(Person, credential.person_id), "face_and_" + factor.kind.value, best


def recognise(
    session: Session,
    *,
    device: DeviceInfo,
    analysis: Analysis,
    engine_id: str,
    gallery: Gallery,
    vault: Vault,
    liveness: bool | None,
    watching: Watching | None = None,
    fpir: float = 0.001,
    second_factor: SecondFactor | None = None,
    identified: Identified | None = None,
    at: datetime | None = None,
) -> Outcome:
    """A face at a terminal or camera: who it is (or unknown), and at a door whether it opens.

    Identification among the people the place searches (identify_at), by the measured open-set
    rule: a door opens by face only for a person enrolled (with consent) for it, matched above
    the threshold of its gallery's size and ahead of the next person by the margin, and only
    when the terminal says its liveness check passed (a photo held up to the camera must not
    open a door). A door set to face + card or face + PIN checks the face against the card's
    owner instead. `identified`: decided already (a camera track, over several frames).
    `at`: when it was seen, if not now (the demo's history)."""
    door = device.kind in DOORS
    rule = rule_for(session, engine_id=engine_id)
    person: Person | None = None
    score: float | None = None
    threshold: float | None = None
    fpir = door_fpir(device, fpir)
    if analysis.faces == 0:
        decision, reason = (Decision.deny if door else Decision.seen), "no_face"
    elif door and device.face_second_factor:
        person, reason, score = _second_factor_holds(
            session,
            device=device,
            analysis=analysis,
            engine_id=engine_id,
            vault=vault,
            rule=rule,
            factor=second_factor,
        )
        threshold = rule.verification
        decision = Decision.grant if person is not None else Decision.deny
    else:
        identified = identified or identify_at(
            session,
            device=device,
            analysis=analysis,
            engine_id=engine_id,
            gallery=gallery,
            vault=vault,
            rule=rule,
            fpir=fpir,
        )
        score, threshold = identified.score, identified.threshold
        if identified.outcome == MATCH and identified.person_id is not None:
            person = session.get(Person, identified.person_id)
        unsure = identified.outcome == UNSURE
        if not door:
            decision = Decision.seen
            reason = "known" if person else ("unsure" if unsure else "unknown")
        elif person is None:
            decision, reason = Decision.deny, "unsure" if unsure else "unknown"
        else:
            decision, reason = Decision.grant, "face"
    if decision == Decision.grant and reason != "credential" and liveness is not True:
        decision = Decision.deny
        reason = "liveness_failed" if liveness is False else "liveness_unknown"
    recognition = Recognition(
        at=at or utcnow(),
        device_id=device.id,
        path=device.path,
        person_id=person.id if person else None,
        score=score,
        engine=engine_id,
        decision=decision,
        reason=reason,
        liveness=liveness,
        thumbnail=vault.seal(analysis.crop) if analysis.crop else None,
        vector=vault.seal(analysis.vector) if analysis.vector else None,
    )
    session.add(recognition)
    session.flush()
    alerts = (
        watch.check(
            session,
            device=device,
            analysis=analysis,
            person=person,
            recognition=recognition,
            watch_gallery=watching.gallery,
            rule=rule,
            fpir=fpir,
            vault=vault,
            night_hours=watching.night_hours,
            stranger_count=watching.stranger_count,
            stranger_window=watching.stranger_window,
        )
        if watching is not None
        else []
    )
    return Outcome(decision, reason, person, score, recognition, alerts, threshold, identified)


def _rejected(
    session: Session, vault: Vault, engine_id: str, person_id: int, query: Any, score: float
) -> bool:
    negatives = session.scalars(
        select(FaceNegative.vector).where(
            FaceNegative.person_id == person_id, FaceNegative.engine == engine_id
        )
    ).all()
    return any(
        float(np.frombuffer(vault.open(blob), dtype=np.float32) @ query) >= score
        for blob in negatives
    )


def not_this_person(
    session: Session, *, actor: Principal, recognition: Recognition
) -> FaceNegative:
    """An operator's correction: this sighting was not the person it was matched to."""
    if recognition.person_id is None or recognition.vector is None:
        raise Conflict("not_matched", field="recognition")
    negative = FaceNegative(
        person_id=recognition.person_id,
        recognition_id=recognition.id,
        engine=recognition.engine,
        vector=recognition.vector,
        recorded_by=actor.actor,
    )
    session.add(negative)
    recognition.note = f"not this person ({actor.actor})"
    recognition.person_id = None
    session.flush()
    return negative


def recognitions(
    session: Session,
    *,
    actor: Principal,
    device_id: int | None = None,
    person_id: int | None = None,
    decision: Decision | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Recognition], int]:
    stmt = select(Recognition).where(actor.filter(Recognition.path, Perm.alarms_read))
    if device_id is not None:
        stmt = stmt.where(Recognition.device_id == device_id)
    if person_id is not None:
        stmt = stmt.where(Recognition.person_id == person_id)
    if decision is not None:
        stmt = stmt.where(Recognition.decision == decision)
    if since is not None:
        stmt = stmt.where(Recognition.at >= since)
    if until is not None:
        stmt = stmt.where(Recognition.at < until)
    return paginate(
        session,
        stmt,
        order_by=(Recognition.at.desc(), Recognition.id.desc()),
        limit=limit,
        offset=offset,
    )


def recognition_visible_or_raise(
    session: Session, *, actor: Principal, recognition_id: int
) -> Recognition:
    """A face record is shown to those who enrol or search faces there, never to all."""
    row = session.get(Recognition, recognition_id)
    what = phrase(N_("识别记录 {n}"), n=recognition_id)
    if row is None or not actor.sees(row.path):
        raise NotFound(what=what)
    allowed = actor.can(Perm.faces_search, row.path) or actor.can(Perm.faces_enrol, row.path)
    # A sighting that raised an alarm is part of that alarm: its desk sees the snapshot.
    if not allowed and not (row.alerted and actor.can(Perm.alarms_read, row.path)):
        raise Forbidden(action=Perm.faces_search.value)
    return row


def masked_name(name: str) -> str:
    """What a door's screen may show: the family name and a star."""
    return name[:1] + "*" * max(1, len(name) - 1)


def events_for(device: DeviceInfo, outcome: Outcome, how: str) -> list[Incoming]:
    """A door's decision is an access event like any other, and a watchlist hit a `face` event:
    both go through the pipeline, where the alarm rules see them."""
    items = [a.incoming("http") for a in outcome.alerts]
    if outcome.reason == "pin_locked":
        items.append(
            Incoming(device=device, channel="http", kind="trouble", code="pin_lockout", payload={})
        )
    if device.kind in DOORS:
        granted = outcome.decision == Decision.grant
        items.append(
            Incoming(
                device=device,
                channel="http",
                kind="door",
                code="access_granted" if granted else "access_denied",
                payload={
                    "by": how,
                    "reason": outcome.reason,
                    "person_id": outcome.person.id if outcome.person else None,
                    "recognition_id": outcome.recognition.id if outcome.recognition else None,
                },
            )
        )
    return items


# --- doors' galleries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DoorFigures:
    """What a face door searches and what it can expect, by the measured rule."""

    device_id: int
    name: str
    path: str
    templates: int
    people: int
    fpir_target: float
    threshold: float
    expected_fpir: float
    expected_fnir: float
    second_factor: str | None
    advice: str | None  # why a card or PIN should be asked with the face here


def door_figures(
    session: Session,
    *,
    device: DeviceInfo,
    gallery: Gallery,
    engine_id: str,
    default_fpir: float,
) -> DoorFigures:
    rule = rule_for(session, engine_id=engine_id)
    templates_here, people = gallery.size(session, at=device.path, door=True)
    fpir = door_fpir(device, default_fpir)
    expect = rule.expect(templates_here, fpir)
    advice = None
    if expect.needs_second_factor and not device.face_second_factor:
        advice = N_(
            "此门的人脸库过大：在误识率 {fpir} 的要求下，预计 {fnir} 的住户会被误拒。"
            "建议改为“人脸 + 门禁卡”或“人脸 + 密码”。"
        )
    return DoorFigures(
        device_id=device.id,
        name=device.name,
        path=device.path,
        templates=templates_here,
        people=people,
        fpir_target=fpir,
        threshold=expect.threshold,
        expected_fpir=expect.expected_fpir,
        expected_fnir=expect.expected_fnir,
        second_factor=device.face_second_factor,
        advice=advice,
    )


def face_doors(session: Session, *, actor: Principal) -> list[DeviceInfo]:
    """The face doors (terminals and controllers) within the actor's scope."""
    from pingan.devices import service as device_service
    from pingan.devices.models import Device

    rows = session.scalars(
        select(Device.id)
        .join(TerritoryNode, TerritoryNode.id == Device.node_id)
        .where(
            Device.kind == DeviceKind.face_terminal,
            Device.enabled,
            actor.filter(TerritoryNode.path, Perm.devices_read),
        )
        .order_by(TerritoryNode.path, Device.id)
    ).all()
    infos = [device_service.info_by_id(session, device_id=i) for i in rows]
    return [i for i in infos if i is not None]


def doors_figures(
    session: Session, *, actor: Principal, gallery: Gallery, engine_id: str, default_fpir: float
) -> list[DoorFigures]:
    """door_figures for every face door in the actor's scope (the API and the devices page)."""
    return [
        door_figures(
            session, device=door, gallery=gallery, engine_id=engine_id, default_fpir=default_fpir
        )
        for door in face_doors(session, actor=actor)
    ]
