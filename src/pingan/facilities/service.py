"""Physical defence: each site's facility register against the checklist (with the devices and
checkpoints the platform already knows as evidence), the inspections that check it on the phone,
their schedule, and the grid events a failed item opens — the item stays a defect until its event
is closed as verified. Flushes only; the caller commits."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pingan import datafile
from pingan.auth.principal import SYSTEM, Principal
from pingan.auth.roles import Perm
from pingan.db.base import SHANGHAI, utcnow
from pingan.db.paging import paginate
from pingan.devices import service as device_service
from pingan.devices.models import KIND_LABEL as DEVICE_LABEL
from pingan.errors import Conflict, Forbidden, Invalid, NotFound
from pingan.facilities.checklist import Checklist, Group, InspectionKind, Item, shipped
from pingan.facilities.models import (
    FAILED,
    STATUS_LABEL,
    ChecklistVersion,
    FacilityItem,
    FacilityPhoto,
    FacilitySite,
    Inspection,
    InspectionAnswer,
    ItemStatus,
)
from pingan.facilities.schemas import AnswerIn, InspectionIn, ItemIn
from pingan.i18n import N_, Phrase, phrase
from pingan.incidents import service as incident_service
from pingan.incidents.models import Channel, Incident, IncidentState
from pingan.incidents.schemas import ReportIn
from pingan.patrol import service as patrol_service
from pingan.photos import Photo
from pingan.territory import service as territory_service
from pingan.territory.models import (
    MANAGEMENT_LABEL,
    Management,
    NodeKind,
    SiteType,
    TerritoryNode,
    ancestor_id,
)

# Old and three-no courtyards, and the bundle the seed asks of them: a guard room, fire safety and
# access control (三防, the checklist's `three_basics`).
COURTYARDS = (SiteType.old_courtyard.value, SiteType.three_no.value)
THREE_BASICS = "three_basics"
# An inspection made on a phone with no network may arrive days later; older is no inspection.
LATE_DAYS = 30
AHEAD = timedelta(minutes=10)  # a phone's clock a little ahead is no reason to refuse


def _what(site_id: int) -> Phrase:
    return phrase(N_("小区/单位 {n}"), n=site_id)


# --- the checklist ------------------------------------------------------------------------------

_checklists = datafile.Versions(Checklist, ChecklistVersion, shipped)


def checklist(session: Session) -> Checklist:
    """The checklist in force: the street's latest edit, else the one pingan ships."""
    return _checklists.current(session)


def checklist_version(session: Session) -> int:
    return _checklists.number(session)


def save_checklist(
    session: Session, *, actor: Principal, data: Checklist, note: str | None = None
) -> ChecklistVersion:
    """A street admin's new checklist, kept as a version. Every item's grid event must be a kind
    of the event catalogue; an item with an open defect cannot be taken out."""
    if not (actor.system or any(p.count("/") == 2 for p in actor.paths(Perm.facilities_manage))):
        raise Forbidden(action=Perm.facilities_manage.value)
    try:
        data.check_incidents(incident_service.catalogue(session))
    except ValueError as exc:
        raise Invalid("checklist_incident", field="checklist", reason=str(exc)) from exc
    kept = {f"{g.code}.{i.code}" for g, i in data.items()}
    in_use = session.scalars(
        select(FacilityItem.code)
        .where(FacilityItem.defect_incident_id.is_not(None), FacilityItem.code.not_in(kept))
        .distinct()
    ).all()
    if in_use:
        raise Conflict("checklist_in_use", field="checklist", items=tuple(sorted(in_use)))
    row: ChecklistVersion = _checklists.add(
        session, data=data, note=note, actor=actor.actor, at=utcnow()
    )
    return row


# --- a site's sheet -----------------------------------------------------------------------------


def site_visible_or_raise(
    session: Session, *, actor: Principal, site_id: int, perm: Perm = Perm.facilities_read
) -> TerritoryNode:
    node = territory_service.get(session, node_id=site_id)
    if node is None or node.kind != NodeKind.site:
        raise NotFound(what=_what(site_id))
    actor.require(perm, node.path, _what(site_id))
    return node


def site_type(node: TerritoryNode) -> SiteType | None:
    return SiteType(node.site_type) if node.site_type else None


_site_type = site_type


