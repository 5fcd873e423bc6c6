"""Measuring the engine on labelled photos: the open-set rule doors decide by (see
identification.py), and `pingan faces eval`'s figures.

Photos come as `<identity>/<photo>` folders; folders whose names start with `_` are not people:
`_no_face` holds photos that must yield no face, `_multi` photos with several faces (each face
found is reported with its best match, not scored). A folder of strangers (distractors: people
not enrolled, one or a few photos each) pads galleries to the sizes doors have and probes them
with faces that must not open them. A MANIFEST.tsv with an `east_asian` column says who is East
Asian: the rule is then measured on the heavier of the two impostor tails, since the people at
a door in China are mostly East Asian and their impostor scores run higher.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from pingan.faces.engine import decode_image
from pingan.faces.gallery import rank_people
from pingan.faces.identification import (
    DEFAULT_FPIR,
    MATCH,
    Rule,
    TailRule,
    identify,
)

TARGET_FAR = 0.001  # one comparison: the face + card check, and the figures' TAR
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MIN_TAIL_COUNT = 20  # impostor scores beyond a measured point of the tail, at the least
REFERENCE_GALLERY = 1000  # the gallery size the margin is measured at
Progress = Callable[[int, int], None]


def labelled_photos(folder: Path) -> list[tuple[str, Path]]:
    """(identity, photo) for every photo in a folder per person; folders starting with _ skipped."""
    return [
        (person.name, photo)
        for person in sorted(folder.iterdir())
        if person.is_dir() and not person.name.startswith("_")
        for photo in sorted(person.iterdir())
        if photo.suffix.lower() in IMAGE_SUFFIXES
    ]


def special_photos(folder: Path, name: str) -> list[Path]:
    sub = folder / name
    if not sub.is_dir():
        return []
    return [p for p in sorted(sub.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]


def populations(folder: Path) -> dict[str, str]:
    """identity → "east_asian" or "other", from the folder's MANIFEST.tsv when it says."""
    manifest = folder / "MANIFEST.tsv"
    if not manifest.is_file():
        return {}
    out: dict[str, str] = {}
    with manifest.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            flag = (row.get("east_asian") or "").strip().lower()
            if row.get("identity") and flag in ("yes", "no"):
                out[row["identity"]] = "east_asian" if flag == "yes" else "other"
    return out


# --- embedding, in worker processes -------------------------------------------------------------

_engine: Any = None


def _start(kind: str, model_dir: str | None) -> None:
    global _engine
    from pingan.faces.analysis import make_engine

    _engine = make_engine(kind, Path(model_dir) if model_dir else None)


def _embed(
    path: str, every_face: bool
) -> tuple[str, list[np.ndarray], list[list[float]], str | None]:
    """The largest face's template (or every face's), with boxes; the reason it failed."""
    from pingan.faces.analysis import analyse_frame_with

    try:
        image = decode_image(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        return path, [], [], str(exc)
    try:
        faces = analyse_frame_with(_engine, image, 0.0)
    except Exception as exc:  # a photo the engine cannot take is reported, never fatal
        return path, [], [], f"{type(exc).__name__}: {exc}"
    if not every_face:
        faces = faces[:1]
    return path, [f.as_array().copy() for f in faces], [list(f.box) for f in faces], None


@dataclass
class Embedded:
    identities: list[str] = field(default_factory=list)  # one per vector
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 512), dtype=np.float32))
    photos: list[str] = field(default_factory=list)
    unreadable: list[dict[str, str]] = field(default_factory=list)
    no_face: list[str] = field(default_factory=list)  # identity photos in which no face was found
    images: int = 0


def embed(
    jobs: list[tuple[str, Path, bool]],
    *,
    kind: str,
    model_dir: Path | None,
    workers: int,
    progress: Progress | None = None,
) -> tuple[dict[str, tuple[str, list[np.ndarray], list[list[float]], str | None]], float]:
    """(label, photo, every face?) → results by path, and the ms per image it took (wall)."""
    out: dict[str, tuple[str, list[np.ndarray], list[list[float]], str | None]] = {}
    started = time.perf_counter()
    with ProcessPoolExecutor(
        max_workers=workers,
        initializer=_start,
        initargs=(kind, str(model_dir) if model_dir else None),
    ) as pool:
        futures = [pool.submit(_embed, str(path), every) for _label, path, every in jobs]
        for n, future in enumerate(futures, 1):
            path, vectors, boxes, error = future.result()
            out[path] = (path, vectors, boxes, error)
            if progress:
                progress(n, len(futures))
    elapsed = time.perf_counter() - started
    return out, 1000 * elapsed * workers / max(1, len(jobs))


