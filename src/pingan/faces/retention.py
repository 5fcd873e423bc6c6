"""How long face data is kept, and how much of it is held.

Recognition snapshots go after `PINGAN_FACE_SNAPSHOT_DAYS` (30); everything of an unknown face
(the record, its crop and its template) after `PINGAN_FACE_UNKNOWN_DAYS` (7). The count of people
with face data per street is watched: the 2025 rules oblige an operator holding face data of
100,000 people to file with the provincial regulator within 30 working days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result, delete, select, update
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import utcnow
from pingan.faces.models import FaceTemplate, Recognition
from pingan.territory.models import NodeKind, TerritoryNode, ancestor_path

FILING_THRESHOLD = 100_000
WARN_SHARE = 0.9


@dataclass(frozen=True)
class Purged:
    snapshots: int
    unknown: int


def purge(session: Session, *, snapshot_days: int, unknown_days: int) -> Purged:
    now = utcnow()
    unknown = _count(
        session.execute(
            delete(Recognition).where(
                Recognition.person_id.is_(None), Recognition.at < now - timedelta(days=unknown_days)
            )
        )
    )
    snapshots = _count(
        session.execute(
            update(Recognition)
            .where(
                Recognition.at < now - timedelta(days=snapshot_days),
                (Recognition.thumbnail.is_not(None)) | (Recognition.vector.is_not(None)),
            )
            .values(thumbnail=None, vector=None)
        )
    )
    return Purged(snapshots=snapshots, unknown=unknown)


def _count(result: Result[Any]) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


@dataclass(frozen=True)
class Holding:
    street_id: int
    street: str
    people: int
    threshold: int
    warning: bool


def holdings(session: Session, *, actor: Principal) -> list[Holding]:
    """People with face templates, per street, against the filing threshold."""
    rows = session.execute(select(FaceTemplate.person_id, FaceTemplate.path).distinct()).all()
    people_at: dict[str, set[int]] = {}
    for person_id, path in rows:
        people_at.setdefault(ancestor_path(path, NodeKind.street) or path, set()).add(person_id)
    per_street = {street: len(people) for street, people in people_at.items()}
    streets = session.execute(
        select(TerritoryNode.id, TerritoryNode.name, TerritoryNode.path).where(
            TerritoryNode.kind == NodeKind.street,
            actor.filter(TerritoryNode.path, Perm.territory_read),
        )
    ).all()
    return [
        Holding(
            street_id=node_id,
            street=name,
            people=per_street.get(path, 0),
            threshold=FILING_THRESHOLD,
            warning=per_street.get(path, 0) >= WARN_SHARE * FILING_THRESHOLD,
        )
        for node_id, name, path in streets
    ]