def sheet_of(session: Session, *, site: TerritoryNode, keep: bool = True) -> FacilitySite:
    """The site's sheet, begun at the level its type is held to when it has none yet: kept when
    something is written to it, only shown (not added) when it is read."""
    found = session.get(FacilitySite, site.id)
    if found is None:
        site_type = _site_type(site)
        found = FacilitySite(
            site_id=site.id,
            path=site.path,
            community_id=ancestor_id(site.path, NodeKind.community) or site.id,
            site_type=site_type.value if site_type else None,
            level=checklist(session).default_level.get(site_type, 3) if site_type else 3,
            required=0,
            present=0,
            defects=0,
            completeness=0.0,
            bundles={},
            updated_at=utcnow(),
        )
        if keep:
            session.add(found)
            session.flush()
        recount(session, sheet=found, site=site)
    return found


def items_of(session: Session, *, site_id: int) -> dict[str, FacilityItem]:
    return {
        row.code: row
        for row in session.scalars(select(FacilityItem).where(FacilityItem.site_id == site_id))
    }


def recount(
    session: Session,
    *,
    sheet: FacilitySite,
    site: TerritoryNode,
    rows: Mapping[str, FacilityItem] | None = None,
) -> None:
    """The sheet's figures from its items: of the items its type and level require, how many are
    present (or not applicable); which are defects; whether each bundle is complete."""
    book = checklist(session)
    site_type = _site_type(site)
    rows = rows if rows is not None else items_of(session, site_id=site.id)
    required = [f"{g.code}.{i.code}" for g, i in book.items() if i.required(site_type, sheet.level)]
    fine = (ItemStatus.present, ItemStatus.na)

    def ok(code: str) -> bool:
        row = rows.get(code)
        return row is not None and row.status in fine and row.defect_incident_id is None

    sheet.site_type = site_type.value if site_type else None
    sheet.path = site.path
    sheet.required = len(required)
    sheet.present = sum(ok(code) for code in required)
    sheet.defects = sum(row.defect_incident_id is not None for row in rows.values())
    sheet.completeness = round(sheet.present / sheet.required, 4) if required else 1.0
    sheet.bundles = {b.code: all(ok(code) for code in b.codes()) for b in book.bundles}
    sheet.updated_at = utcnow()
    if sheet in session:
        session.flush()


@dataclass
class Evidence:
    kind: str  # device | checkpoint | management
    name: str
    id: int | None = None
    detail: str | None = None
    status: str | None = None


def evidence(
    session: Session, *, site: TerritoryNode, book: Checklist
) -> dict[str, list[Evidence]]:
    """What the platform already knows that speaks for each item: the site's registered devices
    of the item's kinds (where their location matches), its patrol checkpoints, its management."""
    devices = device_service.at_site(session, path=site.path)
    checkpoints: list[Any] = []
    if site.lon is not None and site.lat is not None:
        checkpoints = patrol_service.checkpoints_at(
            session, lon=site.lon, lat=site.lat, boundary=site.boundary
        )
    out: dict[str, list[Evidence]] = {}
    for group, item in book.items():
        found: list[Evidence] = []
        for device in devices:
            if device.kind not in item.evidence.kinds:
                continue
            where = device.location or device.name
            if item.evidence.where and not any(w in where for w in item.evidence.where):
                continue
            found.append(
                Evidence(
                    "device",
                    device.name,
                    device.id,
                    detail=DEVICE_LABEL[device.kind],
                    status=device.status.value,
                )
            )
        if item.evidence.checkpoints:
            found += [Evidence("checkpoint", c.name, c.id) for c in checkpoints]
        if item.evidence.management and site.management not in (None, Management.none):
            found.append(
                Evidence(
                    "management",
                    site.management_name or "",
                    detail=MANAGEMENT_LABEL.get(site.management, site.management),
                )
            )
        out[f"{group.code}.{item.code}"] = found
    return out


@dataclass
class SheetItem:
    group: Group
    item: Item
    code: str
    required: bool
    row: FacilityItem | None
    photos: list[int]
    evidence: list[Evidence] = field(default_factory=list)