def collect(
    photos: list[tuple[str, Path]],
    results: dict[str, tuple[str, list[np.ndarray], list[list[float]], str | None]],
) -> Embedded:
    got = Embedded(images=len(photos))
    vectors = []
    for identity, path in photos:
        _p, found, _boxes, error = results[str(path)]
        if error is not None:
            got.unreadable.append({"photo": str(path), "reason": error})
        elif not found:
            got.no_face.append(str(path))
        else:
            got.identities.append(identity)
            got.photos.append(str(path))
            vectors.append(found[0])
    if vectors:
        got.vectors = np.stack(vectors).astype(np.float32)
    return got


# --- the rule -----------------------------------------------------------------------------------


def _impostor_scores(a: Embedded, b: Embedded | None = None) -> np.ndarray:
    """Scores of every pair of different people (within a, or a against b)."""
    if b is None:
        scores = a.vectors @ a.vectors.T
        names = np.array(a.identities)
        upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
        keep = upper & ~np.equal.outer(names, names)
        within: np.ndarray = scores[keep]
        return within
    scores = a.vectors @ b.vectors.T
    across: np.ndarray = scores[~np.equal.outer(np.array(a.identities), np.array(b.identities))]
    return across.ravel()


def tail_of(impostor: np.ndarray) -> TailRule:
    """Measured points every quarter decade while MIN_TAIL_COUNT scores lie beyond them; the
    slope of the last decade for what lies past."""
    ordered = np.sort(impostor)
    points: list[tuple[float, float]] = []
    for k in range(4, 80):  # 10^-1 … 10^-20
        log_rate = -k / 4
        if 10**log_rate * ordered.size < MIN_TAIL_COUNT:
            break
        points.append((log_rate, float(np.quantile(ordered, 1 - 10**log_rate))))
    if len(points) < 5:
        raise ValueError(
            "too few impostor pairs to measure the tail: add strangers (--distractors)"
        )
    last_rate, last_score = points[-1]
    decade_back = next(p for p in reversed(points) if p[0] >= last_rate + 1)
    slope = (last_score - decade_back[1]) / (decade_back[0] - last_rate)
    return TailRule(tuple((round(r, 3), round(s, 4)) for r, s in points), round(slope, 4))


def _merge(a: Embedded, b: Embedded) -> Embedded:
    out = Embedded(
        identities=[*a.identities, *(f"~{n}" for n in b.identities)],
        photos=[*a.photos, *b.photos],
        images=a.images + b.images,
    )
    out.vectors = np.concatenate([a.vectors, b.vectors]) if b.vectors.size else a.vectors
    return out


def _subset(e: Embedded, keep: list[bool]) -> Embedded:
    out = Embedded(
        identities=[n for n, k in zip(e.identities, keep, strict=True) if k],
        photos=[p for p, k in zip(e.photos, keep, strict=True) if k],
    )
    out.vectors = e.vectors[np.array(keep, dtype=bool)] if e.vectors.size else e.vectors
    return out


