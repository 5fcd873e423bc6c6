"""The gallery: every template of one engine in memory, decrypted once, searched 1:N within a
scope (a site, a community). Kept current by the change log in the database, so several platform
processes agree on who is enrolled: before each search a process reads what changed since.

Exact search with numpy (a matrix product) within a scope; past `PINGAN_FACE_ANN_MIN` templates a
scope larger than EXACT_LIMIT is first narrowed by a faiss IVF index (`pingan bench faces`
prints the figures).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.faces.models import FaceTemplate, GalleryChange, WatchTemplate
from pingan.faces.vault import Vault

EXACT_LIMIT = 20_000  # a scope this small (a site, a community) is always searched exactly
ANN_PROBES = 32
ANN_CANDIDATES = 256


Row = tuple[int, int, str, str | None, bytes]  # template, owner, consent scope, home, vector


def door_admits(door: str, scope: str, home: str | None) -> bool:
    """Whether a template opens a door: the door lies inside the consent's scope, and, for a
    resident (home inside that scope), on the way home — a building's door searches its own
    households, a compound gate the whole compound. A person whose home lies outside the scope
    (staff granted a site) passes every door of it."""
    if not door.startswith(scope):
        return False
    resident = home is not None and home.startswith(scope)
    return not resident or bool(home and home.startswith(door))


@dataclass(frozen=True)
class Ranked:
    person_id: int  # the owner of the row
    row: int  # which of the scored rows is their best
    score: float


def rank_people(scores: np.ndarray, owners: np.ndarray, *, limit: int) -> list[Ranked]:
    """People best first, each scored by their best template: `scores` of the rows searched,
    `owners` the person of each row. Doors, cameras, search and `pingan faces eval` alike."""
    wanted = limit * 6  # at most five templates a person
    if scores.size > wanted:
        top = np.argpartition(-scores, wanted)[:wanted]
        order = top[np.argsort(-scores[top])]
    else:
        order = np.argsort(-scores)
    best: dict[int, Ranked] = {}
    for k in order:
        person = int(owners[k])
        if person not in best:
            best[person] = Ranked(person, int(k), float(scores[k]))
            if len(best) >= limit:
                break
    return list(best.values())


@dataclass(frozen=True)
class Match:
    person_id: int  # the owner: a person (people's gallery) or a watch entry (the blocked list)
    template_id: int
    score: float


class Gallery:
    def __init__(
        self,
        engine_id: str,
        dim: int,
        vault: Vault,
        source: str = "people",
        ann_min: int = 100_000,
    ) -> None:
        self.ann_min = ann_min  # past this many templates, large scopes are searched by faiss
        self._ann: Any = None
        self.source = source  # "people": enrolled with consent; "watch": the blocked list
        self.engine_id = engine_id
        self.dim = dim
        self.vault = vault
        self._lock = threading.Lock()
        self._ids = np.zeros(0, dtype=np.int64)
        self._people = np.zeros(0, dtype=np.int64)
        self._paths: list[str] = []
        self._homes: list[str | None] = []
        self._matrix = np.zeros((0, dim), dtype=np.float32)
        self._seen_change = -1  # nothing loaded yet
        self._seen_at: datetime | None = None
        self._scopes: dict[str, np.ndarray] = {}
        self._blocks: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._ids)

    def _rows(self, session: Session, ids: list[int] | None) -> list[Row]:
        if self.source == "watch":
            stmt = select(
                WatchTemplate.id, WatchTemplate.entry_id, WatchTemplate.path, WatchTemplate.vector
            ).where(WatchTemplate.engine == self.engine_id)
            if ids is not None:
                stmt = stmt.where(WatchTemplate.id.in_(ids))
            return [(i, p, path, None, v) for i, p, path, v in session.execute(stmt)]
        people = select(
            FaceTemplate.id,
            FaceTemplate.person_id,
            FaceTemplate.path,
            FaceTemplate.home_path,
            FaceTemplate.vector,
        ).where(FaceTemplate.engine == self.engine_id)
        if ids is not None:
            people = people.where(FaceTemplate.id.in_(ids))
        return [(i, p, path, home, v) for i, p, path, home, v in session.execute(people)]

    def _add(self, rows: list[Row]) -> None:
        if not rows:
            return
        self._scopes.clear()
        self._blocks.clear()
        known = set(self._ids.tolist())
        rows = sorted((r for r in rows if r[0] not in known), key=lambda r: r[0])
        vectors = (
            np.stack([np.frombuffer(self.vault.open(r[4]), dtype=np.float32) for r in rows])
            if rows
            else np.zeros((0, self.dim), dtype=np.float32)
        )
        self._ids = np.concatenate([self._ids, np.array([r[0] for r in rows], dtype=np.int64)])
        self._people = np.concatenate(
            [self._people, np.array([r[1] for r in rows], dtype=np.int64)]
        )
        self._paths.extend(r[2] for r in rows)
        self._homes.extend(r[3] for r in rows)
        self._matrix = np.concatenate([self._matrix, vectors.reshape(-1, self.dim)])
        if len(self._ids) > 1 and not bool(np.all(self._ids[1:] > self._ids[:-1])):
            order = np.argsort(self._ids)  # kept in id order: positions are found by bisection
            self._ids, self._people, self._matrix = (
                self._ids[order],
                self._people[order],
                self._matrix[order],
            )
            self._paths = [self._paths[i] for i in order]
            self._homes = [self._homes[i] for i in order]
            self._ann = None
        elif self._ann is not None and rows:
            self._ann.add_with_ids(np.ascontiguousarray(vectors), self._ids[-len(rows) :])

    def _remove(self, ids: set[int]) -> None:
        self._scopes.clear()
        self._blocks.clear()
        keep = ~np.isin(self._ids, list(ids))
        self._ids, self._people, self._matrix = (
            self._ids[keep],
            self._people[keep],
            self._matrix[keep],
        )
        self._paths = [p for p, k in zip(self._paths, keep, strict=True) if k]
        self._homes = [h for h, k in zip(self._homes, keep, strict=True) if k]
        if self._ann is not None and ids:
            self._ann.remove_ids(np.array(sorted(ids), dtype=np.int64))

    def refresh(self, session: Session) -> None:
        """Load everything the first time; afterwards apply what the change log says. A log that
        no longer holds the last change seen (a restored backup) means loading all again."""
        mine = GalleryChange.gallery == self.source
        latest = session.execute(
            select(GalleryChange.id, GalleryChange.at)
            .where(mine)
            .order_by(GalleryChange.id.desc())
            .limit(1)
        ).first()
        latest_id, latest_at = (latest[0], latest[1]) if latest else (0, None)
        with self._lock:
            if (latest_id, latest_at) == (self._seen_change, self._seen_at):
                return
            seen_still = (
                self._seen_change > 0
                and session.scalar(
                    select(GalleryChange.at).where(GalleryChange.id == self._seen_change)
                )
                == self._seen_at
            )
            if self._seen_change < 0 or not seen_still or latest_id < self._seen_change:
                self._clear()
                self._add(self._rows(session, None))
            else:
                changes = session.execute(
                    select(GalleryChange.template_id, GalleryChange.added)
                    .where(mine, GalleryChange.id > self._seen_change)
                    .order_by(GalleryChange.id)
                ).all()
                final: dict[int, bool] = {}
                for template_id, added in changes:
                    final[template_id] = added
                self._remove(set(final))  # a changed template (its home moved) is read again
                self._add(self._rows(session, [t for t, added in final.items() if added]))
            self._seen_change, self._seen_at = latest_id, latest_at
            self._scopes.clear()
            self._blocks.clear()

    def _clear(self) -> None:
        self._ann = None
        self._ids = np.zeros(0, dtype=np.int64)
        self._people = np.zeros(0, dtype=np.int64)
        self._paths = []
        self._homes = []
        self._matrix = np.zeros((0, self.dim), dtype=np.float32)

    def _submatrix(self, path: str, rows: np.ndarray) -> np.ndarray:
        """A scope's templates side by side, kept until the gallery changes: a door's search
        reads only its own site's rows."""
        if path not in self._blocks:
            self._blocks[path] = np.ascontiguousarray(self._matrix[rows])
        return self._blocks[path]

    def _scope(self, path: str | None, door: bool = False) -> np.ndarray:
        key = f"door:{path}" if door else str(path)
        if path is None:
            return np.arange(len(self._ids))
        if key not in self._scopes:
            if door:
                rows = [
                    i
                    for i, (p, home) in enumerate(zip(self._paths, self._homes, strict=True))
                    if door_admits(path, p, home)
                ]
            else:
                rows = [
                    i for i, p in enumerate(self._paths) if p.startswith(path) or path.startswith(p)
                ]
            self._scopes[key] = np.array(rows, dtype=np.int64)
        return self._scopes[key]

    def size(self, session: Session, *, at: str, door: bool = True) -> tuple[int, int]:
        """How many templates, and of how many people, a search at this place compares with."""
        self.refresh(session)
        with self._lock:
            rows = self._scope(at, door)
            return int(rows.size), int(np.unique(self._people[rows]).size)

    def _ann_candidates(self, query: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Rows worth scoring exactly, found by an approximate index (faiss IVF): a large
        gallery searched across a large scope. Built on first need, rebuilt after changes."""
        import faiss

        if self._ann is None:
            lists = int(min(1024, max(16, np.sqrt(len(self._ids)) * 2)))
            quantiser = faiss.IndexFlatIP(self.dim)
            index = faiss.IndexIVFFlat(quantiser, self.dim, lists, faiss.METRIC_INNER_PRODUCT)
            sample = self._matrix[:: max(1, len(self._matrix) // (lists * 60))]
            index.train(np.ascontiguousarray(sample))
            # By template id: enrolments and deletions are applied to it as they happen.
            index.add_with_ids(np.ascontiguousarray(self._matrix), self._ids)
            index.nprobe = ANN_PROBES
            self._ann = index
        _scores, found = self._ann.search(query.reshape(1, -1), ANN_CANDIDATES)
        ids = found[0][found[0] >= 0]
        positions: np.ndarray = np.searchsorted(self._ids, ids)
        if rows.size == len(self._ids):
            return positions
        inside = np.zeros(len(self._ids), dtype=bool)  # cheap next to sorting a million rows
        inside[rows] = True
        kept: np.ndarray = positions[inside[positions]]
        return kept

    def search(
        self,
        session: Session,
        vector: np.ndarray,
        *,
        within: str | None,
        limit: int = 5,
        door: bool = False,
    ) -> list[Match]:
        """The best matches, one per person, best first, among templates valid at `within`.

        A template enrolled for a site is valid at that site and everywhere under it; one
        enrolled for a community is valid at each of its sites too. At a door (`door=True`)
        only the people that door lets in are searched (see door_admits)."""
        self.refresh(session)
        with self._lock:
            rows = self._scope(within, door)
            if not rows.size:
                return []
            query = vector.astype(np.float32)
            if rows.size > EXACT_LIMIT and len(self._ids) >= self.ann_min:
                rows = self._ann_candidates(query, rows)
                scores = self._matrix[rows] @ query
            elif rows.size == len(self._ids):
                scores = self._matrix @ query  # the whole gallery: no copy of it
            elif rows.size <= EXACT_LIMIT and within is not None:
                scores = self._submatrix(f"door:{within}" if door else within, rows) @ query
            else:
                scores = self._matrix[rows] @ query
            ranked = rank_people(scores, self._people[rows], limit=limit)
            return [Match(r.person_id, int(self._ids[rows[r.row]]), r.score) for r in ranked]