def sheet_items(session: Session, *, site: TerritoryNode, sheet: FacilitySite) -> list[SheetItem]:
    """Every item the site's type answers, with its register entry, photos and evidence."""
    book = checklist(session)
    rows = items_of(session, site_id=site.id)
    photos: dict[str, list[int]] = {}
    for photo_id, code in session.execute(
        select(FacilityPhoto.id, FacilityPhoto.code)
        .where(FacilityPhoto.site_id == site.id)
        .order_by(FacilityPhoto.id.desc())
    ):
        photos.setdefault(code, []).append(photo_id)
    known = evidence(session, site=site, book=book)
    site_type = _site_type(site)
    out = []
    for group, item in book.for_site(site_type):
        code = f"{group.code}.{item.code}"
        out.append(
            SheetItem(
                group,
                item,
                code,
                item.required(site_type, sheet.level),
                rows.get(code),
                photos.get(code, [])[:6],
                known.get(code, []),
            )
        )
    return out


def _item_or_raise(book: Checklist, site: TerritoryNode, code: str, field: str) -> Item:
    item = book.item(code)
    if item is None or not item.applies(_site_type(site)):
        raise Invalid("facility_item", field=field, item=code)
    return item


def _new_row(session: Session, site: TerritoryNode, code: str) -> FacilityItem:
    """An item the site's register has no entry for yet (the callers looked in items_of)."""
    row = FacilityItem(site_id=site.id, code=code, status=ItemStatus.unknown)
    session.add(row)
    return row


def _add_photos(
    session: Session,
    site: TerritoryNode,
    code: str,
    photos: Sequence[Photo],
    answer_id: int | None = None,
    at: datetime | None = None,
) -> None:
    for photo in photos:
        session.add(
            FacilityPhoto(
                site_id=site.id,
                code=code,
                answer_id=answer_id,
                data=photo.jpeg,
                width=photo.width,
                height=photo.height,
                created_at=at or utcnow(),
            )
        )


def set_item(
    session: Session,
    *,
    actor: Principal,
    site: TerritoryNode,
    code: str,
    data: ItemIn,
    photos: Sequence[Photo] = (),
) -> FacilityItem:
    """A register entry kept by staff. An item with an open grid event stays a defect: only that
    event's verified closure brings it back."""
    return set_items(session, actor=actor, site=site, entries={code: data}, photos={code: photos})[
        0
    ]


def set_items(
    session: Session,
    *,
    actor: Principal,
    site: TerritoryNode,
    entries: Mapping[str, ItemIn],
    photos: Mapping[str, Sequence[Photo]] | None = None,
) -> list[FacilityItem]:
    """Several register entries at once (a survey of the site), each checked as set_item's."""
    actor.require(Perm.facilities_write, site.path, _what(site.id))
    sheet = sheet_of(session, site=site)
    book = checklist(session)
    rows = items_of(session, site_id=site.id)
    now = utcnow()
    out = []
    for code, data in entries.items():
        item = _item_or_raise(book, site, code, "code")
        try:
            details = item.details(data.details)
        except ValueError as exc:
            raise Invalid("bad_attribute", field="details", reason=str(exc)) from exc
        if data.status == ItemStatus.unknown:
            raise Invalid("facility_status", field="status")
        row = rows.get(code) or _new_row(session, site, code)
        if row.defect_incident_id is not None and data.status == ItemStatus.present:
            raise Conflict("facility_defect_open", field="status", incident=row.defect_incident_id)
        row.status = data.status
        row.count = data.count if item.counted else None
        row.details = details or None
        row.note = data.note
        row.checked_on = data.checked_on or now.astimezone(SHANGHAI).date()
        row.checked_by = actor.name
        row.checked_by_user_id = actor.user_id
        row.source = "register"
        row.updated_at = now
        out.append(row)
    session.flush()
    for code, kept in (photos or {}).items():
        _add_photos(session, site, code, kept, at=now)
    recount(session, sheet=sheet, site=site)
    return out


def set_level(
    session: Session, *, actor: Principal, site: TerritoryNode, level: int
) -> FacilitySite:
    actor.require(Perm.facilities_write, site.path, _what(site.id))
    sheet = sheet_of(session, site=site)
    sheet.level = level
    recount(session, sheet=sheet, site=site)
    return sheet


