"""Figures for the console and for reports: JSON, or CSV with the same numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from pingan.api_common import DB, Actor, StrictQuery, needs, request_lang
from pingan.assessment import figures
from pingan.auth.roles import Perm
from pingan.i18n import gettext

router = APIRouter(dependencies=[StrictQuery], tags=["figures"])
# Whoever reads one of the domains the figures count; each figure counts only what they see.
FIGURE_READERS = (
    Perm.alarms_read,
    Perm.devices_read,
    Perm.patrol_read,
    Perm.incidents_read,
    Perm.incidents_streets,
    Perm.facilities_read,
    Perm.targets_read,
    Perm.volunteers_read,
)


class FigureOut(BaseModel):
    name: str
    title: str
    start: date
    end: date
    columns: list[str]
    rows: list[list[Any]]
    note: str | None = None


Start = Annotated[date | None, Query(description="First day (Asia/Shanghai), default 30 days ago")]
End = Annotated[date | None, Query(description="Last day, inclusive; default today")]


def _figure(
    session: DB, actor: Actor, name: str, start: date | None, end: date | None
) -> tuple[figures.Figure, figures.Period]:
    span = figures.period(start, end)
    return figures.Figures(session, actor=actor, period=span).get(name), span


@router.get(
    "/figures",
    response_model=list[str],
    openapi_extra=needs(*FIGURE_READERS),
)
def list_figures(actor: Actor) -> list[str]:
    """The names of the figures: by_category, by_day, by_community, tta, ttr, …"""
    return list(figures.FIGURES)


@router.get(
    "/figures/{name}.csv",
    response_class=Response,
    openapi_extra=needs(*FIGURE_READERS),
)
def figure_csv(
    name: str, request: Request, actor: Actor, session: DB, start: Start = None, end: End = None
) -> Response:
    """One figure as CSV (UTF-8 with BOM, so that spreadsheet programs read the Chinese)."""
    figure, span = _figure(session, actor, name, start, end)
    lang = request_lang(request)
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(figures.csv_rows(figure, lambda s: gettext(s, lang)))
    filename = f"pingan-{figure.name}-{span.start.isoformat()}-{span.end.isoformat()}.csv"
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/figures/{name}",
    response_model=FigureOut,
    openapi_extra=needs(*FIGURE_READERS),
)
def figure_json(
    name: str, request: Request, actor: Actor, session: DB, start: Start = None, end: End = None
) -> FigureOut:
    figure, span = _figure(session, actor, name, start, end)
    return figure_out(figure, span, request_lang(request))


def figure_out(figure: figures.Figure, span: figures.Period, lang: str) -> FigureOut:
    """A figure as the API and the statistics page give it, its words in the reader's language."""

    def tr(text: str) -> str:
        return gettext(text, lang)

    return FigureOut(
        name=figure.name,
        title=tr(figure.title),
        start=span.start,
        end=span.end,
        columns=figure.columns,
        rows=[[tr(v) if isinstance(v, str) else v for v in row] for row in figure.rows],
        note=tr(figure.note) if figure.note else None,
    )
