"""Open-set identification: which of the people a gallery holds this face is — or nobody.

A door compares a face with every template it may open for, so the chance that a stranger
passes grows with the gallery: a threshold set for one comparison at a false-accept rate of
0.1 % lets most strangers through a gate with thousands of templates. The rule here is measured:
the tail of the impostor score distribution (the share of stranger/template comparisons above a
score) is read off labelled photos, and a door holding N templates with a target false-positive
identification rate (FPIR, the share of strangers matched to anyone) accepts only scores whose
per-comparison false-match rate q satisfies 1 − (1 − q)^N ≤ FPIR. Past the data the tail is
extrapolated log-linearly with the slope of its last measured decade (impostor tails fall
faster than that, so the extrapolation errs towards refusing).

Scores are per person (a person's best template), and the best person must beat the second by
a measured margin, else the answer is "unsure" (a door stays shut). The same `identify` decides
at doors, cameras and in `pingan faces eval`.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

MATCH, UNSURE, UNKNOWN = "match", "unsure", "unknown"
DEFAULT_FPIR = 0.001
ACCEPTABLE_FNIR = 0.05  # past this expected false-reject rate a door is told to add a card or PIN


class Candidate(Protocol):
    @property
    def person_id(self) -> int: ...

    @property
    def score(self) -> float: ...


@dataclass(frozen=True)
class TailRule:
    """Per-comparison false-match rate → score: measured points, then log-linear past them."""

    points: tuple[tuple[float, float], ...]  # (log10 rate, score), rates falling
    slope: float  # score added per decade of rate past the last point

    def score_at(self, rate: float) -> float:
        if rate >= 1.0:
            return -1.0
        log_rate = math.log10(max(rate, 1e-300))
        rates = [p[0] for p in self.points]
        if log_rate >= rates[0]:
            return self.points[0][1]
        if log_rate <= rates[-1]:
            return float(self.points[-1][1] + self.slope * (rates[-1] - log_rate))
        # points fall in rate and rise in score: interpolate between the neighbours
        for (r0, s0), (r1, s1) in zip(self.points, self.points[1:], strict=False):
            if r1 <= log_rate <= r0:
                return s0 + (s1 - s0) * (r0 - log_rate) / (r0 - r1)
        raise AssertionError("unreachable")

    def rate_at(self, score: float) -> float:
        """The inverse: the per-comparison false-match rate of a score."""
        first, last = self.points[0], self.points[-1]
        if score <= first[1]:
            return 10 ** first[0]
        if score >= last[1]:
            return float(10 ** (last[0] - (score - last[1]) / self.slope))
        for (r0, s0), (r1, s1) in zip(self.points, self.points[1:], strict=False):
            if s0 <= score <= s1:
                return float(10 ** (r0 + (r1 - r0) * (score - s0) / ((s1 - s0) or 1e-12)))
        raise AssertionError("unreachable")


def per_comparison_rate(templates: int, fpir: float) -> float:
    """The false-match rate each comparison may have so that N of them stay within fpir."""
    return float(1.0 - (1.0 - fpir) ** (1.0 / max(1, templates)))


@dataclass(frozen=True)
class Expectation:
    """What a door of this gallery size can expect at its target, from the measured rule."""

    templates: int
    fpir_target: float
    threshold: float
    expected_fpir: float
    expected_fnir: float

    @property
    def needs_second_factor(self) -> bool:
        return self.expected_fnir > ACCEPTABLE_FNIR


@dataclass(frozen=True)
class Rule:
    engine: str
    tail: TailRule
    margin: float  # the best person must beat the second by this much
    genuine: tuple[float, ...]  # a person's own best score on a new photo: sorted quantiles
    verification: float  # one comparison at FAR 0.1 %: a face checked against a card's owner
    impostor_pairs: int
    genuine_probes: int
    source: str
    population: str = "all"  # whose impostor tail the rule was measured on
    extra: dict[str, Any] = field(default_factory=dict)

    def threshold(self, templates: int, fpir: float = DEFAULT_FPIR) -> float:
        return round(self.tail.score_at(per_comparison_rate(templates, fpir)), 4)

    def fnir_at(self, threshold: float) -> float:
        """The share of enrolled people's new photos that score below the threshold."""
        if not self.genuine:
            return 0.0
        below = bisect.bisect_left(self.genuine, threshold)
        return below / len(self.genuine)

    def expect(self, templates: int, fpir: float = DEFAULT_FPIR) -> Expectation:
        threshold = self.threshold(templates, fpir)
        rate = self.tail.rate_at(threshold)
        return Expectation(
            templates=templates,
            fpir_target=fpir,
            threshold=threshold,
            expected_fpir=round(1.0 - (1.0 - rate) ** max(1, templates), 6),
            expected_fnir=round(self.fnir_at(threshold), 4),
        )

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["tail"] = {"points": [list(p) for p in self.tail.points], "slope": self.tail.slope}
        data["genuine"] = list(self.genuine)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Rule:
        values = dict(data)
        tail = values.pop("tail")
        return cls(
            tail=TailRule(tuple((float(r), float(s)) for r, s in tail["points"]), tail["slope"]),
            genuine=tuple(float(g) for g in values.pop("genuine")),
            **values,
        )


@dataclass(frozen=True)
class Identified:
    outcome: str  # MATCH, UNSURE or UNKNOWN
    person_id: int | None
    score: float | None  # the best person's score
    second: float | None  # the next person's
    threshold: float
    templates: int  # how many templates were searched


def identify(
    candidates: Sequence[Candidate],
    *,
    templates: int,
    rule: Rule,
    fpir: float = DEFAULT_FPIR,
    exclude: frozenset[int] = frozenset(),
) -> Identified:
    """The decision: candidates are people, best first, each with their best template's score.
    `exclude`: people an operator said this face is not (their score still counts as second)."""
    threshold = rule.threshold(templates, fpir)
    ranked = [c for c in candidates if c.person_id not in exclude]
    best = ranked[0] if ranked else None
    others = [c.score for c in candidates if best is None or c.person_id != best.person_id]
    second = max(others) if others else None
    if best is None or best.score < threshold:
        return Identified(UNKNOWN, None, best.score if best else None, second, threshold, templates)
    if second is not None and best.score - second < rule.margin:
        return Identified(UNSURE, None, best.score, second, threshold, templates)
    return Identified(MATCH, best.person_id, best.score, second, threshold, templates)


def consensus(votes: Sequence[Identified], frames: int) -> Identified | None:
    """A camera track's decision from its frames, each identified on its own: the same person
    matched on the last `frames` frames; nobody matched on `frames` frames; or, after twice as
    many frames without agreement, unsure. None: not decided yet."""
    if len(votes) < frames:
        return None
    last = votes[-frames:]
    people = {v.person_id for v in last}
    if all(v.outcome == MATCH for v in last) and len(people) == 1:
        weakest = min(last, key=lambda v: v.score or 0.0)
        return weakest  # the match as sure as its least sure frame
    if all(v.outcome == UNKNOWN for v in votes):
        return last[-1]
    if len(votes) >= 2 * frames:
        latest = votes[-1]
        return Identified(
            UNSURE, None, latest.score, latest.second, latest.threshold, latest.templates
        )
    return None