def record(
    session: Session,
    *,
    site: TerritoryNode,
    codes: Sequence[str],
    status: ItemStatus,
    on: date,
    by: str,
    source: str,
) -> None:
    """Items the platform itself records (a renovation's accepted works): an item with a grid
    event still open keeps it, and stays a defect until that event is closed as verified; one
    checked later than `on` keeps that later word."""
    sheet = sheet_of(session, site=site)
    rows = items_of(session, site_id=site.id)
    now = utcnow()
    for code in codes:
        row = rows.get(code) or _new_row(session, site, code)
        if row.defect_incident_id is not None and status == ItemStatus.present:
            continue
        if row.checked_on is not None and row.checked_on > on:
            continue
        row.status = status
        row.checked_on = on
        row.checked_by = by
        row.checked_by_user_id = None
        row.source = source
        row.updated_at = now
        rows[code] = row
    session.flush()
    recount(session, sheet=sheet, site=site, rows=rows)


def photo_or_raise(session: Session, *, site: TerritoryNode, photo_id: int) -> FacilityPhoto:
    photo = session.get(FacilityPhoto, photo_id)
    if photo is None or photo.site_id != site.id:
        raise NotFound(what=phrase(N_("照片 {n}"), n=photo_id))
    return photo


# --- inspections --------------------------------------------------------------------------------


def kind_or_raise(book: Checklist, code: str) -> InspectionKind:
    found = book.inspection(code)
    if found is None:
        raise Invalid(
            "inspection_kind", field="kind", kinds=", ".join(k.code for k in book.inspections)
        )
    return found


def _check_answers(
    book: Checklist, site: TerritoryNode, kind: InspectionKind, answers: Sequence[AnswerIn]
) -> dict[str, tuple[Item, AnswerIn, dict[str, Any]]]:
    """Every answer is of an item of the site's checklist for this kind, each item answered
    once; Invalid names the first that is not."""
    wanted = {f"{g.code}.{i.code}": i for g, i in book.for_site(_site_type(site), kind)}
    out: dict[str, tuple[Item, AnswerIn, dict[str, Any]]] = {}
    for n, answer in enumerate(answers):
        where = f"answers.{n}"
        if answer.code not in wanted:
            raise Invalid("inspection_item", field=f"{where}.code", item=answer.code)
        if answer.code in out:
            raise Invalid("inspection_twice", field=f"{where}.code", item=answer.code)
        if answer.status == ItemStatus.unknown:
            raise Invalid("facility_status", field=f"{where}.status")
        try:
            details = wanted[answer.code].details(answer.details)
        except ValueError as exc:
            raise Invalid("bad_attribute", field=f"{where}.details", reason=str(exc)) from exc
        out[answer.code] = (wanted[answer.code], answer, details)
    missing = [code for code in wanted if code not in out]
    if missing:
        raise Invalid("inspection_unanswered", field="answers", item=missing[0])
    return out


def previous(session: Session, *, site_id: int, kind: str, before: datetime) -> Inspection | None:
    return session.scalar(
        select(Inspection)
        .where(Inspection.site_id == site_id, Inspection.kind == kind, Inspection.at < before)
        .order_by(Inspection.at.desc(), Inspection.id.desc())
        .limit(1)
    )


def _open_case(
    session: Session,
    *,
    actor: Principal,
    site: TerritoryNode,
    item: Item,
    answer: AnswerIn,
    photos: Sequence[Photo],
    at: datetime,
) -> Incident:
    """The grid event of a failed item, at the site, reported by the inspector."""
    words = f"{site.name} · {item.name}：{STATUS_LABEL[answer.status]}"
    if answer.note:
        words += f"。{answer.note.strip()}"
    if site.lon is None or site.lat is None:
        raise Invalid("facility_site_position", field="site_id", site=site.name)
    data = ReportIn(
        kind=item.incident,
        description=f"{words}（{item.requirement}）",
        lon=site.lon,
        lat=site.lat,
        address=site.address or site.name,
    )
    return incident_service.report(
        session, actor=actor, data=data, channel=Channel.inspection, photos=photos, at=at
    )


