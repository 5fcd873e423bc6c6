"""Bulk import by upload, and the templates to fill in."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from pingan.api_common import DB, PUBLIC, Actor, StrictQuery, needs, request_lang
from pingan.auth.roles import Perm
from pingan.errors import Forbidden, Invalid
from pingan.i18n import N_
from pingan.imports import service
from pingan.imports.service import ImportKind
from pingan.territory.geo import CRS

router = APIRouter(dependencies=[StrictQuery], tags=["import"])

MAX_UPLOAD = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/imports/templates/{kind}.{fmt}", openapi_extra=needs(PUBLIC))
def template(kind: ImportKind, fmt: str) -> Response:
    """The template for one kind of import, as CSV (UTF-8 with BOM) or XLSX."""
    if fmt == "csv":
        body, media = service.template_csv(kind), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, media = service.template_xlsx(kind), XLSX
    else:
        raise Invalid(field="fmt", fields=N_("fmt（csv 或 xlsx）"))
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="pingan-{kind.value}.{fmt}"'},
    )


@router.post(
    "/imports/{kind}",
    openapi_extra=needs(Perm.territory_write, Perm.people_write, body=MAX_UPLOAD + 64 * 1024),
)
def import_file(
    kind: ImportKind,
    request: Request,
    actor: Actor,
    session: DB,
    file: Annotated[UploadFile, File(description="CSV or XLSX filled in from the template")],
    crs: Annotated[CRS, Query(description="Coordinate system of lon/lat in the file")] = CRS.wgs84,
    dry_run: Annotated[bool, Query(description="Check every row, import nothing")] = False,
) -> dict[str, Any]:
    """All rows or none: on any error, 422 with one entry per failing row."""
    needed = Perm.people_write if kind == ImportKind.residents else Perm.territory_write
    if not actor.holds(needed):
        raise Forbidden(action=needed.value)
    data = file.file.read(MAX_UPLOAD + 1)  # spooled to disk by the form parser; a worker thread
    if len(data) > MAX_UPLOAD:
        raise Invalid("bad_file", field="file", reason=N_("文件超过 20 MB"))
    report = service.run(
        session,
        actor=actor,
        kind=kind,
        data=data,
        filename=file.filename or "",
        crs=crs,
        dry_run=dry_run,
        lang=request_lang(request),
    )
    return report.as_dict()
