"""Service hours as an XLSX workbook for the volunteer service systems the street reports to
(全国志愿服务信息系统 and the like take such sheets): one row per confirmed volunteer, numbers as
numbers, days as dates, the header row frozen. Written in openpyxl's write-only mode, so 15,000
rows stay small in memory."""

from __future__ import annotations

import io
from datetime import date, timedelta

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, day_start, today
from pingan.errors import Invalid
from pingan.masking import mask
from pingan.territory import service as territory_service
from pingan.volunteers import service
from pingan.volunteers.models import Programme, State, Team, Volunteer

HEADER = (
    "姓名",
    "手机号",
    "社区",
    "志愿服务项目",
    "队伍",
    "确认日期",
    "活动服务时长（小时）",
    "巡逻服务时长（小时）",
    "合计（小时）",
    "星级",
)
MAX_DAYS = 3 * 366


def span_of(start: date | None, end: date | None) -> tuple[date, date]:
    now = today()
    span = (start or date(now.year, 1, 1), end or now)
    if span[0] > span[1] or (span[1] - span[0]).days > MAX_DAYS:
        raise Invalid("validation", field="start", fields="start, end")
    return span


def whole_phones(actor: Principal, within: str | None) -> bool:
    """Whole numbers for those who may read phones where the export reaches."""
    if actor.system:
        return True
    paths = actor.paths(Perm.people_phone)
    reach = [within] if within else actor.paths(Perm.volunteers_read)
    return all(any(r.startswith(p) for p in paths) for r in reach)


def hours_workbook(
    session: Session, *, actor: Principal, span: tuple[date, date], within: str | None
) -> tuple[bytes, int]:
    stmt = select(Volunteer).where(service.scope_clause(actor), Volunteer.state == State.confirmed)
    if within:
        stmt = stmt.where(Volunteer.path.startswith(within, autoescape=True))
    rows = list(session.scalars(stmt.order_by(Volunteer.path, Volunteer.id)))
    served = service.hours(
        session,
        volunteers=rows,
        since=day_start(span[0]),
        until=day_start(span[1] + timedelta(days=1)),
    )
    everything = service.hours(session, volunteers=rows)
    ladder = service.levels(session)
    programmes = {p.id: p.name for p in session.scalars(select(Programme))}
    teams = {t.id: t.name for t in session.scalars(select(Team))}
    names = territory_service.names(session, node_ids={v.community_id for v in rows})
    whole = whole_phones(actor, within)

    book = Workbook(write_only=True)
    sheet = book.create_sheet("志愿服务时长")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    head = []
    for word in HEADER:
        cell = WriteOnlyCell(sheet, value=word)
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for v in rows:
        h = served[v.id]
        reached = service.level_of(everything[v.id].total, ladder)
        # A day as a spreadsheet date (its midnight, no zone: the day as Beijing had it).
        day = v.decided_at.astimezone(SHANGHAI).replace(tzinfo=None) if v.decided_at else None
        confirmed = WriteOnlyCell(
            sheet, value=day.replace(hour=0, minute=0, second=0, microsecond=0) if day else None
        )
        confirmed.number_format = "yyyy-mm-dd"
        sheet.append(
            [
                v.name,
                v.phone if whole else mask(v.phone),
                names.get(v.community_id, ""),
                programmes.get(v.programme_id, ""),
                teams.get(v.team_id, "") if v.team_id else "",
                confirmed,
                h.activities,
                h.patrol,
                h.total,
                reached.name if reached else "",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), len(rows)