def inspect(
    session: Session,
    *,
    actor: Principal,
    data: InspectionIn,
    photos: Sequence[Photo] = (),
    received: datetime | None = None,
) -> tuple[Inspection, bool]:
    """An inspection as the phone sends it: every item of the site's checklist for its kind
    answered; each failed item opens a grid event (one per item: one still open is linked, not
    doubled) and becomes a defect; the register takes what was found. Sending it again (the
    phone lost the answer) returns the first: (inspection, False). `received`: when it reached
    the platform (now; the demo's past gives its own)."""
    site = site_visible_or_raise(
        session, actor=actor, site_id=data.site_id, perm=Perm.facilities_inspect
    )
    known = session.scalar(select(Inspection).where(Inspection.client_key == data.client_key))
    if known is not None:
        if known.site_id != site.id or known.inspector_user_id != actor.user_id:
            raise Conflict("inspection_key", field="client_key")
        return known, False
    now = received or utcnow()
    at = data.at
    if at.tzinfo is None:
        raise Invalid("inspection_time", field="at")
    if at > now + AHEAD or at < now - timedelta(days=LATE_DAYS):
        raise Invalid("inspection_time", field="at")
    book = checklist(session)
    kind = kind_or_raise(book, data.kind)
    answers = _check_answers(book, site, kind, data.answers)
    for code, (_item, answer, _details) in answers.items():
        if any(i < 0 or i >= len(photos) for i in answer.photos):
            raise Invalid("inspection_photo", field="photos", item=code)
    sheet = sheet_of(session, site=site)
    before = previous(session, site_id=site.id, kind=kind.code, before=at)
    statuses = [a.status for _i, a, _d in answers.values()]
    inspection = Inspection(
        client_key=data.client_key,
        site_id=site.id,
        path=site.path,
        community_id=sheet.community_id,
        kind=kind.code,
        checklist_version=checklist_version(session),
        inspector=actor.name,
        inspector_user_id=actor.user_id,
        at=at,
        received_at=now,
        lon=data.lon,
        lat=data.lat,
        previous_id=before.id if before else None,
        passed=sum(s == ItemStatus.present for s in statuses),
        failed=sum(s in FAILED for s in statuses),
        not_applicable=sum(s == ItemStatus.na for s in statuses),
        note=data.note,
    )
    try:
        with session.begin_nested():  # the same inspection sent twice at once: one is kept
            session.add(inspection)
            session.flush()
    except IntegrityError:
        known = session.scalar(select(Inspection).where(Inspection.client_key == data.client_key))
        if known is None or known.site_id != site.id:
            raise Conflict("inspection_key", field="client_key") from None
        return known, False
    rows = items_of(session, site_id=site.id)
    stored = {
        code: InspectionAnswer(
            inspection_id=inspection.id,
            code=code,
            status=answer.status,
            count=answer.count if item.counted else None,
            details=details or None,
            note=answer.note,
        )
        for code, (item, answer, details) in answers.items()
    }
    session.add_all(stored.values())
    session.flush()
    for code, (item, answer, _details) in answers.items():
        mine = [photos[i] for i in answer.photos]
        _add_photos(session, site, code, mine, answer_id=stored[code].id, at=at)
        row = rows.get(code) or _new_row(session, site, code)
        if answer.status in FAILED:
            if row.defect_incident_id is None:
                case = _open_case(
                    session, actor=actor, site=site, item=item, answer=answer, photos=mine, at=at
                )
                row.defect_incident_id = case.id
            stored[code].incident_id = row.defect_incident_id
            row.status = answer.status  # a defect is what was found, whatever was said since
        # A later register entry (or inspection) than this one keeps its word; an item whose
        # grid event is open stays as it was found until that event is closed as verified.
        settled = row.defect_incident_id is None or answer.status in FAILED
        if settled and (row.checked_on is None or row.checked_on <= at.astimezone(SHANGHAI).date()):
            row.status = answer.status
            # What the answer does not say (a count, a wall's height) the register keeps.
            if stored[code].count is not None:
                row.count = stored[code].count
            row.details = {**(row.details or {}), **(stored[code].details or {})} or None
            row.note = answer.note
            row.checked_on = at.astimezone(SHANGHAI).date()
            row.checked_by = actor.name
            row.checked_by_user_id = actor.user_id
            row.source = "inspection"
            row.inspection_id = inspection.id
            row.updated_at = now
        rows[code] = row
    session.flush()
    recount(session, sheet=sheet, site=site, rows=rows)
    return inspection, True


def inspection_visible_or_raise(
    session: Session, *, actor: Principal, inspection_id: int
) -> Inspection:
    found = session.get(Inspection, inspection_id)
    if found is None or not actor.can(Perm.facilities_read, found.path):
        raise NotFound(what=phrase(N_("检查 {n}"), n=inspection_id))
    return found


