"""Bulk import of sites, buildings, households and residents from CSV or XLSX templates.

Every row goes through the same territory services as the API (scope, validation, audit), each
in its own savepoint so that all errors are reported at once; if any row fails, nothing stays.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from pingan.auth.principal import Principal
from pingan.errors import Invalid, PinganError
from pingan.i18n import DEFAULT_LANG, N_, E, choice, phrase, t
from pingan.territory import service as territory_service
from pingan.territory.geo import CRS
from pingan.territory.models import (
    MANAGEMENT_LABEL,
    RELATION_LABEL,
    RESIDENCE_LABEL,
    SITE_TYPE_LABEL,
    NodeKind,
    Person,
    PersonKind,
    ResidentGroup,
    TerritoryNode,
)
from pingan.territory.schemas import GroupCreate, NodeCreate, NodeUpdate, PersonCreate, PersonUpdate

MAX_ROWS = 100_000


class ImportKind(StrEnum):
    sites = "sites"
    buildings = "buildings"
    households = "households"
    residents = "residents"


IMPORT_LABEL: dict[ImportKind, str] = {
    ImportKind.sites: N_("小区与单位"),
    ImportKind.buildings: N_("楼栋"),
    ImportKind.households: N_("房屋"),
    ImportKind.residents: N_("居民"),
}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    required: bool = False
    example: str = ""

    @property
    def header(self) -> str:
        return f"{self.label} {self.key}"


_COMMUNITY = Column("community", N_("社区"), True, "鱼凫路社区")
_SITE = Column("site", N_("小区/单位"), True, "柳欣苑")
_BUILDING = Column("building", N_("楼栋"), True, "1栋")
_LON = Column("lon", N_("经度"), False, "103.8290")
_LAT = Column("lat", N_("纬度"), False, "30.6880")

COLUMNS: dict[ImportKind, list[Column]] = {
    ImportKind.sites: [
        _COMMUNITY,
        Column("grid", N_("网格"), True, "鱼凫路第1网格"),
        Column("name", N_("名称"), True, "柳欣苑"),
        Column("site_type", N_("类型"), True, "商住小区"),
        Column("address", N_("地址"), False, "柳城街道鱼凫路88号"),
        _LON,
        _LAT,
        Column("management", N_("管理方式"), False, "物业"),
        Column("management_name", N_("物业/自管组织"), False, "柳欣物业服务有限公司"),
        Column("management_contact", N_("联系电话"), False, "028-82600000"),
    ],
    ImportKind.buildings: [
        _COMMUNITY,
        _SITE,
        Column("name", N_("名称"), True, "1栋"),
        Column("floors", N_("层数"), False, "18"),
        Column("units", N_("单元数"), False, "2"),
        _LON,
        _LAT,
    ],
    ImportKind.households: [
        _COMMUNITY,
        _SITE,
        _BUILDING,
        Column("name", N_("房号"), True, "1单元302"),
        Column("address", N_("门牌地址"), False, ""),
    ],
    ImportKind.residents: [
        _COMMUNITY,
        _SITE,
        _BUILDING,
        Column("household", N_("房号"), True, "1单元302"),
        Column("name", N_("姓名"), True, "张三"),
        Column("gender", N_("性别"), False, "男"),
        Column("birth_date", N_("出生日期"), False, "1980-05-01"),
        Column("id_number", N_("身份证号"), False, ""),
        Column("phone", N_("电话"), False, "13800000000"),
        Column("relation", N_("与户主关系"), False, "户主"),
        Column("residence", N_("居住类型"), False, "户籍"),
        Column("resident_group", N_("居民小组"), False, "第1居民小组"),
    ],
}


@dataclass
class RowError:
    row: int
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class Report:
    kind: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "dry_run": self.dry_run,
            "errors": [e.as_dict() for e in self.errors],
        }


class ImportFailed(Invalid):
    key = "import_failed"

    def __init__(self, report: Report) -> None:
        super().__init__(
            count=len({e.row for e in report.errors}),
            errors=[e.as_dict() for e in report.errors],
        )
        self.report = report


# --- templates and reading ---------------------------------------------------------------------


def template_csv(kind: ImportKind) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([c.header for c in COLUMNS[kind]])
    writer.writerow([c.example for c in COLUMNS[kind]])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")  # BOM: Excel opens UTF-8 CSV correctly


def template_xlsx(kind: ImportKind) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = kind.value
    ws.append([c.header for c in COLUMNS[kind]])
    ws.append([c.example for c in COLUMNS[kind]])
    for cell, col in zip(ws[1], COLUMNS[kind], strict=True):
        cell.font = Font(bold=col.required)
    for i, col in enumerate(COLUMNS[kind]):
        ws.column_dimensions[chr(ord("A") + i)].width = max(12, len(col.header) + 4)
    help_ws = wb.create_sheet("说明")
    help_ws.append(["列", "必填", "说明"])
    for col in COLUMNS[kind]:
        help_ws.append([col.header, "是" if col.required else "否", col.example])
    help_ws.append([])
    help_ws.append(["类型可选", "、".join(SITE_TYPE_LABEL.values())])
    help_ws.append(["管理方式可选", "、".join(MANAGEMENT_LABEL.values())])
    help_ws.append(["与户主关系可选", "、".join(RELATION_LABEL.values())])
    help_ws.append(["居住类型可选", "、".join(RESIDENCE_LABEL.values())])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_rows(data: bytes, filename: str) -> Iterator[list[str]]:
    """Rows of the first sheet of an XLSX, or of a CSV (UTF-8, with or without BOM, or GB18030)."""
    if filename.lower().endswith(".xlsx") or data[:2] == b"PK":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception as exc:
            raise Invalid(
                "bad_file",
                field="file",
                reason=phrase(N_("不是有效的 XLSX 文件（{error}）"), error=exc),
            ) from exc
        ws = wb.worksheets[0]
        for cells in ws.iter_rows(values_only=True):
            yield [_cell(v) for v in cells]
        return
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise Invalid(
            "bad_file", field="file", reason=N_("无法识别的文本编码（请用 UTF-8 保存 CSV）")
        )
    for line in csv.reader(io.StringIO(text)):
        yield [c.strip() for c in line]


def _header_map(kind: ImportKind, header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        tokens = set(
            cell.replace("（", " ").replace("(", " ").replace(")", " ").replace("）", " ").split()
        )
        for col in COLUMNS[kind]:
            if col.key in tokens or col.label in tokens or cell == col.header:
                found.setdefault(col.key, index)
    missing = [c.header for c in COLUMNS[kind] if c.required and c.key not in found]
    if missing:
        raise Invalid(
            "bad_file",
            field="file",
            reason=phrase(N_("缺少必填列：{columns}"), columns=tuple(missing)),
        )
    return found


def _choice(value: str, labels: Mapping[E, str], field_name: str) -> E:
    found = choice(value, labels)
    if found is None:
        raise Invalid(
            field=field_name,
            fields=phrase(
                N_("{field}（可选：{choices}）"),
                field=field_name,
                choices=tuple(labels.values()),
            ),
        )
    return found


def _num(value: str, kind: type[int] | type[float], field_name: str) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise Invalid(
            field=field_name, fields=phrase(N_("{field}（应为数字）"), field=field_name)
        ) from exc


# --- row handlers ------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, session: Session, actor: Principal, crs: CRS) -> None:
        self.session = session
        self.actor = actor
        self.crs = crs
        self._communities: dict[str, TerritoryNode] = {}
        # Nodes found by name; a node is only ever found once it exists, so caching is safe.
        self._found: dict[tuple[int, str], TerritoryNode] = {}
        self._sites: dict[tuple[str, str], TerritoryNode] = {}

    def community(self, name: str) -> TerritoryNode:
        if name not in self._communities:
            short = name[:-2] if name.endswith("社区") else name
            rows = self.session.scalars(
                select(TerritoryNode).where(
                    TerritoryNode.kind == NodeKind.community,
                    TerritoryNode.name.in_([name, short, f"{short}社区"]),
                )
            ).all()
            rows = [r for r in rows if self.actor.sees(r.path)]
            if len(rows) != 1:
                raise Invalid(
                    field="community",
                    fields=phrase(N_("community（找不到社区“{name}”）"), name=name)
                    if not rows
                    else "community（社区名称不唯一）",
                )
            self._communities[name] = rows[0]
        return self._communities[name]

    def child(self, parent: TerritoryNode, name: str, field_name: str, label: str) -> TerritoryNode:
        key = (parent.id, name)
        if key not in self._found:
            node = territory_service.get_by_names(self.session, names=[name], root_id=parent.id)
            if node is None:
                raise Invalid(
                    field=field_name,
                    fields=phrase(
                        N_("{field}（{parent}下找不到{what}“{name}”）"),
                        field=field_name,
                        parent=parent.name,
                        what=label,
                        name=name,
                    ),
                )
            self._found[key] = node
        return self._found[key]

    def site(self, row: dict[str, str]) -> TerritoryNode:
        key = (row["community"], row["site"])
        if key not in self._sites:
            self._sites[key] = self._find_site(row)
        return self._sites[key]

    def _find_site(self, row: dict[str, str]) -> TerritoryNode:
        community = self.community(row["community"])
        grids = self.session.scalars(
            select(TerritoryNode.id).where(TerritoryNode.parent_id == community.id)
        ).all()
        site = self.session.scalar(
            select(TerritoryNode).where(
                TerritoryNode.parent_id.in_(grids),
                TerritoryNode.name == row["site"],
                TerritoryNode.kind == NodeKind.site,
            )
        )
        if site is None:
            raise Invalid(
                field="site",
                fields=phrase(
                    N_("site（{community}下找不到小区/单位“{name}”）"),
                    community=community.name,
                    name=row["site"],
                ),
            )
        return site

    def upsert_node(self, parent: TerritoryNode, kind: NodeKind, values: dict[str, Any]) -> bool:
        existing = territory_service.get_by_names(
            self.session, names=[values["name"]], root_id=parent.id
        )
        if existing is None:
            territory_service.create(
                self.session,
                actor=self.actor,
                data=NodeCreate(kind=kind, parent_id=parent.id, crs=self.crs, **values),
            )
            return True
        territory_service.update_node(
            self.session, actor=self.actor, node=existing, data=NodeUpdate(crs=self.crs, **values)
        )
        return False


def _site_row(ctx: _Ctx, row: dict[str, str]) -> bool:
    community = ctx.community(row["community"])
    grid = ctx.child(community, row["grid"], "grid", "网格")
    values: dict[str, Any] = {
        "name": row["name"],
        "site_type": _choice(row["site_type"], SITE_TYPE_LABEL, "site_type"),
        "address": row.get("address") or None,
        "lon": _num(row.get("lon", ""), float, "lon"),
        "lat": _num(row.get("lat", ""), float, "lat"),
        "management": _choice(row["management"], MANAGEMENT_LABEL, "management")
        if row.get("management")
        else None,
        "management_name": row.get("management_name") or None,
        "management_contact": row.get("management_contact") or None,
    }
    return ctx.upsert_node(grid, NodeKind.site, values)


def _building_row(ctx: _Ctx, row: dict[str, str]) -> bool:
    site = ctx.site(row)
    values = {
        "name": row["name"],
        "floors": _num(row.get("floors", ""), int, "floors"),
        "units": _num(row.get("units", ""), int, "units"),
        "lon": _num(row.get("lon", ""), float, "lon"),
        "lat": _num(row.get("lat", ""), float, "lat"),
    }
    return ctx.upsert_node(site, NodeKind.building, values)


def _household_row(ctx: _Ctx, row: dict[str, str]) -> bool:
    building = ctx.child(ctx.site(row), row["building"], "building", "楼栋")
    return ctx.upsert_node(
        building, NodeKind.household, {"name": row["name"], "address": row.get("address") or None}
    )


_GENDER = {"男": "M", "女": "F", "M": "M", "F": "F", "": None}


def _resident_row(ctx: _Ctx, row: dict[str, str]) -> bool:
    building = ctx.child(ctx.site(row), row["building"], "building", "楼栋")
    household = ctx.child(building, row["household"], "household", "房号")
    if row.get("gender", "") not in _GENDER:
        raise Invalid(field="gender", fields=N_("gender（应为 男 或 女）"))
    group_id = None
    if row.get("resident_group"):
        community = ctx.community(row["community"])
        group = ctx.session.scalar(
            select(ResidentGroup).where(
                ResidentGroup.community_id == community.id,
                ResidentGroup.name == row["resident_group"],
            )
        )
        if group is None:
            group = territory_service.create_group(
                ctx.session,
                actor=ctx.actor,
                data=GroupCreate(community_id=community.id, name=row["resident_group"]),
            )
        group_id = group.id
    values: dict[str, Any] = {
        "node_id": household.id,
        "name": row["name"],
        "gender": _GENDER[row.get("gender", "")],
        "birth_date": row.get("birth_date") or None,
        "id_number": row.get("id_number") or None,
        "phone": row.get("phone") or None,
        "relation": _choice(row["relation"], RELATION_LABEL, "relation")
        if row.get("relation")
        else None,
        "residence": _choice(row["residence"], RESIDENCE_LABEL, "residence")
        if row.get("residence")
        else None,
        "resident_group_id": group_id,
    }
    values = {k: v for k, v in values.items() if v is not None}
    stmt = select(Person)
    if values.get("id_number"):
        stmt = stmt.where(Person.id_number == values["id_number"].upper())
    else:
        stmt = stmt.where(Person.node_id == household.id, Person.name == row["name"])
    existing = ctx.session.scalar(stmt)
    if existing is None:
        territory_service.create_person(
            ctx.session, actor=ctx.actor, data=PersonCreate(kind=PersonKind.resident, **values)
        )
        return True
    territory_service.update_person(
        ctx.session, actor=ctx.actor, person=existing, data=PersonUpdate(**values)
    )
    return False


HANDLERS: dict[ImportKind, Callable[[_Ctx, dict[str, str]], bool]] = {
    ImportKind.sites: _site_row,
    ImportKind.buildings: _building_row,
    ImportKind.households: _household_row,
    ImportKind.residents: _resident_row,
}


def _message(exc: Exception, lang: str) -> tuple[str | None, str]:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        ctx_error = (err.get("ctx") or {}).get("error")
        msg = str(ctx_error) if isinstance(ctx_error, ValueError) else err["msg"]
        return ".".join(str(p) for p in err["loc"]) or None, msg
    if isinstance(exc, PinganError):
        params = dict(exc.params)
        params.setdefault("fields", exc.field or "")
        return exc.field, t(exc.key, lang, **params)
    return None, str(exc)


def run(
    session: Session,
    *,
    actor: Principal,
    kind: ImportKind,
    data: bytes,
    filename: str,
    crs: CRS = CRS.wgs84,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    lang: str = DEFAULT_LANG,
) -> Report:
    """Import every row or none. Raises ImportFailed (with a row-by-row report, its messages in
    `lang`) on any error."""
    rows = read_rows(data, filename)
    header = next(rows, None)
    if header is None:
        raise Invalid("bad_file", field="file", reason=N_("文件是空的"))
    columns = _header_map(kind, header)
    report = Report(kind=kind.value, dry_run=dry_run)
    ctx = _Ctx(session, actor, crs)
    handler = HANDLERS[kind]
    outer = session.begin_nested()
    for number, raw in enumerate(rows, start=2):
        if not any(raw):
            continue
        report.rows += 1
        if report.rows > MAX_ROWS:
            raise Invalid(
                "bad_file", field="file", reason=phrase(N_("一次最多导入 {n} 行"), n=MAX_ROWS)
            )
        row = {key: (raw[i] if i < len(raw) else "") for key, i in columns.items()}
        missing = [c for c in COLUMNS[kind] if c.required and not row.get(c.key)]
        if missing:
            report.errors.append(
                RowError(
                    number,
                    missing[0].key,
                    phrase(N_("{column} 必填"), column=missing[0].header).say(lang),
                )
            )
            continue
        savepoint = session.begin_nested()
        try:
            created = handler(ctx, row)
            savepoint.commit()
        except (PinganError, ValidationError) as exc:
            savepoint.rollback()
            field_name, message = _message(exc, lang)
            report.errors.append(RowError(number, field_name, message))
            continue
        if created:
            report.created += 1
        else:
            report.updated += 1
        if progress:
            progress(report.rows)
    if report.errors:
        outer.rollback()
        raise ImportFailed(report)
    if dry_run:
        outer.rollback()
    else:
        outer.commit()
    return report
