"""What the platform can count for a target by itself. Each measure reads other domains through
their services, inside the target's node (the street or a community); a counting measure counts
from the target's first day. `historic` measures can be computed for a past day (a new target's
trend is filled back from its first day); the others are what the register says now, and their
trend is the daily readings from the day the target was set."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from pingan.auth.principal import SYSTEM
from pingan.db.base import day_start
from pingan.facilities import renovation
from pingan.facilities import service as facility_service
from pingan.i18n import N_
from pingan.volunteers import service as volunteer_service


@dataclass(frozen=True)
class Span:
    within: str  # the target's node path
    since: date  # the target's first day
    until: date  # the day the value is for


@dataclass(frozen=True)
class Measure:
    key: str
    name: str  # N_
    definition: str  # N_: what is counted, as the targets page says it
    unit: str  # N_: the unit a target of it is usually set in
    historic: bool
    compute: Callable[[Session, Span], float]


def _renovated(session: Session, span: Span) -> float:
    return len(
        renovation.renovated_sites(
            session, actor=SYSTEM, since=span.since, until=span.until, within=span.within
        )
    )


def _utilities(session: Session, span: Span) -> float:
    return len(
        renovation.renovated_sites(
            session,
            actor=SYSTEM,
            since=span.since,
            until=span.until,
            within=span.within,
            utilities=True,
        )
    )


def _three_basics(session: Session, span: Span) -> float:
    return facility_service.courtyards_with_three_basics(session, within=span.within)


def _committees(session: Session, span: Span) -> float:
    compounds, with_one = facility_service.compounds_with_committee(session, within=span.within)
    return round(100.0 * with_one / compounds, 1) if compounds else 0.0


def _volunteers(session: Session, span: Span) -> float:
    return volunteer_service.count_confirmed(
        session, within=span.within, until=day_start(span.until + timedelta(days=1))
    )


MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "courtyards_renovated",
            N_("已改造院落"),
            N_("改造项目竣工验收的院落数（自目标起始日起，按验收日计；一个院落只计一次）"),
            N_("个"),
            True,
            _renovated,
        ),
        Measure(
            "courtyards_utilities_renovated",
            N_("完成水电气改造的院落"),
            N_("已验收的改造项目合计完成供水、供电、燃气三项改造的院落数（自目标起始日起）"),
            N_("个"),
            True,
            _utilities,
        ),
        Measure(
            "courtyards_three_basics",
            N_("三防齐备的老旧、三无院落"),
            N_("门卫室、消防设施、门禁三项均在册完好（无未整改隐患）的老旧院落和三无院落数"),
            N_("个"),
            False,
            _three_basics,
        ),
        Measure(
            "compounds_with_committee",
            N_("成立业委会或自管会的商住小区比例"),
            N_(
                "物防登记中“物业或自治组织”有业主委员会或院落自管会的商住小区，占全部商住小区的比例"
            ),
            "%",
            False,
            _committees,
        ),
        Measure(
            "volunteers_registered",
            N_("注册志愿者"),
            N_(
                "经社区确认、在志愿服务项目（红袖套、蓝马甲、橙丝带等）中在册的人数（一人只计一次，按确认日计）"
            ),
            N_("名"),
            True,
            _volunteers,
        ),
    )
}