def answers_of(session: Session, *, inspection: Inspection) -> list[InspectionAnswer]:
    return list(
        session.scalars(
            select(InspectionAnswer)
            .where(InspectionAnswer.inspection_id == inspection.id)
            .order_by(InspectionAnswer.id)
        )
    )


def answer_photos(session: Session, *, answer_ids: Iterable[int]) -> dict[int, list[int]]:
    ids = list(answer_ids)
    out: dict[int, list[int]] = {}
    if not ids:
        return out
    for photo_id, answer_id in session.execute(
        select(FacilityPhoto.id, FacilityPhoto.answer_id)
        .where(FacilityPhoto.answer_id.in_(ids))
        .order_by(FacilityPhoto.id)
    ):
        if answer_id is not None:
            out.setdefault(int(answer_id), []).append(int(photo_id))
    return out


@dataclass(frozen=True)
class Change:
    code: str
    before: ItemStatus | None
    after: ItemStatus


def changes(session: Session, *, inspection: Inspection) -> list[Change]:
    """What a re-inspection found different from the inspection of the same kind before it."""
    now = {a.code: a.status for a in answers_of(session, inspection=inspection)}
    earlier = session.get(Inspection, inspection.previous_id) if inspection.previous_id else None
    then = {a.code: a.status for a in answers_of(session, inspection=earlier)} if earlier else {}
    return [
        Change(code, then.get(code), status)
        for code, status in now.items()
        if then.get(code) != status
    ]


def inspections(
    session: Session,
    *,
    actor: Principal,
    site_id: int | None = None,
    within: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Inspection], int]:
    stmt = select(Inspection).where(actor.filter(Inspection.path, Perm.facilities_read))
    if site_id is not None:
        stmt = stmt.where(Inspection.site_id == site_id)
    if within:
        stmt = stmt.where(Inspection.path.startswith(within, autoescape=True))
    return paginate(
        session,
        stmt,
        order_by=(Inspection.at.desc(), Inspection.id.desc()),
        limit=limit,
        offset=offset,
    )


# --- the schedule -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    site: TerritoryNode
    kind: InspectionKind
    last_at: datetime | None
    due_on: date
    overdue: bool


def add_months(day: date, months: int) -> date:
    """The same day some months on (the month's last day where it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def _due(
    book: Checklist,
    site: TerritoryNode,
    last: Mapping[tuple[int, str], datetime],
    today: date,
) -> Iterable[Due]:
    site_type = _site_type(site)
    for kind in book.inspections:
        if not book.for_site(site_type, kind):
            continue
        at = last.get((site.id, kind.code))
        if at is None:  # never inspected: due from today
            yield Due(site, kind, None, today, True)
            continue
        due_on = add_months(at.astimezone(SHANGHAI).date(), kind.months(site_type))
        yield Due(site, kind, at, due_on, due_on < today)


def _today() -> date:
    return utcnow().astimezone(SHANGHAI).date()


def due_for(session: Session, *, site: TerritoryNode) -> list[Due]:
    """A site's next inspection of each kind (the caller has let the reader see the site)."""
    last = {
        (site.id, kind): at
        for kind, at in session.execute(
            select(Inspection.kind, func.max(Inspection.at))
            .where(Inspection.site_id == site.id)
            .group_by(Inspection.kind)
        )
    }
    return list(_due(checklist(session), site, last, _today()))


def schedule(
    session: Session,
    *,
    actor: Principal,
    within: str | None = None,
    today: date | None = None,
    overdue_only: bool = False,
) -> list[Due]:
    """Each site's next inspection of each kind: the last one's date plus the interval its type
    has (monthly for old and three-no courtyards, quarterly otherwise, in the shipped file); a
    site never inspected is due from today."""
    book = checklist(session)
    today = today or _today()
    sites = territory_service.get_all_of_kinds(
        session, actor=actor, kinds=[NodeKind.site], perm=Perm.facilities_read, limit=100_000
    )
    stmt = select(Inspection.site_id, Inspection.kind, func.max(Inspection.at)).where(
        actor.filter(Inspection.path, Perm.facilities_read)
    )
    if within:
        stmt = stmt.where(Inspection.path.startswith(within, autoescape=True))
    last = {
        (site_id, kind): at
        for site_id, kind, at in session.execute(stmt.group_by(Inspection.site_id, Inspection.kind))
    }
    out = [
        due
        for site in sites
        if not within or site.path.startswith(within)
        for due in _due(book, site, last, today)
        if due.overdue or not overdue_only
    ]
    out.sort(key=lambda d: (d.due_on, d.site.path, d.kind.code))
    return out


