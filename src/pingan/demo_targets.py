"""The demo's targets: the seed's, set by the street — 20 courtyards renovated this year and 150
within three years, an owners' or self-management committee in every commercial-residential
compound by the end of March, 61 back alleys improved within two years, 15,000 volunteers, 20
compounds with shared-bicycle parking, water, power and gas renovated in 8 old courtyards — and
the courtyards with all three basics. What the platform computes is computed; the back alleys
and the bicycle parking are entered month by month with their evidence. The measures that cannot
look back are read at each month's end as the demo's year of inspections passes it."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan import demo_incidents
from pingan.auth.principal import Principal
from pingan.auth.roles import Role
from pingan.db import meta
from pingan.db.base import SHANGHAI, utcnow
from pingan.photos import Document
from pingan.targets import service
from pingan.targets.measures import MEASURES, Span
from pingan.targets.models import Reading, Source, Target
from pingan.targets.schemas import ReadingIn, TargetIn
from pingan.territory.models import NodeKind, TerritoryNode

DONE_KEY = "demo_targets"
SEED = 20260108


@dataclass
class MonthEnds:
    """What the measures that cannot look back read at each month's end, street-wide."""

    session: Session
    values: dict[str, dict[date, float]] = field(default_factory=dict)

    def take(self, day: date) -> None:
        street = self.session.scalar(
            select(TerritoryNode).where(TerritoryNode.kind == NodeKind.street)
        )
        if street is None:
            return
        self.session.flush()
        for key, measure in MEASURES.items():
            if not measure.historic:
                span = Span(street.path, day, day)
                self.values.setdefault(key, {})[day] = measure.compute(self.session, span)


def seed(
    session: Session, *, now: datetime | None = None, month_ends: MonthEnds | None = None
) -> dict[str, int]:
    """Once per demo database: the seed's targets, their trends and entries."""
    if meta.get(session, DONE_KEY):
        return {}
    street = session.scalar(select(TerritoryNode).where(TerritoryNode.kind == NodeKind.street))
    if street is None:
        return {}
    now = now or utcnow()
    today = now.astimezone(SHANGHAI).date()
    year = today.year
    rng = random.Random(SEED)
    office = demo_incidents.staff_of("街道办事处", Role.street_admin, street.path)
    courtyards = MEASURES["courtyards_three_basics"]
    all_courtyards = sum(
        1
        for node in session.scalars(
            select(TerritoryNode).where(
                TerritoryNode.kind == NodeKind.site,
                TerritoryNode.site_type.in_(["old_courtyard", "three_no"]),
            )
        )
    )
    plans = [
        ("今年改造老旧院落", "courtyards_renovated", "个", 0, 20, date(year, 1, 1), date(year, 12, 31)),
        ("三年改造老旧院落", "courtyards_renovated", "个", 0, 150, date(year, 1, 1),
         date(year + 2, 12, 31)),
        ("老旧院落水电气改造", "courtyards_utilities_renovated", "个", 0, 8, date(year - 1, 1, 1),
         date(year, 12, 31)),
        ("老旧、三无院落门卫室、消防、门禁三防齐备", courtyards.key, "个", 0,
         max(all_courtyards, 1), date(year, 1, 1), date(year + 1, 6, 30)),
        ("商住小区业委会或自管会全覆盖", "compounds_with_committee", "%", 45, 100,
         date(year, 1, 1), date(year + 1, 3, 31)),
        ("注册志愿者", "volunteers_registered", "名", 0, 15_000, date(year, 1, 1),
         date(year + 1, 12, 31)),
        ("背街小巷整治", None, "条", 0, 61, date(year, 1, 1), date(year + 1, 12, 31)),
        ("小区共享单车停放点", None, "个", 0, 20, date(year, 1, 1), date(year, 12, 31)),
    ]  # fmt: skip
    definitions = {
        "背街小巷整治": "路面、照明、杆线、占道经营整治完成并经街道验收的背街小巷条数",
        "小区共享单车停放点": "设置共享单车规范停放点并施划停放线的小区数",
    }
    counts = {"targets": 0, "readings": 0, "entries": 0}
    for name, key, unit, baseline, goal, starts, deadline in plans:
        definition = definitions.get(name) or str(MEASURES[key].definition if key else "")
        target = service.create(
            session,
            actor=office,
            data=TargetIn(
                name=name,
                definition=definition,
                unit=unit,
                baseline=baseline,
                target_value=goal,
                starts_on=starts,
                deadline=deadline,
                node_id=street.id,
                measure=key,
            ),
        )
        counts["targets"] += 1
        if key is not None and month_ends is not None:
            for day, value in sorted(month_ends.values.get(key, {}).items()):
                if starts <= day < today:
                    session.add(
                        Reading(
                            target_id=target.id, on=day, source=Source.computed, seq=0, value=value
                        )
                    )
                    counts["readings"] += 1
        if key is None:
            counts["entries"] += _entries(session, rng, office, target, goal, today)
    session.flush()
    meta.put(session, DONE_KEY, now.isoformat())
    return counts


def _entries(
    session: Session,
    rng: random.Random,
    office: Principal,
    target: Target,
    goal: float,
    today: date,
) -> int:
    """A count entered at each month's end so far, each with its acceptance note and, most
    months, a photo of the place."""
    value, made = 0.0, 0
    for day in service.month_ends(target.starts_on, today):
        value += rng.choice([1, 2, 2, 3, 4]) if goal > 30 else rng.choice([0, 1, 1, 2])
        photo = demo_incidents.drawn_photo(target.id * 100 + made, after=True)
        service.enter(
            session,
            actor=office,
            target=target,
            data=ReadingIn(value=value, on=day, note=f"{day.month}月验收单：累计 {value:.0f}"),
            evidence=Document(photo.jpeg, "image/jpeg") if rng.random() < 0.7 else None,
        )
        made += 1
    return made