def _split(e: Embedded) -> tuple[list[int], list[int]]:
    """Enrolled and probe rows: the first photos of each identity (half, 1 to 3) are enrolled,
    the rest probe."""
    rows: dict[str, list[int]] = {}
    for i, name in enumerate(e.identities):
        rows.setdefault(name, []).append(i)
    enrolled, probes = [], []
    for ids in rows.values():
        k = max(1, min(3, len(ids) // 2))
        enrolled += ids[:k]
        probes += ids[k:]
    return enrolled, probes


@dataclass
class GalleryOf:
    """Templates in memory, searched the way a door searches its own (rank_people)."""

    matrix: np.ndarray
    owners: np.ndarray  # person index per template
    names: list[str]  # person index → identity

    def candidates(self, query: np.ndarray, limit: int = 3) -> list[Any]:
        return rank_people(self.matrix @ query, self.owners, limit=limit)


def gallery_of(
    e: Embedded, rows: list[int], padding: Embedded | None = None, pad: int = 0
) -> GalleryOf:
    names: list[str] = []
    index: dict[str, int] = {}
    owners = []
    vectors = [e.vectors[rows]] if rows else []
    for i in rows:
        owners.append(index.setdefault(e.identities[i], len(index)))
    if padding is not None and pad > 0:
        vectors.append(padding.vectors[:pad])
        for name in padding.identities[:pad]:
            owners.append(index.setdefault(f"~{name}", len(index)))
    for name, _k in sorted(index.items(), key=lambda x: x[1]):
        names.append(name)
    matrix = (
        np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, 512), np.float32)
    )
    return GalleryOf(matrix, np.array(owners, dtype=np.int64), names)


def measure_rule(
    engine_id: str,
    people: Embedded,
    strangers: Embedded | None,
    *,
    groups: dict[str, str] | None = None,
    source: str,
) -> Rule:
    if len(set(people.identities)) < 2:
        raise ValueError("needs photos of at least two people, several of each")
    everyone = _merge(people, strangers) if strangers is not None else people
    impostor = _impostor_scores(everyone)
    tail = tail_of(impostor)
    population = "all"
    if groups:
        # The heavier tail of the East Asian strangers, when there are enough of them.
        east = _subset(
            everyone, [groups.get(n.lstrip("~")) == "east_asian" for n in everyone.identities]
        )
        if len(set(east.identities)) >= 50:
            east_tail = tail_of(_impostor_scores(east))
            if east_tail.score_at(1e-6) > tail.score_at(1e-6):
                tail, population = east_tail, "east_asian"
    genuine_pairs, verification = _verification(people)
    enrolled, probes = _split(people)
    gallery = gallery_of(
        people, enrolled, strangers, max(0, REFERENCE_GALLERY - len(enrolled)) if strangers else 0
    )
    own: list[float] = []
    correct_margins: list[float] = []
    wrong_margins: list[float] = []
    for row in probes:
        ranked = gallery.candidates(people.vectors[row])
        name = people.identities[row]
        mine = [c for c in ranked if gallery.names[c.person_id] == name]
        if mine:
            own.append(mine[0].score)
        if len(ranked) >= 2:
            margin = ranked[0].score - ranked[1].score
            (
                correct_margins if gallery.names[ranked[0].person_id] == name else wrong_margins
            ).append(margin)
    # A margin that stops the rank-1 mistakes seen, unless it would cost more than 1 % of the
    # right answers; never under 0.02.
    cap = float(np.quantile(correct_margins, 0.01)) if correct_margins else 0.05
    seen = max(wrong_margins) + 0.01 if wrong_margins else 0.02
    margin = round(max(0.02, min(seen, cap)), 4)
    quantiles = np.quantile(np.array(own), np.linspace(0, 1, 201)) if own else np.array([])
    return Rule(
        engine=engine_id,
        tail=tail,
        margin=margin,
        genuine=tuple(round(float(q), 4) for q in quantiles),
        verification=round(tail.score_at(TARGET_FAR), 4),  # one comparison, same population
        impostor_pairs=int(impostor.size),
        genuine_probes=len(own),
        source=source,
        population=population,
        extra={"genuine_pairs": genuine_pairs, "tar_at_far_1e-3": verification},
    )


def _verification(people: Embedded) -> tuple[int, float]:
    scores = people.vectors @ people.vectors.T
    names = np.array(people.identities)
    upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
    same = np.equal.outer(names, names)
    genuine, impostor = scores[same & upper], scores[~same & upper]
    threshold = float(np.quantile(impostor, 1 - TARGET_FAR))
    return int(genuine.size), round(float((genuine > threshold).mean()), 4)


# --- shipped and stored rules -------------------------------------------------------------------


def shipped() -> dict[str, Rule]:
    data = json.loads(resources.files("pingan.faces").joinpath("calibration.json").read_text())
    return {engine: Rule.from_json(values) for engine, values in data.items()}


def to_json(rules: dict[str, Rule]) -> str:
    return json.dumps({k: v.as_json() for k, v in rules.items()}, ensure_ascii=False, indent=1)


