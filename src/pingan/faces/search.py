"""Search by photo: "where has this person been seen". For roles with faces:search only, inside
their scope, with a stated reason; every search lands in the audit log with what it returned."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth import audit
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.errors import Forbidden, Invalid
from pingan.faces.analysis import Analysis
from pingan.faces.gallery import Gallery
from pingan.faces.identification import Rule
from pingan.faces.models import Recognition
from pingan.faces.vault import Vault
from pingan.territory.models import Person, TerritoryNode

MIN_REASON = 4
MAX_SIGHTINGS = 200


@dataclass(frozen=True)
class Enrolled:
    person_id: int
    name: str
    score: float


@dataclass(frozen=True)
class Sighting:
    recognition_id: int
    at: datetime
    device_id: int
    path: str
    person_id: int | None
    score: float


@dataclass(frozen=True)
class Found:
    enrolled: list[Enrolled]
    sightings: list[Sighting]
    threshold: float


def search(
    session: Session,
    *,
    actor: Principal,
    analysis: Analysis,
    gallery: Gallery,
    rule: Rule,
    fpir: float,
    vault: Vault,
    reason: str,
    within: TerritoryNode | None,
) -> Found:
    """Candidates for a person to review: each scope's enrolled people above the open-set
    threshold of that scope's size, sightings above the threshold of how many were compared."""
    scopes = actor.paths(Perm.faces_search) if not actor.system else ["/"]
    if not scopes:
        raise Forbidden(action=Perm.faces_search.value)
    if len(reason.strip()) < MIN_REASON:
        raise Invalid("reason_required", field="reason")
    if analysis.faces == 0:
        raise Invalid("bad_photo", field="photo", photo="photo", reason="no face")
    if within is not None:
        actor.require(Perm.faces_search, within.path, within.name)
        scopes = [within.path]
    query = analysis.as_array()
    enrolled: list[Enrolled] = []
    thresholds = []
    for scope in scopes:
        templates, _people = gallery.size(session, at=scope, door=False)
        threshold = rule.threshold(templates, fpir)
        thresholds.append(threshold)
        for match in gallery.search(session, query, within=scope, limit=10):
            if match.score >= threshold and match.person_id not in {e.person_id for e in enrolled}:
                person = session.get(Person, match.person_id)
                if person is not None:
                    enrolled.append(Enrolled(person.id, person.name, round(match.score, 4)))
    sightings: list[Sighting] = []
    stmt = select(Recognition).where(
        Recognition.vector.is_not(None), Recognition.engine == gallery.engine_id
    )
    stmt = stmt.where(actor.filter(Recognition.path, Perm.faces_search))
    if within is not None:
        stmt = stmt.where(Recognition.path.startswith(within.path, autoescape=True))
    rows = session.scalars(stmt.order_by(Recognition.at.desc())).all()
    seen_threshold = rule.threshold(len(rows), fpir)
    for row in rows:
        assert row.vector is not None
        score = float(np.frombuffer(vault.open(row.vector), dtype=np.float32) @ query)
        if score >= seen_threshold:
            sightings.append(
                Sighting(row.id, row.at, row.device_id, row.path, row.person_id, round(score, 4))
            )
            if len(sightings) >= MAX_SIGHTINGS:
                break
    audit.record(
        session,
        action="face_search",
        entity="faces",
        scope_path=within.path if within else (scopes[0] if len(scopes) == 1 else None),
        note=reason.strip(),
        after={
            "reason": reason.strip(),
            "within": within.id if within else None,
            "enrolled": [e.person_id for e in enrolled],
            "sightings": [s.recognition_id for s in sightings],
        },
    )
    return Found(enrolled, sightings, max(thresholds, default=seen_threshold))
