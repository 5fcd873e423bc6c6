"""Figures of the console's statistics: alarms, response times, false alarms, device health and
the three defences, for any period, inside the asking user's scope.

Every figure is a table (columns + rows) so that the page's chart and the CSV download are the
same numbers. Days are Asia/Shanghai days.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from pingan.alarms.models import CATEGORY_LABEL, Alarm, AlarmEntry
from pingan.auth import service as auth_service
from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, day_start, today
from pingan.devices import service as device_service
from pingan.errors import Invalid, NotFound
from pingan.facilities import renovation
from pingan.facilities import service as facility_service
from pingan.facilities.models import FacilitySite, ProjectState
from pingan.facilities.service import COURTYARDS, THREE_BASICS
from pingan.i18n import N_, phrase
from pingan.incidents import service as incident_service
from pingan.incidents.models import CHANNEL_LABEL, Channel
from pingan.patrol import service as patrol_service
from pingan.patrol.models import Member, Task, Team
from pingan.targets import service as target_service
from pingan.territory import service as territory_service
from pingan.territory.models import (
    SITE_TYPE_LABEL,
    NodeKind,
    Person,
    SiteType,
    TerritoryNode,
    ancestor_id,
)
from pingan.volunteers import service as volunteer_service

MAX_DAYS = 366

# Response-time buckets (upper bounds in seconds): what a centre is judged by.
BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1 min", 60),
    ("1–5 min", 300),
    ("5–15 min", 900),
    ("15–60 min", 3600),
    ("1–4 h", 4 * 3600),
    (">4 h", float("inf")),
)


def p50_p90(values: list[float]) -> tuple[float | None, float | None]:
    """The median and the 90th percentile, to two places; None of nothing."""
    if not values:
        return None, None
    cuts = statistics.quantiles(values, n=10) if len(values) > 1 else [values[0]] * 9
    return round(statistics.median(values), 2), round(cuts[8], 2)


@dataclass(frozen=True)
class Period:
    start: date  # first day, inclusive
    end: date  # last day, inclusive

    @property
    def since(self) -> datetime:
        return day_start(self.start)

    @property
    def until(self) -> datetime:
        return day_start(self.end + timedelta(days=1))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def period(start: date | None, end: date | None, *, default_days: int = 30) -> Period:
    last = end or today()
    first = start or last - timedelta(days=default_days - 1)
    if first > last:
        raise Invalid("bad_period", field="start", reason=N_("开始日期晚于结束日期"))
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid("bad_period", field="start", reason=N_("时间段最长一年"))
    return Period(first, last)


@dataclass
class Figure:
    name: str
    title: str  # Chinese; translated where shown
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str | None = None


@dataclass
class _AlarmRow:
    path: str
    category: str
    state: str
    raised_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    false_alarm: bool


class Figures:
    """Loads what a period needs once; each method is one figure."""

    def __init__(self, session: Session, *, actor: Principal, period: Period) -> None:
        self.session = session
        self.actor = actor
        self.period = period
        was_false = exists(
            select(AlarmEntry.id).where(
                AlarmEntry.alarm_id == Alarm.id, AlarmEntry.action == "false_alarm"
            )
        )
        rows = session.execute(
            select(
                Alarm.path,
                Alarm.category,
                Alarm.state,
                Alarm.raised_at,
                Alarm.acknowledged_at,
                Alarm.resolved_at,
                was_false,
            ).where(
                actor.filter(Alarm.path, Perm.alarms_read),
                Alarm.raised_at >= period.since,
                Alarm.raised_at < period.until,
            )
        ).all()
        self.alarms = [_AlarmRow(*row) for row in rows]
        self._names: dict[int, str] | None = None
        self._incidents: list[incident_service.FigureRow] | None = None
        self._sheets: list[tuple[TerritoryNode, FacilitySite]] | None = None
        self._late: list[facility_service.Due] | None = None

    def names(self) -> dict[int, str]:
        if self._names is None:
            self._names = {
                node_id: name
                for node_id, name in self.session.execute(
                    select(TerritoryNode.id, TerritoryNode.name).where(
                        TerritoryNode.kind.in_([NodeKind.community, NodeKind.site]),
                        self.actor.filter(TerritoryNode.path, Perm.territory_read),
                    )
                )
            }
        return self._names

    def _name(self, node_id: int | None) -> str:
        return self.names().get(node_id, "—") if node_id is not None else "—"

    # --- alarms ---------------------------------------------------------------------------------

    def by_category(self) -> Figure:
        counts = Counter(a.category for a in self.alarms)
        return Figure(
            "by_category",
            N_("按类别的报警数"),
            ["category", "name", "alarms"],
            [[c, CATEGORY_LABEL.get(c, c), n] for c, n in counts.most_common()],
        )

    def by_day(self) -> Figure:
        counts = Counter(a.raised_at.astimezone(SHANGHAI).date() for a in self.alarms)
        return Figure(
            "by_day",
            N_("每日报警数"),
            ["day", "alarms"],
            [[d.isoformat(), counts.get(d, 0)] for d in self.period.days()],
        )

    def by_community(self) -> Figure:
        counts = Counter(ancestor_id(a.path, NodeKind.community) for a in self.alarms)
        return Figure(
            "by_community",
            N_("各社区报警数"),
            ["community", "alarms"],
            sorted(([self._name(c), n] for c, n in counts.items()), key=lambda r: -r[1]),
        )

    def _durations(
        self, name: str, title: str, end: Callable[[_AlarmRow], datetime | None]
    ) -> Figure:
        seconds = [
            (stop - a.raised_at).total_seconds()
            for a in self.alarms
            if (stop := end(a)) is not None and stop >= a.raised_at
        ]
        counts = Counter(next(label for label, top in BUCKETS if s < top) for s in seconds)
        note = None
        if seconds:
            cuts = statistics.quantiles(seconds, n=10) if len(seconds) > 1 else [seconds[0]] * 9
            note = f"n={len(seconds)} p50={statistics.median(seconds):.0f}s p90={cuts[8]:.0f}s"
        return Figure(
            name, title, ["bucket", "alarms"], [[b, counts.get(b, 0)] for b, _ in BUCKETS], note
        )

    def time_to_acknowledge(self) -> Figure:
        return self._durations("tta", N_("确认用时分布"), lambda a: a.acknowledged_at)

    def time_to_resolve(self) -> Figure:
        return self._durations("ttr", N_("处置用时分布"), lambda a: a.resolved_at)

    def false_alarm_rate(self) -> Figure:
        handled: Counter[int | None] = Counter()
        false: Counter[int | None] = Counter()
        for a in self.alarms:
            if a.resolved_at is None:
                continue
            site = ancestor_id(a.path, NodeKind.site)
            handled[site] += 1
            false[site] += a.false_alarm
        rows: list[list[Any]] = [
            [self._name(site), n, false[site], round(false[site] / n, 3)]
            for site, n in handled.items()
        ]
        rows.sort(key=lambda r: (-r[3], -r[1]))
        return Figure(
            "false_alarm_rate",
            N_("各小区/单位误报率"),
            ["site", "handled", "false_alarms", "rate"],
            rows,
        )

    # --- devices (as of now, not of the period) --------------------------------------------------

    def device_online(self) -> Figure:
        rates = device_service.online_rates(
            self.session, actor=self.actor, level=NodeKind.community
        )
        rows: list[list[Any]] = [
            [self._name(r.node_id), r.devices, r.online, round(r.rate, 3)] for r in rates
        ]
        rows.sort(key=lambda r: r[3])
        return Figure(
            "device_online",
            N_("各社区设备在线率"),
            ["community", "devices", "online", "rate"],
            rows,
        )

    def defences(self) -> Figure:
        """The three defences at a glance: devices (技防), the sites' facility registers (物防),
        patrol teams (人防)."""
        devices = device_service.kinds_by_path(self.session, actor=self.actor)
        rates = device_service.online_rates(self.session, actor=self.actor, level=NodeKind.street)
        online = sum(r.online for r in rates)
        open_alarms = sum(a.resolved_at is None for a in self.alarms)
        count, ratio = "count", "ratio"
        sheets = self.facility_sheets()
        courtyards = [s for _n, s in sheets if s.site_type in COURTYARDS]
        late = {d.site.id for d in self.late_inspections()}
        rows: list[list[Any]] = [
            [N_("技防"), N_("设备数"), len(devices), count],
            [
                N_("技防"),
                N_("设备在线率"),
                round(online / len(devices), 3) if devices else None,
                ratio,
            ],
            [N_("技防"), N_("本期报警数"), len(self.alarms), count],
            [N_("技防"), N_("本期未处置报警"), open_alarms, count],
            [N_("物防"), N_("小区/单位数"), len(sheets), count],
            [
                N_("物防"),
                N_("物防设施平均完整度"),
                round(statistics.fmean(s.completeness for _n, s in sheets), 3) if sheets else None,
                ratio,
            ],
            [N_("物防"), N_("老旧、三无院落"), len(courtyards), count],
            [
                N_("物防"),
                N_("老旧、三无院落三防齐备"),
                sum(bool(s.bundles.get(THREE_BASICS)) for s in courtyards),
                count,
            ],
            [N_("物防"), N_("整改中的隐患"), sum(s.defects for _n, s in sheets), count],
            [N_("物防"), N_("检查超期的小区/单位"), len(late), count],
            *self._human(count, ratio),
        ]
        return Figure("defences", N_("三防概览"), ["defence", "figure", "value", "unit"], rows)

    def _human(self, count: str, ratio: str) -> list[list[Any]]:
        in_scope = self.actor.filter(Member.path, Perm.patrol_read)
        teams = self.session.scalar(
            select(func.count())
            .select_from(Team)
            .where(self.actor.filter(Team.path, Perm.patrol_read))
        )
        members = self.session.scalar(
            select(func.count()).select_from(Member).where(Member.active, in_scope)
        )
        on_duty = len({m.id for _s, m in patrol_service.on_duty(self.session, actor=self.actor)})
        routes = [r for r in self.patrol_coverage().rows if r[0] == N_("路线")]
        planned, on_time = sum(r[5] for r in routes), sum(r[6] for r in routes)
        return [
            [N_("人防"), N_("巡逻队伍"), teams, count],
            [N_("人防"), N_("队员与志愿者"), members, count],
            [N_("人防"), N_("当前在岗"), on_duty, count],
            [N_("人防"), N_("巡逻覆盖率"), round(on_time / planned, 3) if planned else None, ratio],
        ]

    # --- physical defence ------------------------------------------------------------------------

    def facility_sheets(self) -> list[tuple[TerritoryNode, FacilitySite]]:
        if self._sheets is None:
            self._sheets = facility_service.sheets(self.session, actor=self.actor)
        return self._sheets

    def late_inspections(self) -> list[facility_service.Due]:
        if self._late is None:
            self._late = facility_service.schedule(
                self.session, actor=self.actor, overdue_only=True
            )
        return self._late

    def facility_items(self) -> Figure:
        """For each site type and item of the checklist: the share of sites with it present."""
        book = facility_service.checklist(self.session)
        names = {f"{g.code}.{i.code}": i.name for g, i in book.items()}
        rows: list[list[Any]] = [
            [
                SITE_TYPE_LABEL.get(SiteType(p.site_type), p.site_type) if p.site_type else "—",
                names.get(p.code, p.code),
                p.applicable,
                p.present,
                round(p.present / p.applicable, 3) if p.applicable else None,
            ]
            for p in facility_service.presence(self.session, actor=self.actor)
        ]
        return Figure(
            "facility_items",
            N_("各类小区/单位物防设施完好率"),
            ["site_type", "item", "sites", "present", "ratio"],
            rows,
        )

    def facility_courtyards(self) -> Figure:
        """Old and three-no courtyards with a guard room, fire safety and access control all
        present, per community and for the street."""
        per: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for site, sheet in self.facility_sheets():
            if site.site_type in COURTYARDS:
                per[sheet.community_id][0] += 1
                per[sheet.community_id][1] += bool(sheet.bundles.get(THREE_BASICS))
        rows: list[list[Any]] = [
            [self._name(c), n, ok, round(ok / n, 3) if n else None] for c, (n, ok) in per.items()
        ]
        rows.sort(key=lambda r: (r[3] if r[3] is not None else 2, r[0]))
        total, ok = sum(r[1] for r in rows), sum(r[2] for r in rows)
        if rows:
            rows.append([N_("合计"), total, ok, round(ok / total, 3) if total else None])
        return Figure(
            "facility_courtyards",
            N_("老旧、三无院落三防齐备情况"),
            ["community", "courtyards", "three_basics", "ratio"],
            rows,
        )

    def renovation(self) -> Figure:
        """Renovation of old courtyards per community and for the street: projects by stage now,
        and the courtyards whose works were accepted in the period."""
        rows: list[list[Any]] = []
        states = list(ProjectState)
        for r in renovation.progress(
            self.session, actor=self.actor, since=self.period.start, until=self.period.end
        ):
            name = self._name(r.community_id) if r.community_id else N_("全街道")
            rows.append(
                [name, r.projects, len(r.renovated), *(r.by_state.get(s.value, 0) for s in states)]
            )
        return Figure(
            "renovation",
            N_("老旧院落改造进度"),
            ["community", "projects", "renovated", *(s.value for s in states)],
            rows,
        )

    def targets(self) -> Figure:
        """The street's targets in view: each one's value now against its baseline and target,
        the share of the way done and of the time gone (renovation progress against its targets
        among them)."""
        rows: list[list[Any]] = []
        for target in target_service.get_all(self.session, actor=self.actor, active=True):
            s = target_service.standing(self.session, target=target)
            rows.append(
                [target.name, self._name(target.node_id) if target.path.count("/") > 2
                 else N_("全街道"), target.measure or "entered", target.unit, target.baseline,
                 s.value, target.target_value, target.deadline.isoformat(), s.progress,
                 s.expected, s.status]
            )  # fmt: skip
        return Figure(
            "targets",
            N_("目标任务完成情况"),
            ["target", "scope", "measure", "unit", "baseline", "value", "target_value",
             "deadline", "progress", "expected", "status"],
            rows,
        )  # fmt: skip

    def inspections(self) -> Figure:
        """Per community: sites, inspections made in the period and the items they found failed,
        sites late for an inspection now, and the defects' grid events (opened in the period,
        closed, hours from the inspection to closure: median and 90th percentile)."""
        made = facility_service.inspections_in(
            self.session, actor=self.actor, since=self.period.since, until=self.period.until
        )
        late = self.late_inspections()
        per: dict[int, dict[str, Any]] = defaultdict(
            lambda: {"sites": 0, "made": 0, "failed": 0, "late": set(), "cases": []}
        )
        for _site, sheet in self.facility_sheets():
            per[sheet.community_id]["sites"] += 1
        for community, _kind, failed in made:
            per[community]["made"] += 1
            per[community]["failed"] += failed
        for due in late:
            per[ancestor_id(due.site.path, NodeKind.community) or 0]["late"].add(due.site.id)
        for case in self.incidents():
            if case.channel == Channel.inspection.value:
                per[case.community_id]["cases"].append(case)
        rows: list[list[Any]] = []
        for community, f in per.items():
            closed = [c for c in f["cases"] if c.state == "closed" and c.closed_at is not None]
            p50, p90 = p50_p90(
                [(c.closed_at - c.reported_at).total_seconds() / 3600 for c in closed]
            )
            rows.append(
                [self._name(community), f["sites"], f["made"], f["failed"], len(f["late"]),
                 len(f["cases"]), len(closed), p50, p90]
            )  # fmt: skip
        rows.sort(key=lambda r: (-r[4], r[0]))
        return Figure(
            "inspections",
            N_("安全检查与隐患整改"),
            ["community", "sites", "inspections", "failed_items", "late_sites", "defects",
             "closed", "p50_h", "p90_h"],
            rows,
        )  # fmt: skip

    # --- human defence ---------------------------------------------------------------------------

    def patrol_coverage(self) -> Figure:
        """Checkpoints visited on time ÷ planned, per route, and summed per team and community."""
        routes = patrol_service.coverage(
            self.session, actor=self.actor, since=self.period.since, until=self.period.until
        )
        rows: list[list[Any]] = []
        teams: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
        communities: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        for r in routes:
            community = self._name(ancestor_id(r["path"], NodeKind.community))
            rows.append(
                [N_("路线"), community, r["team"], r["route"], r["runs"], r["planned"],
                 r["on_time"], r["coverage"]]
            )  # fmt: skip
            for total in (teams[(community, r["team"])], communities[community]):
                total[0] += r["runs"]
                total[1] += r["planned"]
                total[2] += r["on_time"]

        def ratio(t: list[int]) -> float | None:
            return round(t[2] / t[1], 3) if t[1] else None

        rows += [[N_("队伍"), c, team, "", *t, ratio(t)] for (c, team), t in teams.items()]
        rows += [[N_("社区"), c, "", "", *t, ratio(t)] for c, t in communities.items()]
        return Figure(
            "patrol_coverage",
            N_("巡逻覆盖率"),
            ["level", "community", "team", "route", "runs", "planned", "on_time", "coverage"],
            rows,
            N_("按时到达（不迟到、不偏离）的检查点 ÷ 计划的检查点"),
        )

    def volunteer_hours(self) -> Figure:
        """Service hours in the period: patrol runs walked and dispatched tasks worked on."""
        minutes = patrol_service.service_minutes(
            self.session, since=self.period.since, until=self.period.until, actor=self.actor
        )
        rows: list[list[Any]] = []
        for member, person, team in self.session.execute(
            select(Member, Person.name, Team.name)
            .join(Person, Person.id == Member.person_id)
            .join(Team, Team.id == Member.team_id)
            .where(Member.id.in_(list(minutes)))
        ):
            community = self._name(ancestor_id(member.path, NodeKind.community))
            hours = round(minutes[member.id] / 60, 2)
            rows.append([community, team, member.programme or "", person, hours])
        rows.sort(key=lambda r: -r[4])
        return Figure(
            "volunteer_hours",
            N_("志愿服务时长"),
            ["community", "team", "programme", "member", "hours"],
            rows,
        )

    def volunteers(self) -> Figure:
        """Per community and programme: volunteers confirmed (now) and waiting, the activities
        held in the period, and the service hours in it (activities accepted, patrol runs and
        tasks of those also in a patrol team)."""
        rows = volunteer_service.summary(
            self.session, actor=self.actor, since=self.period.since, until=self.period.until
        )
        names = {p.id: p.name for p in volunteer_service.programmes(self.session)}
        out: list[list[Any]] = [
            [self._name(r.community_id), names.get(r.programme_id) or N_("不限"), r.confirmed, r.pending,
             r.activities, r.hours_activities, r.hours_patrol]
            for r in rows
        ]  # fmt: skip
        out.sort(key=lambda r: (r[0], r[1]))
        return Figure(
            "volunteers",
            N_("志愿者与服务时长"),
            ["community", "programme", "confirmed", "pending", "activities", "hours_activities",
             "hours_patrol"],
            out,
        )  # fmt: skip

    def dispatch_response(self) -> Figure:
        """Dispatched alarms: from the first offer to an accept, and to arriving on scene."""
        first_offer: dict[int, datetime] = {}
        accepted: dict[int, datetime] = {}
        arrived: dict[int, datetime] = {}
        for alarm_id, offered, accept, arrive in self.session.execute(
            select(Task.alarm_id, Task.offered_at, Task.accepted_at, Task.arrived_at)
            .where(
                Task.offered_at >= self.period.since,
                Task.offered_at < self.period.until,
                self.actor.filter(Task.path, Perm.alarms_read),
            )
            .order_by(Task.id)
        ):
            first_offer.setdefault(alarm_id, offered)
            if accept is not None:
                accepted.setdefault(alarm_id, accept)
            if arrive is not None:
                arrived.setdefault(alarm_id, arrive)

        def spans(ends: dict[int, datetime]) -> list[float]:
            return [(t - first_offer[a]).total_seconds() for a, t in ends.items()]

        to_accept, to_arrive = spans(accepted), spans(arrived)

        def bucket(seconds: list[float]) -> Counter[str]:
            return Counter(next(label for label, top in BUCKETS if s < top) for s in seconds)

        a, b = bucket(to_accept), bucket(to_arrive)
        note = f"n={len(first_offer)} accepted={len(to_accept)} arrived={len(to_arrive)}"
        for label, values in (("accept", to_accept), ("arrive", to_arrive)):
            if values:
                note += f" {label}_p50={statistics.median(values):.0f}s"
        return Figure(
            "dispatch_response",
            N_("派单响应用时分布"),
            ["bucket", "accepted", "on_scene"],
            [[label, a.get(label, 0), b.get(label, 0)] for label, _ in BUCKETS],
            note,
        )

    # --- grid incidents ---------------------------------------------------------------------------

    def incidents(self) -> list[incident_service.FigureRow]:
        if self._incidents is None:
            self._incidents = incident_service.figure_rows(
                self.session, actor=self.actor, since=self.period.since, until=self.period.until
            )
        return self._incidents

    def _grid_names(self) -> dict[int, str]:
        ids = {r.grid_id for r in self.incidents() if r.grid_id is not None}
        return territory_service.names(self.session, node_ids=ids)

    @staticmethod
    def _on_time(rows: list[incident_service.FigureRow]) -> float | None:
        judged = [r.on_time for r in rows if r.closed_at is not None and r.on_time is not None]
        return round(sum(judged) / len(judged), 3) if judged else None

    def _incidents_by(
        self,
        name: str,
        title: str,
        column: str,
        key: Callable[[incident_service.FigureRow], Any],
        label: Callable[[Any], str],
    ) -> Figure:
        groups: dict[Any, list[incident_service.FigureRow]] = defaultdict(list)
        for r in self.incidents():
            groups[key(r)].append(r)
        rows: list[list[Any]] = [
            [
                label(k),
                len(rs),
                sum(r.is_open for r in rs),
                sum(r.closed_at is not None and r.state == "closed" for r in rs),
                self._on_time(rs),
            ]
            for k, rs in groups.items()
        ]
        rows.sort(key=lambda r: -r[1])
        return Figure(name, title, [column, "reported", "open", "closed", "on_time_rate"], rows)

    def incidents_by_category(self) -> Figure:
        catalogue = incident_service.catalogue(self.session)
        names = {c.code: c.name for c in catalogue.categories}
        return self._incidents_by(
            "incidents_by_category",
            N_("按类别的网格事件"),
            "category",
            lambda r: r.category,
            lambda k: names.get(k, k),
        )

    def incidents_by_community(self) -> Figure:
        return self._incidents_by(
            "incidents_by_community",
            N_("各社区网格事件"),
            "community",
            lambda r: r.community_id,
            self._name,
        )

    def incidents_by_grid(self) -> Figure:
        grids = self._grid_names()
        return self._incidents_by(
            "incidents_by_grid",
            N_("各网格网格事件"),
            "grid",
            lambda r: r.grid_id,
            lambda k: grids.get(k, "—") if k is not None else "—",
        )

    def incidents_by_channel(self) -> Figure:
        return self._incidents_by(
            "incidents_by_channel",
            N_("网格事件来源"),
            "channel",
            lambda r: r.channel,
            lambda k: CHANNEL_LABEL.get(Channel(k), k),
        )

    def incident_times(self) -> Figure:
        """Time to accept and to close, from the report, in hours: median and 90th percentile."""
        rows: list[list[Any]] = []
        measures: list[tuple[str, Callable[[incident_service.FigureRow], datetime | None]]] = [
            (N_("立案用时"), lambda r: r.accepted_at),
            (N_("结案用时"), lambda r: r.closed_at if r.state == "closed" else None),
        ]
        for label, end in measures:
            hours = [
                (stop - r.reported_at).total_seconds() / 3600
                for r in self.incidents()
                if (stop := end(r)) is not None and stop >= r.reported_at
            ]
            rows.append([label, len(hours), *p50_p90(hours)])
        return Figure(
            "incident_times",
            N_("网格事件办理用时（小时）"),
            ["measure", "cases", "p50_h", "p90_h"],
            rows,
        )

    def incident_outcomes(self) -> Figure:
        """On-time closure, reopening, satisfaction, and what is overdue now."""
        rows = self.incidents()
        closed = [r for r in rows if r.state == "closed"]
        rated = [r for r in rows if r.rating is not None]
        satisfied = [r for r in rated if r.rating in ("satisfied", "fair")]
        overdue = sum(n for _c, n in incident_service.overdue_now(self.session, actor=self.actor))

        def ratio(part: int, whole: int) -> float | None:
            return round(part / whole, 3) if whole else None

        return Figure(
            "incident_outcomes",
            N_("网格事件办理成效"),
            ["measure", "value", "unit"],
            [
                [N_("上报"), len(rows), "count"],
                [N_("已结案"), len(closed), "count"],
                [N_("按时办结率"), self._on_time(rows), "ratio"],
                [N_("重新办理率"), ratio(sum(r.reopened > 0 for r in rows), len(rows)), "ratio"],
                [N_("满意率（含基本满意）"), ratio(len(satisfied), len(rated)), "ratio"],
                [N_("评价数"), len(rated), "count"],
                [N_("当前超期"), overdue, "count"],
            ],
        )

    def incidents_by_street(self) -> Figure:
        """Per street chief: their streets' cases and how quickly they were closed."""
        groups: dict[int, list[incident_service.FigureRow]] = defaultdict(list)
        for r in self.incidents():
            if r.street_line_id is not None:
                groups[r.street_line_id].append(r)
        streets = incident_service.street_names(self.session, street_ids=groups)
        chiefs = auth_service.display_names(
            self.session, user_ids=[c for _n, c in streets.values() if c]
        )
        rows: list[list[Any]] = []
        for street_id, rs in groups.items():
            name, chief = streets.get(street_id, ("—", None))
            hours = [
                (r.closed_at - r.reported_at).total_seconds() / 3600
                for r in rs
                if r.closed_at is not None and r.state == "closed"
            ]
            median = round(statistics.median(hours), 2) if hours else None
            rows.append(
                [
                    name,
                    len(rs),
                    sum(r.is_open for r in rs),
                    len(hours),
                    median,
                    chiefs.get(chief or 0, "—"),
                ]
            )
        rows.sort(key=lambda r: -r[1])
        return Figure(
            "incidents_by_street",
            N_("各街巷（街长）网格事件"),
            ["street", "reported", "open", "closed", "p50_close_h", "chief"],
            rows,
        )

    def all(self) -> list[Figure]:
        """Every figure of the period, from the one load (the statistics page)."""
        return [method(self) for method in FIGURES.values()]

    def get(self, name: str) -> Figure:
        method = FIGURES.get(name)
        if method is None:
            raise NotFound(what=phrase(N_("统计 {n}"), n=name))
        return method(self)