def community_of(site: TerritoryNode) -> int:
    return ancestor_id(site.path, NodeKind.community) or site.id


# --- grid events of defects ---------------------------------------------------------------------


def incident_moved(session: Session, *, incident: Incident, at: datetime) -> None:
    """A grid event opened for a defect moved: closed (it was verified before it could close),
    the item is present again; not accepted, the item is no longer a defect (it keeps what was
    found); merged, the defect follows the case it was merged into; reopened after closure (the
    fix did not hold), it is a defect again."""
    rows = list(
        session.scalars(select(FacilityItem).where(FacilityItem.defect_incident_id == incident.id))
    )
    if incident.is_open and incident.reopened and not rows:
        found = _reopened(session, incident=incident)
        for row, status in found:
            row.defect_incident_id = incident.id
            row.status = status
            row.updated_at = at
        rows = [row for row, _status in found]
    elif incident.state == IncidentState.closed and incident.verified_at is not None:
        for row in rows:
            row.status = ItemStatus.present
            row.defect_incident_id = None
            row.checked_on = at.astimezone(SHANGHAI).date()
            row.checked_by = incident.assignee or row.checked_by
            row.checked_by_user_id = None
            row.source = "incident"
            row.updated_at = at
    elif incident.state == IncidentState.rejected:
        for row in rows:
            row.defect_incident_id = None
            row.updated_at = at
    elif incident.state == IncidentState.merged and incident.merged_into_id is not None:
        for row in rows:
            row.defect_incident_id = incident.merged_into_id
            row.updated_at = at
    else:
        return
    for site_id in {row.site_id for row in rows}:
        site = territory_service.get(session, node_id=site_id)
        sheet = session.get(FacilitySite, site_id)
        if site is not None and sheet is not None:
            recount(session, sheet=sheet, site=site)


def _reopened(session: Session, *, incident: Incident) -> list[tuple[FacilityItem, ItemStatus]]:
    """The items whose defect a reopened event had closed, with what the inspection found."""
    found = session.execute(
        select(InspectionAnswer.code, Inspection.site_id, InspectionAnswer.status)
        .join(Inspection, Inspection.id == InspectionAnswer.inspection_id)
        .where(InspectionAnswer.incident_id == incident.id)
        .order_by(Inspection.at)
    ).all()
    first = {(code, site_id): status for code, site_id, status in reversed(found)}
    out = []
    for (code, site_id), status in first.items():
        row = items_of(session, site_id=site_id).get(code)
        if row is not None and row.defect_incident_id is None:
            out.append((row, ItemStatus(status)))
    return out


def source_of(session: Session, *, incident_id: int) -> tuple[Inspection, str] | None:
    """The inspection (and item) a grid event was opened by, for the event's page."""
    found = session.execute(
        select(Inspection, InspectionAnswer.code)
        .join(InspectionAnswer, InspectionAnswer.inspection_id == Inspection.id)
        .where(InspectionAnswer.incident_id == incident_id)
        .order_by(Inspection.at)
        .limit(1)
    ).first()
    return (found[0], found[1]) if found else None


# --- what a site's sheet reads at once ----------------------------------------------------------


def sheets(
    session: Session, *, actor: Principal, within: str | None = None
) -> list[tuple[TerritoryNode, FacilitySite]]:
    """Every site in scope with its sheet (begun where there is none yet): the map layer, the
    community's list."""
    sites = territory_service.get_all_of_kinds(
        session, actor=actor, kinds=[NodeKind.site], perm=Perm.facilities_read, limit=100_000
    )
    if within:
        sites = [s for s in sites if s.path.startswith(within)]
    found: Mapping[int, FacilitySite] = {
        s.site_id: s
        for s in session.scalars(
            select(FacilitySite).where(actor.filter(FacilitySite.path, Perm.facilities_read))
        )
    }
    return [
        (site, found.get(site.id) or sheet_of(session, site=site, keep=False)) for site in sites
    ]