# --- eval ---------------------------------------------------------------------------------------


def _tar_at(people: Embedded, far: float) -> float:
    scores = people.vectors @ people.vectors.T
    names = np.array(people.identities)
    upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
    same = np.equal.outer(names, names)
    genuine, impostor = scores[same & upper], scores[~same & upper]
    if impostor.size * far < 1 or not genuine.size:
        return float("nan")
    return round(float((genuine > np.quantile(impostor, 1 - far)).mean()), 4)


def evaluate(
    people: Embedded,
    strangers: Embedded | None,
    *,
    rule: Rule,
    sizes: list[int],
    fpir: float = DEFAULT_FPIR,
    no_face: dict[str, Any] | None = None,
    multi: list[dict[str, Any]] | None = None,
    ms_per_image: float,
) -> dict[str, Any]:
    enrolled, probes = _split(people)
    plain = gallery_of(people, enrolled)
    rank1 = [
        bool(r) and plain.names[r[0].person_id] == people.identities[row]
        for row in probes
        for r in [plain.candidates(people.vectors[row], limit=1)]
    ]
    open_set = []
    first_rows: list[int] = []
    if strangers is not None:
        seen: set[str] = set()
        for i, name in enumerate(strangers.identities):
            if name not in seen:
                seen.add(name)
                first_rows.append(i)
    for size in sizes:
        pad = max(0, size - len(enrolled))
        padded = first_rows[:pad]
        if strangers is not None:
            chosen = set(padded)
            pad_names = {strangers.identities[i] for i in padded}
            pad_set = _subset(strangers, [i in chosen for i in range(len(strangers.identities))])
            probe_rows = [i for i, n in enumerate(strangers.identities) if n not in pad_names]
        else:
            pad_set, probe_rows = None, []
        gallery = gallery_of(people, enrolled, pad_set, len(padded))
        templates = len(gallery.matrix)
        if templates < size:
            open_set.append(
                {"gallery_templates": size, "skipped": f"only {templates} templates to enrol"}
            )
            continue
        missed = 0
        for row in probes:
            decided = identify(
                gallery.candidates(people.vectors[row]), templates=templates, rule=rule, fpir=fpir
            )
            right = (
                decided.outcome == MATCH
                and gallery.names[decided.person_id or 0] == people.identities[row]
            )
            missed += not right
        false_pos = 0
        for row in probe_rows:
            assert strangers is not None
            decided = identify(
                gallery.candidates(strangers.vectors[row]),
                templates=templates,
                rule=rule,
                fpir=fpir,
            )
            false_pos += decided.outcome == MATCH
        expect = rule.expect(templates, fpir)
        open_set.append(
            {
                "gallery_templates": templates,  # the enrolled alone may be more than asked
                "threshold": expect.threshold,
                "fpir": round(false_pos / len(probe_rows), 5) if probe_rows else None,
                "fnir": round(missed / len(probes), 4) if probes else None,
                "strangers": len(probe_rows),
                "genuine_probes": len(probes),
                "expected_fpir": expect.expected_fpir,
                "expected_fnir": expect.expected_fnir,
            }
        )
    return {
        "identities": len(set(people.identities)),
        "probes": len(probes),
        "tar_at_far_1e-3": _tar_at(people, 1e-3),
        "tar_at_far_1e-4": _tar_at(people, 1e-4),
        "rank1": round(float(np.mean(rank1)), 4) if rank1 else None,
        "open_set": open_set,
        "threshold_rule": {
            "engine": rule.engine,
            "fpir_target": fpir,
            "margin": rule.margin,
            "population": rule.population,
            "slope_per_decade": rule.tail.slope,
            "measured_to_rate": 10 ** rule.tail.points[-1][0],
            "thresholds": {
                str(n): rule.threshold(n, fpir) for n in (1, 100, 1000, 3000, 10000, 100000)
            },
            "source": rule.source,
        },
        "no_face": no_face or {},
        "multi": multi or [],
        "unreadable": people.unreadable + (strangers.unreadable if strangers else []),
        "ms_per_image": round(ms_per_image, 1),
    }


def workers_default() -> int:
    return max(1, min(4, os.cpu_count() or 1))