FIGURES: dict[str, Callable[[Figures], Figure]] = {
    "defences": Figures.defences,
    "by_category": Figures.by_category,
    "by_community": Figures.by_community,
    "by_day": Figures.by_day,
    "tta": Figures.time_to_acknowledge,
    "ttr": Figures.time_to_resolve,
    "false_alarm_rate": Figures.false_alarm_rate,
    "device_online": Figures.device_online,
    "patrol_coverage": Figures.patrol_coverage,
    "volunteer_hours": Figures.volunteer_hours,
    "volunteers": Figures.volunteers,
    "dispatch_response": Figures.dispatch_response,
    "incident_outcomes": Figures.incident_outcomes,
    "incidents_by_category": Figures.incidents_by_category,
    "incidents_by_community": Figures.incidents_by_community,
    "incidents_by_grid": Figures.incidents_by_grid,
    "incidents_by_channel": Figures.incidents_by_channel,
    "incident_times": Figures.incident_times,
    "incidents_by_street": Figures.incidents_by_street,
    "facility_items": Figures.facility_items,
    "facility_courtyards": Figures.facility_courtyards,
    "inspections": Figures.inspections,
    "renovation": Figures.renovation,
    "targets": Figures.targets,
}


def csv_rows(figure: Figure, translate: Callable[[str], str]) -> Iterable[list[Any]]:
    yield figure.columns
    for row in figure.rows:
        yield [translate(v) if isinstance(v, str) else ("" if v is None else v) for v in row]