def defects(
    session: Session, *, actor: Principal, within: str | None = None
) -> list[tuple[FacilityItem, FacilitySite]]:
    """Items with an open grid event, in scope, oldest first (the community's desk)."""
    stmt = (
        select(FacilityItem, FacilitySite)
        .join(FacilitySite, FacilitySite.site_id == FacilityItem.site_id)
        .where(
            FacilityItem.defect_incident_id.is_not(None),
            actor.filter(FacilitySite.path, Perm.facilities_read),
        )
    )
    if within:
        stmt = stmt.where(FacilitySite.path.startswith(within, autoescape=True))
    return [(i, s) for i, s in session.execute(stmt.order_by(FacilityItem.updated_at))]


# --- figures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Presence:
    site_type: str | None
    code: str
    applicable: int  # sites of the type the item applies to, less those where it does not
    present: int  # of those, present and not a defect


def presence(session: Session, *, actor: Principal) -> list[Presence]:
    """For each site type and item: how many sites have it present (assessment's figures)."""
    book = checklist(session)
    sites = territory_service.get_all_of_kinds(
        session, actor=actor, kinds=[NodeKind.site], perm=Perm.facilities_read, limit=100_000
    )
    found: dict[tuple[int, str], FacilityItem] = {
        (row.site_id, row.code): row
        for row in session.scalars(
            select(FacilityItem)
            .join(FacilitySite, FacilitySite.site_id == FacilityItem.site_id)
            .where(actor.filter(FacilitySite.path, Perm.facilities_read))
        )
    }
    tally: dict[tuple[str | None, str], list[int]] = {}
    for site in sites:
        for group, item in book.for_site(_site_type(site)):
            code = f"{group.code}.{item.code}"
            row = found.get((site.id, code))
            if row is not None and row.status == ItemStatus.na:
                continue
            counts = tally.setdefault((site.site_type, code), [0, 0])
            counts[0] += 1
            ok = row is not None and row.status == ItemStatus.present
            counts[1] += ok and row is not None and row.defect_incident_id is None
    order = {f"{g.code}.{i.code}": n for n, (g, i) in enumerate(book.items())}
    types = {t.value: n for n, t in enumerate(SiteType)}
    return [
        Presence(site_type, code, applicable, present)
        for (site_type, code), (applicable, present) in sorted(
            tally.items(), key=lambda kv: (types.get(kv[0][0] or "", 99), order[kv[0][1]])
        )
    ]


def inspections_in(
    session: Session, *, actor: Principal, since: datetime, until: datetime
) -> list[tuple[int, str, int]]:
    """(community, kind, failed items) of each inspection made in a period."""
    return [
        (int(c), str(k), int(f))
        for c, k, f in session.execute(
            select(Inspection.community_id, Inspection.kind, Inspection.failed).where(
                actor.filter(Inspection.path, Perm.facilities_read),
                Inspection.at >= since,
                Inspection.at < until,
            )
        )
    ]


# --- what the street's targets count ------------------------------------------------------------

# The checklist's item for a site's management, and its bodies that are residents' own.
MANAGEMENT_ITEM = "management.organisation"
COMMITTEES = frozenset({"owners_committee", "self_management"})


def courtyards_with_three_basics(session: Session, *, within: str) -> int:
    """Old and three-no courtyards whose guard room, fire safety and access control are all
    present (none a defect)."""
    return sum(
        bool(bundles and bundles.get(THREE_BASICS))
        for bundles in session.scalars(
            select(FacilitySite.bundles).where(
                FacilitySite.path.startswith(within, autoescape=True),
                FacilitySite.site_type.in_(COURTYARDS),
            )
        )
    )


def compounds_with_committee(session: Session, *, within: str) -> tuple[int, int]:
    """Commercial-residential compounds, and those of them whose register has an owners'
    committee or a self-management committee present."""
    compounds = {
        s.id
        for s in territory_service.get_all_of_kinds(
            session, actor=SYSTEM, kinds=[NodeKind.site], limit=100_000
        )
        if s.site_type == SiteType.commercial_residential.value and s.path.startswith(within)
    }
    with_one = {
        site_id
        for site_id, details in session.execute(
            select(FacilityItem.site_id, FacilityItem.details).where(
                FacilityItem.code == MANAGEMENT_ITEM,
                FacilityItem.status == ItemStatus.present,
                FacilityItem.defect_incident_id.is_(None),
            )
        )
        if site_id in compounds and COMMITTEES & set((details or {}).get("bodies") or ())
    }
    return len(compounds), len(with_one)
